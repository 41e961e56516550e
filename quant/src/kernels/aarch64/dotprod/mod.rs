//! The NEON + FEAT_DotProd tier ([`Tier::Dotprod`]): `sdot` for every integer dot product
//! (through `asm!`, as `vdotq_s32` is unstable on Rust 1.95). The float formats and the
//! quantizers gain nothing from `sdot` and reuse the NEON kernels.
//!
//! Exactness: integer sums are exact (`sdot` accumulates 4 i8 x i8 products into i32 lanes).
//! The legacy formats (x86 llama.cpp's AVX2 arithmetic, not ARM llama.cpp's: see
//! `neon/legacy.rs`), `q2_K`, `q4_K` and `q6_K` are bit-identical to the spec (for the last two,
//! llama.cpp's x86-64 AVX2 arithmetic, whose integer lanes are `sdot`'s: see `neon/k_quad.rs`);
//! `q3_K q5_K` form the spec's per-block integer sum exactly but accumulate `d * isum` per block
//! in one f32 instead of the spec's 8 lane accumulators (`sdot` mixes the spec's lanes), so they
//! differ from the spec by float rounding only (see the kernel files).

use core::arch::aarch64::*;
use core::arch::asm;

use super::neon;
use crate::kernels::{Kernels, Tier};

mod q2_k;
mod q3_k;
mod q4_0;
mod q4_1;
mod q4_k;
mod q5_0;
mod q5_1;
mod q5_k;
mod q6_k;
mod q8_0;

/// The dotprod table. Only [`Kernels::for_tier`] hands it out, after checking the CPU has dotprod.
pub(crate) const DOTPROD: Kernels = Kernels {
    tier: Tier::Dotprod,
    dot_f32: neon::f32::vec_dot,
    dot_f16: neon::f16::vec_dot,
    dot_bf16: neon::bf16::vec_dot,
    dot_q4_0: q4_0::vec_dot,
    dot_q4_1: q4_1::vec_dot,
    dot_q5_0: q5_0::vec_dot,
    dot_q5_1: q5_1::vec_dot,
    dot_q8_0: q8_0::vec_dot,
    dot_q2_k: q2_k::vec_dot,
    dot_q3_k: q3_k::vec_dot,
    dot_q4_k: q4_k::vec_dot,
    dot_q5_k: q5_k::vec_dot,
    dot_q6_k: q6_k::vec_dot,
    gemm_q4_0: Some(q4_0::gemm),
    gemm_q4_1: Some(q4_1::gemm),
    gemm_q5_0: Some(q5_0::gemm),
    gemm_q5_1: Some(q5_1::gemm),
    gemm_q8_0: Some(q8_0::gemm),
    gemm_q4_k: None,
    gemm_q6_k: None,
    dot_q4_k_gemv: q4_k::dot_gemv,
    dot_q6_k_tiled: crate::formats::q6_k::Q6K::dot_tiled,
    gemm_q6_k_tiled: None,
    dot_q4_k_gemm: q4_k::dot_gemm,
    gemm_q4_k_gemv: None,
    gemm_q4_k_gemm: None,
    quantize_f16: neon::quantize::quantize_f16,
    quantize_q8_0: neon::quantize::quantize_q8_0,
    quantize_q8_1: neon::quantize::quantize_q8_1,
    quantize_q8_k: neon::quantize::quantize_q8_k,
    quantize_q8_k_4rows: crate::formats::q8_k::Q8K::quantize_4rows,
    lanes_dot_f32: neon::lanes::dot_f32,
    lanes_dot_f16: neon::lanes::dot_f16,
    lanes_dot_f16_rows: neon::lanes::dot_f16_rows,
    softmax_exp: neon::vexp::softmax_exp,
    swiglu: neon::vexp::swiglu,
    rope_rotate: crate::rope::rotate,
};

/// `acc[k] + Σ_{i in 4k..4k+4} a[i] * b[i]` (`sdot`), exact for all i8 inputs.
#[target_feature(enable = "neon,dotprod")]
#[inline]
pub(crate) fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: `sdot` only reads and writes the named vector registers, and this function is
    // compiled with (and, being `#[target_feature]`, only callable where there is) dotprod.
    unsafe {
        asm!("sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b", acc = inout(vreg) acc, a = in(vreg) a, b = in(vreg) b,
             options(pure, nomem, nostack, preserves_flags));
    }
    acc
}

/// `[Σ t0, Σ t1, Σ t2, Σ t3]` (exact while the sums fit in i32).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn hsum4(t0: int32x4_t, t1: int32x4_t, t2: int32x4_t, t3: int32x4_t) -> int32x4_t {
    vpaddq_s32(vpaddq_s32(t0, t1), vpaddq_s32(t2, t3))
}
