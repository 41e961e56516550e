//! `f16 x f16` with baseline NEON (no FP16 arithmetic: that extension is not baseline).
//!
//! The operands are widened to f32 with `fcvtl`/`fcvtl2` (exact, as the spec's `f16_to_f32`),
//! multiplied in f32 (the product of two f16 values is exact in f32), widened to f64 and summed
//! there, then rounded to f32 once, as [`F16::vec_dot`](crate::formats::f16::F16). Only the f64
//! summation order differs; see the `f32` kernel for the bound. NaN and infinities propagate as in
//! the spec.

use core::arch::aarch64::*;

use half::f16;

use super::f32::{add_widened, finish};
use super::util::{arr, f16x4_to_f32, f16x8_high_to_f32, ld_u16};
use crate::formats::f16::f16_to_f32;

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[f16], a: &[f16]) -> f32 {
    let w: &[u16] = bytemuck::cast_slice(w);
    let a: &[u16] = bytemuck::cast_slice(a);
    let zero = vdupq_n_f64(0.0);
    let mut acc0 = [zero; 2];
    let mut acc1 = [zero; 2];
    let wc = w.chunks_exact(8);
    let ac = a.chunks_exact(8);
    let (wr, ar) = (wc.remainder(), ac.remainder());
    for (x, y) in wc.zip(ac) {
        let x = ld_u16(arr(x, 0));
        let y = ld_u16(arr(y, 0));
        let p0 = vmulq_f32(f16x4_to_f32(vget_low_u16(x)), f16x4_to_f32(vget_low_u16(y)));
        let p1 = vmulq_f32(f16x8_high_to_f32(x), f16x8_high_to_f32(y));
        acc0 = add_widened(acc0, p0);
        acc1 = add_widened(acc1, p1);
    }
    let mut tail = 0f64;
    for (&x, &y) in wr.iter().zip(ar) {
        tail += f64::from(f16_to_f32(f16::from_bits(x)) * f16_to_f32(f16::from_bits(y)));
    }
    finish(acc0, acc1, tail)
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn vec_dot(w: &[f16], a: &[f16]) -> f32 {
    assert_eq!(w.len(), a.len(), "F16::vec_dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU (NEON, or NEON + dotprod).
    unsafe { dot(w, a) }
}
