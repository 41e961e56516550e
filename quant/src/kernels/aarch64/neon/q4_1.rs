//! `q4_1 x q8_1` with baseline NEON: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::gemm`]: weights the nibbles (0..=15), plus `summs`, the 4-product lane sums by widening multiplies and pairwise adds, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q4_1::vec_dot`](crate::formats::q4_1::Q4_1).

use core::arch::aarch64::*;

use super::legacy;
use super::util::{arr, fp16, ld_i8, ld_u8, nibbles};
use crate::Format;
use crate::formats::q4_1::{BlockQ4_1, Q4_1};
use crate::formats::q8_1::BlockQ8_1;

/// The format's pieces of [`legacy`]'s block loop, with the tier's `sum4` (the dotprod tier
/// passes `sdot`).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ops_with(
    sum4: impl Fn(int8x16_t, int8x16_t) -> int32x4_t,
) -> impl legacy::Legacy<X = BlockQ4_1, Y = BlockQ8_1> {
    legacy::Ops {
        expand: |x: &BlockQ4_1| {
            let (lo, hi) = nibbles(ld_u8(&x.qs));
            (vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi))
        },
        load: |y: &BlockQ8_1| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        sum4,
        scale: |x: &BlockQ4_1, y: &BlockQ8_1| (fp16(x.d) * fp16(y.d), fp16(x.m), fp16(y.s)),
        min: true,
        sign_trick: false,
        spec: Q4_1::vec_dot,
    }
}

/// The format's pieces with baseline NEON's `sum4`.
#[target_feature(enable = "neon")]
#[inline]
fn ops() -> impl legacy::Legacy<X = BlockQ4_1, Y = BlockQ8_1> {
    ops_with(|a: int8x16_t, b: int8x16_t| legacy::sum4(a, b))
}

legacy::entry_points!(BlockQ4_1, BlockQ8_1, "Q4_1", "neon");
