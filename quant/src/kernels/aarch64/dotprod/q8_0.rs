//! `q8_0 x q8_0` with NEON + dotprod: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::gemm`]: weights any `i8`, the 4-product lane sums by `sdot`, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q8_0::vec_dot`](crate::formats::q8_0::Q8_0). A row whose activations hold a -128 (where the x86 sign trick differs from the exact product) goes to the spec.

use core::arch::aarch64::*;

use super::sdot;
use crate::Format;
use crate::formats::q8_0::{BlockQ8_0, Q8_0};
use crate::kernels::aarch64::neon::legacy;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8};

/// The format's pieces of [`legacy`]'s block loop.
#[target_feature(enable = "neon,dotprod")]
#[inline]
fn ops() -> impl legacy::Legacy<X = BlockQ8_0, Y = BlockQ8_0> {
    legacy::Ops {
        expand: |x: &BlockQ8_0| (ld_i8(arr(&x.qs, 0)), ld_i8(arr(&x.qs, 16))),
        load: |y: &BlockQ8_0| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        sum4: |a: int8x16_t, b: int8x16_t| sdot(vdupq_n_s32(0), a, b),
        scale: |x: &BlockQ8_0, y: &BlockQ8_0| (fp16(x.d) * fp16(y.d), 0.0, 0.0),
        min: false,
        sign_trick: true,
        spec: Q8_0::vec_dot,
    }
}

legacy::entry_points!(BlockQ8_0, BlockQ8_0, "Q8_0", "neon,dotprod");
