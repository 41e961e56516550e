//! Hyper-parameters of a decoder-only transformer, read from GGUF metadata the way llama.cpp's
//! `llama_model_loader` reads them: `<arch>.<key>`, per-layer values either a scalar or an array.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use crate::gguf::{Gguf, GgufError, Result, ValueType};

/// The hyper-parameters shared by the llama family of architectures (llama, gemma3, qwen2/3, the
/// MoE variants): what `emberlm info` shows and the forward pass sizes its buffers from.
#[derive(Clone, Debug, PartialEq)]
pub struct Hparams {
    /// `general.architecture`.
    pub arch: String,
    /// Vocabulary size: `<arch>.vocab_size`, else the length of `tokenizer.ggml.tokens`, else
    /// the rows of `token_embd.weight`.
    pub n_vocab: u64,
    /// `<arch>.context_length`: the context the model was trained with.
    pub n_ctx_train: u64,
    /// `<arch>.embedding_length` (H).
    pub n_embd: u64,
    /// `<arch>.block_count` (L).
    pub n_layer: u64,
    /// `<arch>.feed_forward_length` (H'), per layer.
    pub n_ff: Vec<u64>,
    /// `<arch>.attention.head_count`, per layer.
    pub n_head: Vec<u64>,
    /// `<arch>.attention.head_count_kv` (default: `n_head`), per layer.
    pub n_head_kv: Vec<u64>,
    /// `<arch>.attention.key_length` (default `n_embd / n_head`).
    pub head_dim_k: u64,
    /// `<arch>.attention.value_length` (default `n_embd / n_head`).
    pub head_dim_v: u64,
    /// `<arch>.attention.layer_norm_rms_epsilon`, if the model uses RMSNorm.
    pub rms_eps: Option<f32>,
    /// `<arch>.rope.freq_base` (llama.cpp's default: 10 000).
    pub rope_freq_base: f32,
    /// `<arch>.rope.dimension_count` (default: `head_dim_k`).
    pub rope_dims: u64,
    /// `<arch>.attention.sliding_window`, for models with local-attention layers.
    pub sliding_window: Option<u64>,
    /// Which layers attend through the sliding window, as llama.cpp decides: an
    /// `<arch>.attention.sliding_window_pattern` array of booleans, else a period `n` (that key
    /// as an integer, else the architecture's default: 6 for gemma3) making every layer but
    /// each `n`-th (`il % n < n - 1`) a local one. All `false` without a window.
    pub swa_layers: Vec<bool>,
    /// `<arch>.expert_count` and `<arch>.expert_used_count` for mixture-of-experts models.
    pub n_expert: u64,
    pub n_expert_used: u64,
}

