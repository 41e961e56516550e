//! `q5_0 x q8_0` with baseline NEON: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::gemm`]: weights `code - 16`, the 4-product lane sums by widening multiplies and pairwise adds, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q5_0::vec_dot`](crate::formats::q5_0::Q5_0). A row whose activations hold a -128 (where the x86 sign trick differs from the exact product) goes to the spec.

use core::arch::aarch64::*;

use super::legacy;
use super::util::{arr, fp16, ld_i8, ld_u8, nibbles, q5_high_bits};
use crate::Format;
use crate::formats::q5_0::{BlockQ5_0, Q5_0};
use crate::formats::q8_0::BlockQ8_0;

/// The format's pieces of [`legacy`]'s block loop, with the tier's `sum4` (the dotprod tier
/// passes `sdot`).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ops_with(
    sum4: impl Fn(int8x16_t, int8x16_t) -> int32x4_t,
) -> impl legacy::Legacy<X = BlockQ5_0, Y = BlockQ8_0> {
    legacy::Ops {
        expand: |x: &BlockQ5_0| {
            let (lo, hi) = nibbles(ld_u8(&x.qs));
            let (hb_lo, hb_hi) = q5_high_bits(x.qh);
            let sixteen = vdupq_n_s8(16);
            (
                vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, hb_lo)), sixteen),
                vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, hb_hi)), sixteen),
            )
        },
        load: |y: &BlockQ8_0| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        sum4,
        scale: |x: &BlockQ5_0, y: &BlockQ8_0| (fp16(x.d) * fp16(y.d), 0.0, 0.0),
        min: false,
        sign_trick: true,
        spec: Q5_0::vec_dot,
    }
}

/// The format's pieces with baseline NEON's `sum4`.
#[target_feature(enable = "neon")]
#[inline]
fn ops() -> impl legacy::Legacy<X = BlockQ5_0, Y = BlockQ8_0> {
    ops_with(|a: int8x16_t, b: int8x16_t| legacy::sum4(a, b))
}

legacy::entry_points!(BlockQ5_0, BlockQ8_0, "Q5_0", "neon");
