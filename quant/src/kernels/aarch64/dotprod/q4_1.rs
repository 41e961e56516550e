//! `q4_1 x q8_1` with NEON + dotprod: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::dot`]: weights the nibbles (0..=15), plus `summs`, the 4-product lane sums by `sdot`, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q4_1::vec_dot`](crate::formats::q4_1::Q4_1).

use core::arch::aarch64::*;

use super::sdot;
use crate::Format;
use crate::formats::q4_1::{BlockQ4_1, Q4_1};
use crate::formats::q8_1::BlockQ8_1;
use crate::kernels::aarch64::neon::legacy;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8, nibbles};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    legacy::dot(
        w,
        a,
        |x: &BlockQ4_1| {
            let (lo, hi) = nibbles(ld_u8(&x.qs));
            (vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi))
        },
        |y: &BlockQ8_1| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        |a, b| sdot(vdupq_n_s32(0), a, b),
        |x, y| (fp16(x.d) * fp16(y.d), fp16(x.m), fp16(y.s)),
        true,
        false,
    )
    .unwrap_or_else(|| Q4_1::vec_dot(w, a))
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_1::vec_dot: operand lengths");
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
