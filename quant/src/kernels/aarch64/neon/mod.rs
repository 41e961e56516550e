//! The baseline NEON tier ([`Tier::Neon`]): Advanced SIMD only, so it runs on every aarch64 CPU
//! (Cortex-A72 / Raspberry Pi 4 included). One file per format; `util` holds the shared helpers
//! and `quantize` the activation quantizers (also used by the dotprod tier).
//!
//! The legacy formats' dots and multi-row products (`legacy` holds their shared block loop and
//! tiles) and activation quantizers reproduce the spec, i.e. **x86-64 llama.cpp's** AVX2
//! arithmetic (8 f32 lanes as two f32x4, `vfmaq` for `_mm256_fmadd_ps`, the `hsum_float_8` tree),
//! so an aarch64 run matches llama.cpp on x86, not llama.cpp on ARM (whose NEON code sums in
//! another order).
//!
//! Every kernel here is bit-identical to the scalar spec except the float formats
//! (`f32 f16 bf16`), which sum their (exact, spec-rounded) f32 products in f64 in a different
//! order (see `f32.rs` for the bound).

use crate::kernels::{Kernels, Tier};

pub(crate) mod bf16;
pub(crate) mod f16;
pub(crate) mod f32;
pub(crate) mod k_quad;
pub(crate) mod lanes;
pub(crate) mod legacy;
pub(crate) mod q2_k;
pub(crate) mod q3_k;
pub(crate) mod q4_0;
pub(crate) mod q4_1;
pub(crate) mod q4_k;
pub(crate) mod q5_0;
pub(crate) mod q5_1;
pub(crate) mod q5_k;
pub(crate) mod q6_k;
pub(crate) mod q8_0;
pub(crate) mod quantize;
pub(crate) mod util;
pub(crate) mod vexp;

/// The NEON table. Only [`Kernels::for_tier`] hands it out, after checking the CPU has NEON.
pub(crate) const NEON: Kernels = Kernels {
    tier: Tier::Neon,
    dot_f32: f32::vec_dot,
    dot_f16: f16::vec_dot,
    dot_bf16: bf16::vec_dot,
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
    quantize_f16: quantize::quantize_f16,
    quantize_q8_0: quantize::quantize_q8_0,
    quantize_q8_1: quantize::quantize_q8_1,
    quantize_q8_k: quantize::quantize_q8_k,
    quantize_q8_k_4rows: crate::formats::q8_k::Q8K::quantize_4rows,
    lanes_dot_f32: lanes::dot_f32,
    lanes_dot_f16: lanes::dot_f16,
    lanes_dot_f16_rows: lanes::dot_f16_rows,
    softmax_exp: vexp::softmax_exp,
    swiglu: vexp::swiglu,
    rope_rotate: crate::rope::rotate,
};
