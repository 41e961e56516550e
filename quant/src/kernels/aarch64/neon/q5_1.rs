//! `q5_1 x q8_1` with baseline NEON: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::gemm`]: weights the 5-bit codes (0..=31), plus `summs`, the 4-product lane sums by widening multiplies and pairwise adds, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q5_1::vec_dot`](crate::formats::q5_1::Q5_1).

use core::arch::aarch64::*;

use super::legacy;
use super::util::{arr, fp16, ld_i8, ld_u8, nibbles, q5_high_bits};
use crate::Format;
use crate::formats::q5_1::{BlockQ5_1, Q5_1};
use crate::formats::q8_1::BlockQ8_1;

/// The format's pieces of [`legacy`]'s block loop, with the tier's `sum4` (the dotprod tier
/// passes `sdot`).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ops_with(
    sum4: impl Fn(int8x16_t, int8x16_t) -> int32x4_t,
) -> impl legacy::Legacy<X = BlockQ5_1, Y = BlockQ8_1> {
    legacy::Ops {
        expand: |x: &BlockQ5_1| {
            let (lo, hi) = nibbles(ld_u8(&x.qs));
            let (hb_lo, hb_hi) = q5_high_bits(x.qh);
            (vreinterpretq_s8_u8(vorrq_u8(lo, hb_lo)), vreinterpretq_s8_u8(vorrq_u8(hi, hb_hi)))
        },
        load: |y: &BlockQ8_1| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        sum4,
        scale: |x: &BlockQ5_1, y: &BlockQ8_1| (fp16(x.d) * fp16(y.d), fp16(x.m), fp16(y.s)),
        min: true,
        sign_trick: false,
        spec: Q5_1::vec_dot,
    }
}

/// The format's pieces with baseline NEON's `sum4`.
#[target_feature(enable = "neon")]
#[inline]
fn ops() -> impl legacy::Legacy<X = BlockQ5_1, Y = BlockQ8_1> {
    ops_with(|a: int8x16_t, b: int8x16_t| legacy::sum4(a, b))
}

legacy::entry_points!(BlockQ5_1, BlockQ8_1, "Q5_1", "neon");
