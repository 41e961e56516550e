//! `qwen2`: Qwen2/Qwen2.5 as llama.cpp's `llm_build_qwen2` runs it: llama with NEOX RoPE and
//! biases added to the Q, K and V projections (`blk.<il>.attn_{q,k,v}.bias`, present in every
//! converted Qwen2; a file without them runs without biases, as llama.cpp allows).

use super::{Architecture, ConfigError, ModelConfig, RopeKind, tensor};
use crate::gguf::Gguf;
use crate::hparams::Hparams;

const ARCH: Architecture = Architecture::Qwen2;

pub(super) fn config(gguf: &Gguf<'_>, hp: Hparams) -> Result<ModelConfig, ConfigError> {
    let mut c = super::llama::build(gguf, hp, ARCH, RopeKind::Neox)?;
    // llama.cpp's qwen2 always scales the scores by 1/sqrt(head_dim).
    c.attn_scale = None;
    c.flags.qkv_bias = gguf.find_tensor(&tensor::layer_bias(0, tensor::ATTN_Q)).is_some();
    Ok(c)
}
