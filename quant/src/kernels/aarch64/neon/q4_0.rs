//! `q4_0 x q8_0` with baseline NEON.
//!
//! Per block the integer sum `Σ (q - 8) * a` is formed exactly (`vmull_s8` products widened to
//! i32 by `vpadalq_s16`), then the spec's float expression `sumf += sumi * d_w * d_a` is evaluated
//! in the spec's order: the result is bit-identical to [`Q4_0::vec_dot`](crate::formats::q4_0::Q4_0).

use core::arch::aarch64::*;

use super::util::{arr, dot_i8, fp16, ld_i8, ld_u8, nibbles};
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q8_0::BlockQ8_0;

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    let eight = vdupq_n_s8(8);
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (lo, hi) = nibbles(ld_u8(&x.qs));
        let lo = vsubq_s8(vreinterpretq_s8_u8(lo), eight);
        let hi = vsubq_s8(vreinterpretq_s8_u8(hi), eight);
        let acc = dot_i8(vdupq_n_s32(0), lo, ld_i8(arr(&y.qs, 0)));
        let acc = dot_i8(acc, hi, ld_i8(arr(&y.qs, 16)));
        let sumi = vaddvq_s32(acc);
        sumf += sumi as f32 * fp16(x.d) * fp16(y.d);
    }
    sumf
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_0::vec_dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
