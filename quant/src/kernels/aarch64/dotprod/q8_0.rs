//! `q8_0 x q8_0` with NEON + dotprod.
//!
//! Per block the integer sum `Σ w * a` is formed exactly with `sdot` (i8 x i8 products summed in
//! i32 lanes, `-128 * -128` included), then the spec's `sumf += sumi * (d_w*d_a)` in the spec's
//! order: bit-identical to [`Q8_0::vec_dot`](crate::formats::q8_0::Q8_0).

use core::arch::aarch64::*;

use super::sdot;
use crate::formats::q8_0::BlockQ8_0;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let acc = sdot(vdupq_n_s32(0), ld_i8(arr(&x.qs, 0)), ld_i8(arr(&y.qs, 0)));
        let acc = sdot(acc, ld_i8(arr(&x.qs, 16)), ld_i8(arr(&y.qs, 16)));
        let sumi = vaddvq_s32(acc);
        sumf += sumi as f32 * (fp16(x.d) * fp16(y.d));
    }
    sumf
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0::vec_dot: operand lengths");
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
