//! `llama`: pre-norm decoder with RMSNorm, NORM-mode RoPE, grouped-query attention and a SwiGLU
//! MLP (llama.cpp's `llm_build_llama`). Llama 3's `rope_freqs.weight` and linear RoPE scaling
//! are read here; mixtral-style experts (`<arch>.expert_count > 0`) are described as
//! [`Ffn::MoE`] layers.
//!
//! [`build`] is the llama-family skeleton the other architecture files start from: they pass
//! their RoPE kind and then set their flags and per-layer differences.

use alloc::vec::Vec;

use super::{
    ArchFlags, Architecture, Attention, ConfigError, Ffn, LayerSpec, ModelConfig, RopeConfig, RopeKind,
    invalid, key, rope_freq_scale, tensor, to_usize,
};
use crate::gguf::{Gguf, GgufError};
use crate::hparams::Hparams;

const ARCH: Architecture = Architecture::Llama;

pub(super) fn config(gguf: &Gguf<'_>, hp: Hparams) -> Result<ModelConfig, ConfigError> {
    build(gguf, hp, ARCH, RopeKind::Norm)
}

/// The configuration of a llama-family model of architecture `arch`: every layer full
/// attention with the file's RoPE base and scale, the flags of plain llama, RoPE of `kind`.
pub(super) fn build(
    gguf: &Gguf<'_>,
    hp: Hparams,
    arch: Architecture,
    kind: RopeKind,
) -> Result<ModelConfig, ConfigError> {
    let k = |s: &str| key(arch, s);

    // llama.cpp requires the epsilon for the llama family (`ml.get_key(LLM_KV_ATTENTION_LAYERNORM_RMS_EPS)`).
    let eps_key = k("attention.layer_norm_rms_epsilon");
    let rms_eps =
        hp.rms_eps.ok_or_else(|| ConfigError::Gguf(GgufError::MissingKey { key: eps_key.clone() }))?;
    if !(rms_eps.is_finite() && rms_eps >= 0.0) {
        return Err(invalid(&eps_key, "must be a finite non-negative number"));
    }

    let head_dim = to_usize(&k("attention.key_length"), hp.head_dim_k)?;
    let head_dim_v = to_usize(&k("attention.value_length"), hp.head_dim_v)?;
    if head_dim != head_dim_v {
        return Err(invalid(&k("attention.value_length"), "must equal attention.key_length"));
    }
    let n_dims = to_usize(&k("rope.dimension_count"), hp.rope_dims)?;
    if n_dims != head_dim {
        // llm_build_llama asserts n_embd_head == n_rot.
        return Err(invalid(&k("rope.dimension_count"), "the whole head rotates: must equal the head size"));
    }
    if n_dims % 2 != 0 {
        return Err(invalid(&k("rope.dimension_count"), "must be even"));
    }
    let freq_base = hp.rope_freq_base;
    if !(freq_base.is_finite() && freq_base > 0.0) {
        return Err(invalid(&k("rope.freq_base"), "must be a positive finite number"));
    }
    let freq_scale = rope_freq_scale(gguf, arch)?;

    // llama.cpp: `f_attention_scale == 0 ? 1/sqrtf(n_embd_head) : f_attention_scale`.
    let attn_scale = gguf.opt_f32(&k("attention.scale"))?.filter(|&s| s != 0.0);

    let n_expert = to_usize(&k("expert_count"), hp.n_expert)?;
    let n_used = to_usize(&k("expert_used_count"), hp.n_expert_used)?;
    let ffn = if n_expert == 0 {
        Ffn::Dense
    } else {
        if n_used == 0 || n_used > n_expert {
            return Err(invalid(&k("expert_used_count"), "must be between 1 and expert_count"));
        }
        Ffn::MoE { n_expert, n_used }
    };

    let n_layer = to_usize(&k("block_count"), hp.n_layer)?;
    let mut layers = Vec::with_capacity(n_layer);
    for il in 0..n_layer {
        let n_head = to_usize(&k("attention.head_count"), hp.n_head[il])?;
        let n_head_kv = to_usize(&k("attention.head_count_kv"), hp.n_head_kv[il])?;
        let n_ff = to_usize(&k("feed_forward_length"), hp.n_ff[il])?;
        if n_head == 0 || n_head_kv == 0 {
            return Err(invalid(&k("attention.head_count"), "every layer needs attention heads"));
        }
        if n_ff == 0 {
            return Err(invalid(&k("feed_forward_length"), "every layer needs a feed-forward block"));
        }
        layers.push(LayerSpec {
            n_head,
            n_head_kv,
            n_ff,
            attention: Attention::Full,
            ffn,
            rope_freq_base: freq_base,
            rope_freq_scale: freq_scale,
        });
    }

    Ok(ModelConfig {
        arch,
        n_vocab: to_usize(&k("vocab_size"), hp.n_vocab)?,
        n_embd: to_usize(&k("embedding_length"), hp.n_embd)?,
        n_ctx_train: to_usize(&k("context_length"), hp.n_ctx_train)?,
        head_dim,
        head_dim_v,
        rms_eps,
        attn_scale,
        rope: RopeConfig {
            kind,
            n_dims,
            freq_base,
            freq_scale,
            has_freq_factors: gguf.find_tensor(tensor::ROPE_FREQS).is_some(),
        },
        tied_output: gguf.find_tensor(tensor::OUTPUT).is_none(),
        flags: ArchFlags::LLAMA,
        layers,
        hparams: hp,
    })
}
