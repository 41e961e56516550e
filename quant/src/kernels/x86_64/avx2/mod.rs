//! The AVX2 tier: x86_64 with AVX2, FMA and F16C (Intel Haswell / AMD Excavator and later).
//!
//! One file per weight format (its dot product against its activation format), the activation
//! quantizers in [`quantize`], shared helpers in [`util`]. Each kernel is a
//! `#[target_feature(enable = "avx2,fma,f16c")] unsafe fn` behind a crate-private safe wrapper that
//! checks the lengths once; the wrappers are reachable only through [`AVX2`], which
//! [`Kernels::for_tier`] returns only after detecting the three features, and that detection is
//! what makes calling the wrappers sound.
//!
//! Numerics, per kernel (details in each file):
//! - integer block sums are exact for **every** input (any bytes, `i8` -128 included);
//! - legacy formats (`q4_0`, `q4_1`, `q5_0`, `q5_1`, `q8_0`): the spec is llama.cpp's own AVX2
//!   arithmetic (`formats/legacy_lanes.rs`: 8 f32 lanes, `fmadd` per block, `hsum_float_8`, the
//!   `maddubs` sign trick with its -128 behaviour) and the kernels here are those instructions,
//!   tiled over several outputs (`gemm.rs`; the one-token tiles of `q4_1`/`q8_0` in `decode.rs`
//!   and the batch tiles of `q4_0`/`q5_0`/`q8_0` in `batch.rs`, as `asm!`), so dot products and
//!   the multi-row `gemm` kernels are
//!   **bit-identical to the spec and to llama.cpp** for every input (tests/kernel_exact.rs,
//!   tests/ggml_x86_legacy.rs); the tiers of a model with these formats compute the same logits;
//! - `q4_K` (its three products) and `q6_K` (its vec_dot and tiled products): the spec is
//!   llama.cpp's x86-64 AVX2 arithmetic, and these kernels (and the multi-row ones in [`gemm_k`])
//!   are bit-identical to it for every input (tests/k_exact.rs, and tests/k_llama_x86.rs against
//!   libggml's own outputs);
//! - the other K-quants and f32/f16/bf16: the float accumulation uses `f32x8` FMA accumulators, a
//!   different order from the spec's, so dot products are bit-identical to the spec only when all
//!   partial sums are exactly representable (the parity tests check this), and otherwise within
//!   f32 accumulation error (bounded in the tests);
//! - the quantizers are bit-identical to the spec for every input (`q8_0`/`q8_1`: llama.cpp's AVX2
//!   activation quantizers).

pub(super) mod batch;
mod bf16;
pub(super) mod decode;
mod f16;
mod f32;
pub(super) mod gemm;
pub(super) mod gemm_k;
mod lanes;
mod q2_k;
mod q3_k;
pub(super) mod q4_0;
pub(in crate::kernels::x86_64) mod q4_1;
mod q4_k;
pub(super) mod q5_0;
mod q5_1;
mod q5_k;
pub(super) mod q6_k;
pub(super) mod q8_0;
mod q8_k;
mod quantize;
mod rope;
pub(in crate::kernels::x86_64) mod util;
mod vexp;

use crate::{Kernels, Tier};

/// The AVX2 kernel table. Crate-private: handed out only by [`Kernels::for_tier`] after feature
/// detection (see the module docs).
pub(crate) static AVX2: Kernels = Kernels {
    tier: Tier::Avx2,
    dot_f32: f32::dot,
    dot_f16: f16::dot,
    dot_bf16: bf16::dot,
    dot_q4_0: q4_0::dot,
    dot_q4_1: q4_1::dot,
    dot_q5_0: q5_0::dot,
    dot_q5_1: q5_1::dot,
    dot_q8_0: q8_0::dot,
    dot_q2_k: q2_k::dot,
    dot_q3_k: q3_k::dot,
    dot_q4_k: q4_k::dot,
    dot_q5_k: q5_k::dot,
    dot_q6_k: q6_k::dot,
    gemm_q4_0: Some(q4_0::gemm),
    gemm_q4_1: Some(q4_1::gemm),
    gemm_q5_0: Some(q5_0::gemm),
    gemm_q5_1: Some(q5_1::gemm),
    gemm_q8_0: Some(q8_0::gemm),
    gemm_q4_k: None,
    gemm_q6_k: Some(gemm_k::gemm_q6_k),
    dot_q4_k_gemv: q4_k::dot_gemv,
    dot_q6_k_tiled: q6_k::dot_tiled,
    gemm_q6_k_tiled: Some(q6_k::gemm_tiled),
    dot_q4_k_gemm: q4_k::dot_gemm,
    gemm_q4_k_gemv: Some(gemm_k::gemm_q4_k_gemv),
    gemm_q4_k_gemm: Some(gemm_k::gemm_q4_k_gemm),
    quantize_f16: quantize::quantize_f16,
    quantize_q8_0: quantize::quantize_q8_0,
    quantize_q8_1: quantize::quantize_q8_1,
    quantize_q8_k: quantize::quantize_q8_k,
    quantize_q8_k_4rows: q8_k::quantize_q8_k_4rows,
    lanes_dot_f32: lanes::dot_f32,
    lanes_dot_f16: lanes::dot_f16,
    lanes_dot_f16_rows: lanes::dot_f16_rows,
    softmax_exp: vexp::softmax_exp,
    swiglu: vexp::swiglu,
    rope_rotate: rope::rotate,
};
