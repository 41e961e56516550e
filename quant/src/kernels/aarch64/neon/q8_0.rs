//! `q8_0 x q8_0` with baseline NEON: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::gemm`]: weights any `i8`, the 4-product lane sums by widening multiplies and pairwise adds, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q8_0::vec_dot`](crate::formats::q8_0::Q8_0). A row whose activations hold a -128 (where the x86 sign trick differs from the exact product) goes to the spec.

use core::arch::aarch64::{int8x16_t, int32x4_t};

use super::legacy;
use super::util::{arr, fp16, ld_i8};
use crate::Format;
use crate::formats::q8_0::{BlockQ8_0, Q8_0};

/// The format's pieces of [`legacy`]'s block loop, with the tier's `sum4` (the dotprod tier
/// passes `sdot`).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ops_with(
    sum4: impl Fn(int8x16_t, int8x16_t) -> int32x4_t,
) -> impl legacy::Legacy<X = BlockQ8_0, Y = BlockQ8_0> {
    legacy::Ops {
        expand: |x: &BlockQ8_0| (ld_i8(arr(&x.qs, 0)), ld_i8(arr(&x.qs, 16))),
        load: |y: &BlockQ8_0| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        sum4,
        scale: |x: &BlockQ8_0, y: &BlockQ8_0| (fp16(x.d) * fp16(y.d), 0.0, 0.0),
        min: false,
        sign_trick: true,
        spec: Q8_0::vec_dot,
    }
}

/// The format's pieces with baseline NEON's `sum4`.
#[target_feature(enable = "neon")]
#[inline]
fn ops() -> impl legacy::Legacy<X = BlockQ8_0, Y = BlockQ8_0> {
    ops_with(|a: int8x16_t, b: int8x16_t| legacy::sum4(a, b))
}

legacy::entry_points!(BlockQ8_0, BlockQ8_0, "Q8_0", "neon");
