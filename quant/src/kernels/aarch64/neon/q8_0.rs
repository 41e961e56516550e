//! `q8_0 x q8_0` with baseline NEON.
//!
//! Per block the integer sum `Σ w * a` is formed exactly (i8 x i8 products, `-128 * -128`
//! included, widened before any two are added), then the spec's `sumf += sumi * (d_w*d_a)` in the
//! spec's order: bit-identical to [`Q8_0::vec_dot`](crate::formats::q8_0::Q8_0).

use core::arch::aarch64::*;

use super::util::{arr, dot_i8, fp16, ld_i8};
use crate::formats::q8_0::BlockQ8_0;

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let acc = dot_i8(vdupq_n_s32(0), ld_i8(arr(&x.qs, 0)), ld_i8(arr(&y.qs, 0)));
        let acc = dot_i8(acc, ld_i8(arr(&x.qs, 16)), ld_i8(arr(&y.qs, 16)));
        let sumi = vaddvq_s32(acc);
        sumf += sumi as f32 * (fp16(x.d) * fp16(y.d));
    }
    sumf
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0::vec_dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
