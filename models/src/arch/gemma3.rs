//! `gemma3`: Gemma 3 as llama.cpp's `llm_build_gemma3` runs it. Token embeddings scaled by
//! `sqrt(n_embd)`; per-head RMSNorm of queries and keys; RMSNorms on the attention and
//! feed-forward outputs before their residual adds; a GELU(tanh)-gated MLP; NEOX RoPE; the
//! queries multiplied by the attention scale (`1/sqrt(key_length)`, or `1/sqrt(n_embd/n_head)`
//! for the 62-layer 27B, as llama.cpp decides from the model type); optional final logit
//! soft-capping (`gemma3.final_logit_softcapping`).
//!
//! With `gemma3.attention.sliding_window` (W > 0), the layers [`Hparams::swa_layers`] names
//! (5 local : 1 global by default) attend to the last W positions and use RoPE base
//! `gemma3.rope.freq_base_swa` (default 10 000) with no frequency scaling; the global layers
//! use `gemma3.rope.freq_base` and the file's RoPE scaling.
//!
//! The RMSNorm weights are used as stored: llama.cpp's converter already adds Gemma's `+ 1` to
//! every norm weight (`Gemma3Model.modify_tensors`), so the forward pass is plain RMSNorm.

use super::{
    Architecture, Attention, ConfigError, FfnActivation, ModelConfig, RopeKind, invalid, key, sqrt_f32,
};
use crate::gguf::Gguf;
use crate::hparams::Hparams;

const ARCH: Architecture = Architecture::Gemma3;

pub(super) fn config(gguf: &Gguf<'_>, hp: Hparams) -> Result<ModelConfig, ConfigError> {
    let k = |s: &str| key(ARCH, s);
    let window = hp.sliding_window.map(|w| usize::try_from(w).unwrap_or(usize::MAX));
    let swa = hp.swa_layers.clone();
    let mut c = super::llama::build(gguf, hp, ARCH, RopeKind::Neox)?;

    let base_swa = gguf.opt_f32(&k("rope.freq_base_swa"))?.unwrap_or(10_000.0);
    if !(base_swa.is_finite() && base_swa > 0.0) {
        return Err(invalid(&k("rope.freq_base_swa"), "must be a positive finite number"));
    }
    if let Some(w) = window {
        for (layer, &is_swa) in c.layers.iter_mut().zip(&swa) {
            if is_swa {
                layer.attention = Attention::SlidingWindow(w);
                layer.rope_freq_base = base_swa;
                layer.rope_freq_scale = 1.0;
            }
        }
    }

    let softcap = gguf.opt_f32(&k("final_logit_softcapping"))?.filter(|&s| s != 0.0);
    if softcap.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        return Err(invalid(&k("final_logit_softcapping"), "must be a positive finite number"));
    }

    // llama.cpp: f_attention_scale = type == 27B ? 1/sqrt(n_embd / n_head(0)) : 1/sqrt(head_dim)
    // (the `attention.scale` key is not read for gemma3). The latter is the runtime's default.
    c.attn_scale = if c.n_layer() == 62 {
        let n_head = c.layers[0].n_head.max(1);
        Some(1.0 / sqrt_f32((c.n_embd / n_head) as f32))
    } else {
        None
    };
    c.flags.embedding_scale = Some(sqrt_f32(c.n_embd as f32));
    c.flags.qk_norm = true;
    c.flags.post_attn_norm = true;
    c.flags.post_ffn_norm = true;
    c.flags.final_logit_softcap = softcap;
    c.flags.ffn_act = FfnActivation::GeluTanh;
    c.flags.query_scale = true;
    Ok(c)
}
