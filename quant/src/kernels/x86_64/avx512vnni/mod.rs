//! The AVX-512 VNNI tier: the AVX2 tier plus AVX-512 F, BW, VL and VNNI (Intel Cascade Lake /
//! Ice Lake, AMD Zen 4 and later), for the products that decoding and prefill spend their time
//! in.
//!
//! Its table is [`AVX2`](super::avx2::AVX2)'s with 256-bit `vpdpbusd` tiles in six products: one
//! token of `Q5_0` ([`decode`]), batches of `Q4_0`, `Q5_0` and `Q8_0` ([`batch`], both through
//! [`legacy`]), each for activations without -128 (all that our quantizers make), and one token
//! and batches of `Q4_1` ([`decode`], [`q4_1`], any activation); and `vpdpwssd` in the batch products of `q4_K` and `q6_K`
//! ([`kquant`]). They compute the AVX2 kernels' bits (and so the spec's and llama.cpp's) in fewer
//! instructions; everything else, and any `Q8_0` activation with -128, is the AVX2 kernels'.
//! Soundness as there: the wrappers are crate-private and reachable only through [`AVX512VNNI`],
//! which [`Kernels::for_tier`](crate::Kernels::for_tier) hands out only after detecting every
//! feature the tier needs.

mod batch;
mod decode;
mod kquant;
mod legacy;
mod q4_1;

use super::avx2::AVX2;
use crate::{Kernels, Tier};

/// The AVX-512 VNNI kernel table. Crate-private: handed out only by [`Kernels::for_tier`] after
/// feature detection (see the module docs).
pub(crate) static AVX512VNNI: Kernels = Kernels {
    tier: Tier::Avx512Vnni,
    gemm_q4_0: Some(legacy::q4_0),
    gemm_q4_1: Some(q4_1::gemm),
    gemm_q5_0: Some(legacy::q5_0),
    gemm_q8_0: Some(legacy::q8_0),
    gemm_q4_k_gemm: Some(kquant::gemm_q4_k_gemm),
    gemm_q6_k_tiled: Some(kquant::gemm_q6_k_tiled),
    ..AVX2
};
