//! `bf16 x bf16` with baseline NEON.
//!
//! The operands are widened to f32 by a 16-bit left shift (`shll`, exactly the spec's
//! `bf16_to_f32`), multiplied in f32 (rounded as in the spec: bf16 products can overflow or
//! underflow f32), widened to f64 and summed there, then rounded to f32 once, as
//! [`BF16::vec_dot`](crate::formats::bf16::BF16). Only the f64 summation order differs; see the
//! `f32` kernel for the bound.

use core::arch::aarch64::*;

use half::bf16;

use super::f32::{add_widened, finish};
use super::util::{arr, ld_u16};
use crate::formats::bf16::bf16_to_f32;

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[bf16], a: &[bf16]) -> f32 {
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
        let x0 = vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(x)));
        let y0 = vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(y)));
        let x1 = vreinterpretq_f32_u32(vshll_high_n_u16::<16>(x));
        let y1 = vreinterpretq_f32_u32(vshll_high_n_u16::<16>(y));
        acc0 = add_widened(acc0, vmulq_f32(x0, y0));
        acc1 = add_widened(acc1, vmulq_f32(x1, y1));
    }
    let mut tail = 0f64;
    for (&x, &y) in wr.iter().zip(ar) {
        tail += f64::from(bf16_to_f32(bf16::from_bits(x)) * bf16_to_f32(bf16::from_bits(y)));
    }
    finish(acc0, acc1, tail)
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn vec_dot(w: &[bf16], a: &[bf16]) -> f32 {
    assert_eq!(w.len(), a.len(), "BF16::vec_dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU (NEON, or NEON + dotprod).
    unsafe { dot(w, a) }
}
