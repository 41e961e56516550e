//! `q5_0 x q8_0` with NEON + dotprod: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::gemm`]: weights `code - 16`, the 4-product lane sums by `sdot`, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q5_0::vec_dot`](crate::formats::q5_0::Q5_0). A row whose activations hold a -128 (where the x86 sign trick differs from the exact product) goes to the spec.

use core::arch::aarch64::*;

use super::sdot;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q8_0::BlockQ8_0;
use crate::kernels::aarch64::neon::{self, legacy};

/// The format's pieces ([`neon::q5_0::ops_with`]) with `sdot` as `sum4`.
#[target_feature(enable = "neon,dotprod")]
#[inline]
fn ops() -> impl legacy::Legacy<X = BlockQ5_0, Y = BlockQ8_0> {
    neon::q5_0::ops_with(|a: int8x16_t, b: int8x16_t| sdot(vdupq_n_s32(0), a, b))
}

legacy::entry_points!(BlockQ5_0, BlockQ8_0, "Q5_0", "neon,dotprod");
