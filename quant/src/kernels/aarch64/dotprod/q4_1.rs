//! `q4_1 x q8_1` with NEON + dotprod: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::gemm`]: weights the nibbles (0..=15), plus `summs`, the 4-product lane sums by `sdot`, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q4_1::vec_dot`](crate::formats::q4_1::Q4_1).

use core::arch::aarch64::*;

use super::sdot;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;
use crate::kernels::aarch64::neon::{self, legacy};

/// The format's pieces ([`neon::q4_1::ops_with`]) with `sdot` as `sum4`.
#[target_feature(enable = "neon,dotprod")]
#[inline]
fn ops() -> impl legacy::Legacy<X = BlockQ4_1, Y = BlockQ8_1> {
    neon::q4_1::ops_with(|a: int8x16_t, b: int8x16_t| sdot(vdupq_n_s32(0), a, b))
}

legacy::entry_points!(BlockQ4_1, BlockQ8_1, "Q4_1", "neon,dotprod");
