//! `qwen3`: dense Qwen3 as llama.cpp's `llm_build_qwen3` runs it: llama with NEOX RoPE and a
//! per-head RMSNorm of the queries and keys before RoPE (`attn_q_norm`, `attn_k_norm`). The
//! head size (`qwen3.attention.key_length`) need not be `n_embd / n_head`.

use super::{Architecture, ConfigError, ModelConfig, RopeKind};
use crate::gguf::Gguf;
use crate::hparams::Hparams;

const ARCH: Architecture = Architecture::Qwen3;

pub(super) fn config(gguf: &Gguf<'_>, hp: Hparams) -> Result<ModelConfig, ConfigError> {
    let mut c = super::llama::build(gguf, hp, ARCH, RopeKind::Neox)?;
    // llama.cpp's qwen3 always scales the scores by 1/sqrt(head_dim).
    c.attn_scale = None;
    c.flags.qk_norm = true;
    Ok(c)
}