impl Hparams {
    /// Read the hyper-parameters of `gguf`. Missing required keys, values of the wrong type and
    /// inconsistent shapes (a head count that does not divide the embedding, a per-layer array of
    /// the wrong length) are errors naming the key.
    pub fn from_gguf(gguf: &Gguf<'_>) -> Result<Self> {
        let arch = gguf.architecture()?.to_string();
        let key = |k: &str| alloc::format!("{arch}.{k}");
        let n_layer = u64::from(gguf.get_u32(&key("block_count"))?);
        if n_layer == 0 {
            return Err(invalid(&key("block_count"), "must be at least 1"));
        }
        let n_embd = u64::from(gguf.get_u32(&key("embedding_length"))?);
        if n_embd == 0 {
            return Err(invalid(&key("embedding_length"), "must be at least 1"));
        }
        let n_ff = per_layer(gguf, &key("feed_forward_length"), n_layer)?
            .unwrap_or_else(|| vec![0; n_layer as usize]);
        let n_head = per_layer(gguf, &key("attention.head_count"), n_layer)?
            .ok_or_else(|| GgufError::MissingKey { key: key("attention.head_count") })?;
        let n_head_kv =
            per_layer(gguf, &key("attention.head_count_kv"), n_layer)?.unwrap_or_else(|| n_head.clone());
        let head0 = n_head.iter().copied().find(|&h| h > 0).unwrap_or(0);
        if head0 == 0 {
            return Err(invalid(&key("attention.head_count"), "no layer has attention heads"));
        }
        let default_head_dim = n_embd / head0;
        let head_dim_k = gguf.opt_u32(&key("attention.key_length"))?.map_or(default_head_dim, u64::from);
        let head_dim_v = gguf.opt_u32(&key("attention.value_length"))?.map_or(default_head_dim, u64::from);
        if head_dim_k == 0 || head_dim_v == 0 {
            return Err(invalid(&key("attention.key_length"), "head dimension is zero"));
        }
        for (&h, &hkv) in n_head.iter().zip(&n_head_kv) {
            if hkv > h || (hkv > 0 && h % hkv != 0) {
                return Err(invalid(&key("attention.head_count_kv"), "must divide attention.head_count"));
            }
        }
        let n_vocab = match gguf.opt_u32(&key("vocab_size"))? {
            Some(v) => u64::from(v),
            None => match gguf.opt_array("tokenizer.ggml.tokens")? {
                Some(tokens) => tokens.len() as u64,
                None => gguf.tensor("token_embd.weight")?.dims().get(1).copied().unwrap_or(0),
            },
        };
        let sliding_window =
            gguf.opt_u32(&key("attention.sliding_window"))?.map(u64::from).filter(|&w| w > 0);
        let swa_layers = swa_layers(gguf, &arch, &key("attention.sliding_window_pattern"), n_layer)?
            .filter(|_| sliding_window.is_some())
            .unwrap_or_else(|| vec![false; n_layer as usize]);
        Ok(Self {
            n_vocab,
            n_ctx_train: u64::from(gguf.opt_u32(&key("context_length"))?.unwrap_or(0)),
            n_embd,
            n_layer,
            n_ff,
            n_head,
            n_head_kv,
            head_dim_k,
            head_dim_v,
            rms_eps: gguf.opt_f32(&key("attention.layer_norm_rms_epsilon"))?,
            rope_freq_base: gguf.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0),
            rope_dims: gguf.opt_u32(&key("rope.dimension_count"))?.map_or(head_dim_k, u64::from),
            sliding_window,
            swa_layers,
            n_expert: u64::from(gguf.opt_u32(&key("expert_count"))?.unwrap_or(0)),
            n_expert_used: u64::from(gguf.opt_u32(&key("expert_used_count"))?.unwrap_or(0)),
            arch,
        })
    }

    /// Positions the KV cache of layer `il` holds in a context of `n_ctx`: `n_ctx`, or at most
    /// the window for a sliding-window layer (a ring buffer of the last `sliding_window`
    /// positions, all such a layer ever attends to).
    pub fn kv_positions(&self, il: usize, n_ctx: u64) -> u64 {
        match self.sliding_window {
            Some(w) if self.swa_layers.get(il).copied().unwrap_or(false) => n_ctx.min(w),
            _ => n_ctx,
        }
    }

    /// Bytes of the KV cache of a context of `n_ctx` positions with `elem_bytes` per value (2 for
    /// f16, 4 for f32): `sum over layers of positions * n_head_kv * (head_dim_k + head_dim_v)`,
    /// where sliding-window layers keep only their window ([`Hparams::kv_positions`]).
    pub fn kv_cache_bytes(&self, n_ctx: u64, elem_bytes: u64) -> u64 {
        self.kv_bytes_with(|il| self.kv_positions(il, n_ctx), elem_bytes)
    }

    /// Bytes of a naive KV cache holding all `n_ctx` positions in every layer, windowed or not.
    pub fn kv_cache_bytes_full(&self, n_ctx: u64, elem_bytes: u64) -> u64 {
        self.kv_bytes_with(|_| n_ctx, elem_bytes)
    }

    fn kv_bytes_with(&self, positions: impl Fn(usize) -> u64, elem_bytes: u64) -> u64 {
        self.n_head_kv
            .iter()
            .enumerate()
            .map(|(il, &hkv)| positions(il).saturating_mul(hkv * (self.head_dim_k + self.head_dim_v)))
            .fold(0u64, u64::saturating_add)
            .saturating_mul(elem_bytes)
    }

    /// The closed-form parameter estimate for llama-like models,
    /// `2VH + H + L(4H² + 3HH' + 2H)`, with the attention projections sized by their heads:
    /// `4H²` becomes `2H·H_q + 2H·H_kv` (`H_q = n_head · head_dim`, which is `H` for llama;
    /// `H_kv = n_head_kv · head_dim`, smaller under grouped-query attention). With `tied`
    /// (no `output.weight`: the output projection reuses `token_embd`) the `2VH` term is `VH`.
    pub fn llama_param_estimate(&self, tied: bool) -> u64 {
        let (v, h) = (self.n_vocab, self.n_embd);
        let embed = if tied { v * h } else { 2 * v * h };
        let layers: u64 = (0..self.n_layer as usize)
            .map(|l| {
                let h_q = self.n_head[l] * self.head_dim_k;
                let h_kv = self.n_head_kv[l] * self.head_dim_k;
                2 * h * h_q + 2 * h * h_kv + 3 * h * self.n_ff[l] + 2 * h
            })
            .sum();
        embed + h + layers
    }
}

/// A per-layer value: a scalar applies to every layer, an array gives one value per layer.
fn per_layer(gguf: &Gguf<'_>, key: &str, n_layer: u64) -> Result<Option<Vec<u64>>> {
    let Some(value) = gguf.get(key) else { return Ok(None) };
    if let Some(v) = value.as_u64() {
        return Ok(Some(vec![v; n_layer as usize]));
    }
    let wrong =
        || GgufError::WrongType { key: key.to_string(), expected: ValueType::U32, found: value.value_type() };
    let array = value.as_array().ok_or_else(wrong)?;
    if array.len() as u64 != n_layer {
        return Err(invalid(key, "per-layer array length differs from block_count"));
    }
    array.iter().map(|v| v.as_u64().ok_or_else(wrong)).collect::<Result<Vec<u64>>>().map(Some)
}

/// The sliding-window layers (llama.cpp's `load_swa_pattern`, `set_swa_pattern` with
/// `dense_first = false`), or `None` for an architecture that has none by default.
fn swa_layers(gguf: &Gguf<'_>, arch: &str, key: &str, n_layer: u64) -> Result<Option<Vec<bool>>> {
    if let Some(value) = gguf.get(key)
        && let Some(array) = value.as_array()
    {
        if array.len() as u64 != n_layer {
            return Err(invalid(key, "per-layer array length differs from block_count"));
        }
        let wrong = || GgufError::WrongType {
            key: key.to_string(),
            expected: ValueType::Bool,
            found: value.value_type(),
        };
        return array.iter().map(|v| v.as_bool().ok_or_else(wrong)).collect::<Result<Vec<bool>>>().map(Some);
    }
    let default = match arch {
        "gemma3" => Some(6),
        _ => None,
    };
    let Some(n) = gguf.opt_u32(key)?.or(default) else { return Ok(None) };
    Ok(Some((0..n_layer).map(|il| n == 0 || il % u64::from(n) < u64::from(n) - 1).collect()))
}

fn invalid(key: &str, why: &'static str) -> GgufError {
    GgufError::InvalidValue { key: key.to_string(), why }
}
