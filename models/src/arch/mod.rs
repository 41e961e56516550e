//! Architectures as data: what a forward pass needs to know about a model, read from GGUF
//! metadata into a [`ModelConfig`].
//!
//! One file per architecture (`llama.rs`, `gemma3.rs`, `qwen2.rs`, `qwen3.rs`) turns the GGUF
//! metadata into the same [`ModelConfig`]: hyper-parameters, the RoPE variant and its
//! parameters, per-layer specs ([`LayerSpec`]: full or sliding-window attention, dense or MoE
//! feed-forward) and the flags that distinguish the llama family members ([`ArchFlags`]). The
//! runtime has a single forward pass driven by this description; a new architecture is a new
//! file here plus whatever new flag it needs, never a second forward pass.
//!
//! Tensor names follow llama.cpp's GGUF convention ([`tensor`]).

mod gemma3;
mod llama;
mod qwen2;
mod qwen3;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::gguf::{Gguf, GgufError};
use crate::hparams::Hparams;

/// The architectures emberlm knows (`general.architecture`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Architecture {
    /// `llama`: Llama 1/2/3, TinyLlama, SmolLM2, llama2.c models, Mistral-style GQA.
    Llama,
    /// `gemma3`: Gemma 3 (sliding-window and global layers, GeGLU, q/k norms, post-norms).
    Gemma3,
    /// `qwen2`: Qwen2/2.5 (biases on Q, K and V; NEOX RoPE).
    Qwen2,
    /// `qwen3`: Qwen3 dense (q/k norms; NEOX RoPE).
    Qwen3,
}

impl Architecture {
    /// The architecture called `name` in `general.architecture`, if emberlm implements it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "llama" => Some(Self::Llama),
            "gemma3" => Some(Self::Gemma3),
            "qwen2" => Some(Self::Qwen2),
            "qwen3" => Some(Self::Qwen3),
            _ => None,
        }
    }

    /// The `general.architecture` string.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Gemma3 => "gemma3",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How RoPE pairs the dimensions of a head (ggml's `rope_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeKind {
    /// `GGML_ROPE_TYPE_NORMAL`: rotates adjacent pairs `(2i, 2i+1)` (llama, llama2.c).
    Norm,
    /// `GGML_ROPE_TYPE_NEOX`: rotates `(i, i + n_dims/2)` (qwen2/3, gemma3, ...).
    Neox,
}

/// RoPE of one model: the rotation kind, how many dimensions of each head rotate, and the
/// frequency parameters (llama.cpp's `n_rot`, `freq_base`, `freq_scale`, `rope_freqs`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeConfig {
    /// Pairing of the rotated dimensions.
    pub kind: RopeKind,
    /// Rotated dimensions per head (`<arch>.rope.dimension_count`), even, `<= head_dim`.
    pub n_dims: usize,
    /// `<arch>.rope.freq_base`.
    pub freq_base: f32,
    /// `1 / <arch>.rope.scaling.factor` for linear scaling, else 1.
    pub freq_scale: f32,
    /// Whether the model has a `rope_freqs.weight` tensor (llama 3 frequency factors,
    /// `n_dims / 2` values each dividing one pair's angle).
    pub has_freq_factors: bool,
}

/// Which positions a layer's attention sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attention {
    /// Every earlier position (causal).
    Full,
    /// The last `w` positions including the current one (gemma3's local layers).
    SlidingWindow(usize),
}

/// A layer's feed-forward block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ffn {
    /// One gated MLP (`ffn_gate`, `ffn_up`, `ffn_down`).
    Dense,
    /// Mixture of experts: `n_expert` gated MLPs, `n_used` of them per token.
    MoE {
        /// Experts in the layer.
        n_expert: usize,
        /// Experts used per token.
        n_used: usize,
    },
}

/// The gate activation of the gated MLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfnActivation {
    /// SwiGLU: `silu(gate) * up` (llama, qwen).
    Silu,
    /// GeGLU with the tanh approximation of GELU (gemma).
    GeluTanh,
}

/// One layer's shape and kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (divides `n_head`).
    pub n_head_kv: usize,
    /// Hidden size of the feed-forward block (per expert for MoE).
    pub n_ff: usize,
    /// Full or sliding-window attention.
    pub attention: Attention,
    /// Dense or MoE feed-forward.
    pub ffn: Ffn,
    /// RoPE frequency base of this layer (gemma3's local layers use their own).
    pub rope_freq_base: f32,
    /// RoPE frequency scale of this layer.
    pub rope_freq_scale: f32,
}

/// What distinguishes the llama-family architectures from plain llama. All off for llama.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArchFlags {
    /// Multiply the token embeddings by this (gemma: `sqrt(n_embd)`).
    pub embedding_scale: Option<f32>,
    /// RMS-normalise each query and key head (`attn_q_norm`, `attn_k_norm`: qwen3, gemma3).
    pub qk_norm: bool,
    /// Biases on the Q, K and V projections (qwen2).
    pub qkv_bias: bool,
    /// An RMSNorm on the attention output before the residual add (`post_attention_norm`).
    pub post_attn_norm: bool,
    /// An RMSNorm on the feed-forward output before the residual add (`post_ffw_norm`).
    pub post_ffn_norm: bool,
    /// `cap * tanh(logit / cap)` on the final logits.
    pub final_logit_softcap: Option<f32>,
    /// `cap * tanh(score / cap)` on the attention scores.
    pub attn_logit_softcap: Option<f32>,
    /// The gated MLP's activation.
    pub ffn_act: FfnActivation,
    /// Multiply the queries by the attention scale after RoPE and use 1 for the scores (gemma3
    /// in llama.cpp), instead of scaling the scores inside the softmax.
    pub query_scale: bool,
}

impl ArchFlags {
    /// Plain llama: no extra scale, norm, bias or cap; SwiGLU.
    pub const LLAMA: Self = Self {
        embedding_scale: None,
        qk_norm: false,
        qkv_bias: false,
        post_attn_norm: false,
        post_ffn_norm: false,
        final_logit_softcap: None,
        attn_logit_softcap: None,
        ffn_act: FfnActivation::Silu,
        query_scale: false,
    };
}

/// Everything the forward pass needs to know about a model, independent of its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// The architecture.
    pub arch: Architecture,
    /// The raw hyper-parameters as read from the file.
    pub hparams: Hparams,
    /// Vocabulary size (rows of the embedding and output matrices).
    pub n_vocab: usize,
    /// Embedding width.
    pub n_embd: usize,
    /// Context length the model was trained with (0 if the file does not say).
    pub n_ctx_train: usize,
    /// Dimension of each query/key head.
    pub head_dim: usize,
    /// Dimension of each value head.
    pub head_dim_v: usize,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// Attention score scale from `<arch>.attention.scale`; `None` means llama.cpp's default
    /// `1.0f / sqrtf(head_dim)` (computed by the runtime, which has the math library).
    pub attn_scale: Option<f32>,
    /// RoPE.
    pub rope: RopeConfig,
    /// Whether the output projection reuses `token_embd.weight` (no `output.weight`).
    pub tied_output: bool,
    /// Architecture flags.
    pub flags: ArchFlags,
    /// One entry per layer.
    pub layers: Vec<LayerSpec>,
}

impl ModelConfig {
    /// Read the configuration of the model in `gguf`. An architecture emberlm does not
    /// implement is [`ConfigError::UnsupportedArchitecture`] naming it.
    pub fn from_gguf(gguf: &Gguf<'_>) -> Result<Self, ConfigError> {
        let name = gguf.architecture()?;
        let arch = Architecture::from_name(name)
            .ok_or_else(|| ConfigError::UnsupportedArchitecture(name.to_string()))?;
        let hparams = Hparams::from_gguf(gguf)?;
        match arch {
            Architecture::Llama => llama::config(gguf, hparams),
            Architecture::Gemma3 => gemma3::config(gguf, hparams),
            Architecture::Qwen2 => qwen2::config(gguf, hparams),
            Architecture::Qwen3 => qwen3::config(gguf, hparams),
        }
    }

    /// Number of layers.
    pub fn n_layer(&self) -> usize {
        self.layers.len()
    }

    /// Width of the concatenated query heads of layer `il` (`n_head * head_dim`).
    pub fn q_dim(&self, il: usize) -> usize {
        self.layers[il].n_head * self.head_dim
    }

    /// Width of the concatenated key heads of layer `il`.
    pub fn k_dim(&self, il: usize) -> usize {
        self.layers[il].n_head_kv * self.head_dim
    }

    /// Width of the concatenated value heads of layer `il`.
    pub fn v_dim(&self, il: usize) -> usize {
        self.layers[il].n_head_kv * self.head_dim_v
    }

    /// Largest `n_ff` of any layer.
    pub fn max_n_ff(&self) -> usize {
        self.layers.iter().map(|l| l.n_ff).max().unwrap_or(0)
    }

    /// Largest query width of any layer.
    pub fn max_q_dim(&self) -> usize {
        (0..self.n_layer()).map(|il| self.q_dim(il)).max().unwrap_or(0)
    }

    /// Largest key or value width of any layer.
    pub fn max_kv_dim(&self) -> usize {
        (0..self.n_layer()).map(|il| self.k_dim(il).max(self.v_dim(il))).max().unwrap_or(0)
    }
}

/// Why a [`ModelConfig`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Reading the metadata failed (missing key, wrong type, invalid value).
    Gguf(GgufError),
    /// `general.architecture` names an architecture emberlm does not implement.
    UnsupportedArchitecture(String),
    /// The model uses a feature of its architecture that emberlm does not implement yet.
    Unsupported { key: String, what: String },
}

impl From<GgufError> for ConfigError {
    fn from(e: GgufError) -> Self {
        Self::Gguf(e)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Gguf(e) => e.fmt(f),
            Self::UnsupportedArchitecture(a) => {
                write!(f, "unsupported architecture {a:?} (emberlm implements: llama, gemma3, qwen2, qwen3)")
            }
            Self::Unsupported { key, what } => write!(f, "{key}: {what} is not supported"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// GGUF tensor names (llama.cpp's `LLM_TENSOR_*` names for the llama family).
pub mod tensor {
    use alloc::format;
    use alloc::string::String;

    /// Token embedding, `[n_embd, n_vocab]`.
    pub const TOKEN_EMBD: &str = "token_embd.weight";
    /// Final norm, `[n_embd]`.
    pub const OUTPUT_NORM: &str = "output_norm.weight";
    /// Output projection, `[n_embd, n_vocab]` (absent when tied to the embedding).
    pub const OUTPUT: &str = "output.weight";
    /// Llama 3 RoPE frequency factors, `[n_rot / 2]`.
    pub const ROPE_FREQS: &str = "rope_freqs.weight";

    /// Pre-attention norm.
    pub const ATTN_NORM: &str = "attn_norm";
    /// Query projection.
    pub const ATTN_Q: &str = "attn_q";
    /// Key projection.
    pub const ATTN_K: &str = "attn_k";
    /// Value projection.
    pub const ATTN_V: &str = "attn_v";
    /// Attention output projection.
    pub const ATTN_OUTPUT: &str = "attn_output";
    /// Pre-feed-forward norm.
    pub const FFN_NORM: &str = "ffn_norm";
    /// Feed-forward gate projection.
    pub const FFN_GATE: &str = "ffn_gate";
    /// Feed-forward up projection.
    pub const FFN_UP: &str = "ffn_up";
    /// Feed-forward down projection.
    pub const FFN_DOWN: &str = "ffn_down";
    /// Per-head query RMSNorm, `[head_dim]`.
    pub const ATTN_Q_NORM: &str = "attn_q_norm";
    /// Per-head key RMSNorm, `[head_dim]`.
    pub const ATTN_K_NORM: &str = "attn_k_norm";
    /// Norm of the attention output before the residual add.
    pub const ATTN_POST_NORM: &str = "post_attention_norm";
    /// Norm of the feed-forward output before the residual add.
    pub const FFN_POST_NORM: &str = "post_ffw_norm";

    /// `blk.<il>.<base>.weight`.
    pub fn layer(il: usize, base: &str) -> String {
        format!("blk.{il}.{base}.weight")
    }

    /// `blk.<il>.<base>.bias`.
    pub fn layer_bias(il: usize, base: &str) -> String {
        format!("blk.{il}.{base}.bias")
    }
}

// ---- helpers shared by the architecture files ----

/// `<arch>.<key>`.
fn key(arch: Architecture, k: &str) -> String {
    format!("{}.{k}", arch.name())
}

fn to_usize(key: &str, v: u64) -> Result<usize, ConfigError> {
    usize::try_from(v).map_err(|_| invalid(key, "too large for this platform"))
}

fn invalid(key: &str, why: &'static str) -> ConfigError {
    ConfigError::Gguf(GgufError::InvalidValue { key: key.to_string(), why })
}

/// The RoPE frequency scale as llama.cpp derives it: `<arch>.rope.scaling.type` (`none`,
/// `linear`; absent means linear) and `<arch>.rope.scaling.factor` (or the older
/// `<arch>.rope.scale_linear`); a factor of 0 or none means no scaling.
fn rope_freq_scale(gguf: &Gguf<'_>, arch: Architecture) -> Result<f32, ConfigError> {
    let type_key = key(arch, "rope.scaling.type");
    let kind = gguf.opt_str(&type_key)?.unwrap_or("linear");
    match kind {
        "none" => return Ok(1.0),
        "linear" => {}
        other => {
            return Err(ConfigError::Unsupported {
                key: type_key,
                what: format!("RoPE scaling type {other:?}"),
            });
        }
    }
    let factor_key = key(arch, "rope.scaling.factor");
    let factor = match gguf.opt_f32(&factor_key)? {
        Some(f) => Some(f),
        None => gguf.opt_f32(&key(arch, "rope.scale_linear"))?,
    }
    .unwrap_or(0.0);
    if factor == 0.0 {
        return Ok(1.0);
    }
    if !(factor.is_finite() && factor > 0.0) {
        return Err(invalid(&factor_key, "must be a positive finite number"));
    }
    Ok(1.0 / factor)
}

/// `sqrtf(x)` for `x >= 0` without a math library (this crate is `no_std` without libm):
/// Newton's iteration in f64 converges to the f64 square root within an ulp, and rounding that to
/// f32 is the correctly rounded f32 root, which C's `sqrtf` also returns.
fn sqrt_f32(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == 0.0 || x.is_infinite() {
        return x;
    }
    let v = f64::from(x);
    // Halving the exponent gives a first guess within a factor of two.
    let mut y = f64::from_bits((v.to_bits() >> 1) + (1023u64 << 51));
    for _ in 0..8 {
        y = 0.5 * (y + v / y);
    }
    y as f32
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::gguf::{GgufWriter, Value};

    /// A llama file's metadata (no tensors): 2 layers, 4 heads of 8, 2 KV heads.
    fn llama(extra: &[(&str, Value<'_>)]) -> Vec<u8> {
        let mut w = GgufWriter::new();
        w.add_string("general.architecture", "llama")
            .add_u32("llama.vocab_size", 100)
            .add_u32("llama.context_length", 256)
            .add_u32("llama.embedding_length", 32)
            .add_u32("llama.block_count", 2)
            .add_u32("llama.feed_forward_length", 64)
            .add_u32("llama.attention.head_count", 4)
            .add_u32("llama.attention.head_count_kv", 2)
            .add_f32("llama.attention.layer_norm_rms_epsilon", 1e-6);
        for (k, v) in extra {
            w.add_value(k, *v);
        }
        w.to_bytes().unwrap()
    }

    fn config(extra: &[(&str, Value<'_>)]) -> Result<ModelConfig, ConfigError> {
        ModelConfig::from_gguf(&Gguf::parse(&llama(extra)).unwrap())
    }

    #[test]
    fn llama_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.arch, Architecture::Llama);
        assert_eq!((c.n_vocab, c.n_embd, c.n_layer(), c.head_dim, c.n_ctx_train), (100, 32, 2, 8, 256));
        assert_eq!(
            c.rope,
            RopeConfig {
                kind: RopeKind::Norm,
                n_dims: 8,
                freq_base: 10_000.0,
                freq_scale: 1.0,
                has_freq_factors: false
            }
        );
        assert_eq!(c.rms_eps, 1e-6);
        assert_eq!(c.attn_scale, None);
        assert!(c.tied_output);
        assert_eq!(c.flags, ArchFlags::LLAMA);
        for l in &c.layers {
            assert_eq!((l.n_head, l.n_head_kv, l.n_ff), (4, 2, 64));
            assert_eq!((l.attention, l.ffn), (Attention::Full, Ffn::Dense));
        }
        assert_eq!((c.q_dim(0), c.k_dim(1), c.max_kv_dim(), c.max_n_ff()), (32, 16, 16, 64));
    }

    #[test]
    fn gemma3_windows_rope_bases_and_flags() {
        let mut w = GgufWriter::new();
        w.add_string("general.architecture", "gemma3")
            .add_u32("gemma3.vocab_size", 100)
            .add_u32("gemma3.embedding_length", 640)
            .add_u32("gemma3.block_count", 7)
            .add_u32("gemma3.feed_forward_length", 64)
            .add_u32("gemma3.attention.head_count", 4)
            .add_u32("gemma3.attention.head_count_kv", 1)
            .add_u32("gemma3.attention.key_length", 256)
            .add_u32("gemma3.attention.value_length", 256)
            .add_u32("gemma3.attention.sliding_window", 512)
            .add_f32("gemma3.rope.freq_base", 1_000_000.0)
            .add_f32("gemma3.attention.layer_norm_rms_epsilon", 1e-6);
        let bytes = w.to_bytes().unwrap();
        let c = ModelConfig::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
        assert_eq!(c.arch, Architecture::Gemma3);
        assert_eq!(c.hparams.swa_layers, [true, true, true, true, true, false, true]);
        for (il, l) in c.layers.iter().enumerate() {
            if il == 5 {
                assert_eq!((l.attention, l.rope_freq_base), (Attention::Full, 1_000_000.0));
            } else {
                assert_eq!((l.attention, l.rope_freq_base), (Attention::SlidingWindow(512), 10_000.0));
            }
        }
        assert_eq!(c.rope.kind, RopeKind::Neox);
        assert_eq!(c.flags.embedding_scale, Some(640f32.sqrt()));
        assert!(c.flags.qk_norm && c.flags.post_attn_norm && c.flags.post_ffn_norm && c.flags.query_scale);
        assert_eq!(
            (c.flags.ffn_act, c.flags.final_logit_softcap, c.attn_scale),
            (FfnActivation::GeluTanh, None, None)
        );
        // KV bytes: six layers keep 512 positions, one keeps the whole context.
        let per_pos = 256 * 2 * 2;
        assert_eq!(c.hparams.kv_cache_bytes(8192, 2), (6 * 512 + 8192) * per_pos);
        assert_eq!(c.hparams.kv_cache_bytes_full(8192, 2), 7 * 8192 * per_pos);
        assert_eq!(c.hparams.kv_cache_bytes(100, 2), 7 * 100 * per_pos);

        let mut w = GgufWriter::new();
        w.add_string("general.architecture", "gemma3")
            .add_u32("gemma3.embedding_length", 64)
            .add_u32("gemma3.block_count", 3)
            .add_u32("gemma3.feed_forward_length", 64)
            .add_u32("gemma3.attention.head_count", 4)
            .add_u32("gemma3.attention.sliding_window", 8)
            .add_u32("gemma3.attention.sliding_window_pattern", 2)
            .add_f32("gemma3.rope.freq_base_swa", 5.0)
            .add_f32("gemma3.final_logit_softcapping", 30.0)
            .add_u32("gemma3.vocab_size", 10)
            .add_f32("gemma3.attention.layer_norm_rms_epsilon", 1e-6);
        let bytes = w.to_bytes().unwrap();
        let c = ModelConfig::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
        assert_eq!(c.hparams.swa_layers, [true, false, true]);
        assert_eq!(c.layers[2].rope_freq_base, 5.0);
        assert_eq!(c.flags.final_logit_softcap, Some(30.0));
    }

    #[test]
    fn qwen_flags() {
        let mut w = GgufWriter::new();
        w.add_string("general.architecture", "qwen3")
            .add_u32("qwen3.embedding_length", 32)
            .add_u32("qwen3.block_count", 2)
            .add_u32("qwen3.feed_forward_length", 64)
            .add_u32("qwen3.attention.head_count", 4)
            .add_u32("qwen3.attention.key_length", 16)
            .add_u32("qwen3.attention.value_length", 16)
            .add_u32("qwen3.vocab_size", 10)
            .add_f32("qwen3.attention.layer_norm_rms_epsilon", 1e-6);
        let bytes = w.to_bytes().unwrap();
        let c = ModelConfig::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap();
        assert_eq!(
            (c.arch, c.rope.kind, c.head_dim, c.q_dim(0)),
            (Architecture::Qwen3, RopeKind::Neox, 16, 64)
        );
        assert!(c.flags.qk_norm && !c.flags.qkv_bias);
        assert!(c.layers.iter().all(|l| l.attention == Attention::Full));
    }

    #[test]
    fn sqrt_matches_std() {
        for x in [640.0f32, 168.0, 256.0, 2.0, 1e-30, 3.4e38, 0.5, 12345.678] {
            assert_eq!(sqrt_f32(x), x.sqrt(), "{x}");
        }
        let mut x = 1e-6f32;
        while x < 1e9 {
            assert_eq!(sqrt_f32(x), x.sqrt(), "{x}");
            x = x * 1.0137 + 1e-7;
        }
        assert!(sqrt_f32(-1.0).is_nan());
        assert_eq!(sqrt_f32(0.0), 0.0);
    }

    #[test]
    fn rope_scaling_keys() {
        let f = |extra: &[(&str, Value<'_>)]| config(extra).map(|c| c.rope.freq_scale);
        assert_eq!(f(&[("llama.rope.scaling.factor", Value::F32(4.0))]), Ok(0.25));
        assert_eq!(f(&[("llama.rope.scale_linear", Value::F32(2.0))]), Ok(0.5));
        let none = [
            ("llama.rope.scaling.type", Value::String(b"none")),
            ("llama.rope.scaling.factor", Value::F32(4.0)),
        ];
        assert_eq!(f(&none), Ok(1.0));
        assert!(matches!(
            f(&[("llama.rope.scaling.type", Value::String(b"yarn"))]),
            Err(ConfigError::Unsupported { .. })
        ));
        assert!(f(&[("llama.rope.scaling.factor", Value::F32(-1.0))]).is_err());
        let base = config(&[("llama.rope.freq_base", Value::F32(500_000.0))]).unwrap();
        assert!(base.layers.iter().all(|l| l.rope_freq_base == 500_000.0));
    }

    #[test]
    fn per_layer_values_experts_and_errors() {
        let c = config(&[("llama.expert_count", Value::U32(8)), ("llama.expert_used_count", Value::U32(2))])
            .unwrap();
        assert_eq!(c.layers[1].ffn, Ffn::MoE { n_expert: 8, n_used: 2 });
        assert!(
            config(&[("llama.expert_count", Value::U32(2)), ("llama.expert_used_count", Value::U32(3))])
                .is_err()
        );
        assert_eq!(config(&[("llama.attention.scale", Value::F32(0.125))]).unwrap().attn_scale, Some(0.125));
        let e = config(&[("llama.rope.dimension_count", Value::U32(4))]).unwrap_err();
        assert!(e.to_string().contains("llama.rope.dimension_count"), "{e}");

        let mut w = GgufWriter::new();
        w.add_string("general.architecture", "mamba");
        let bytes = w.to_bytes().unwrap();
        let e = ModelConfig::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap_err();
        assert_eq!(e, ConfigError::UnsupportedArchitecture("mamba".into()));
        assert!(e.to_string().contains("\"mamba\""));

        let mut w = GgufWriter::new();
        w.add_string("general.architecture", "llama")
            .add_u32("llama.block_count", 1)
            .add_u32("llama.embedding_length", 8);
        w.add_u32("llama.attention.head_count", 2).add_u32("llama.vocab_size", 10);
        let bytes = w.to_bytes().unwrap();
        let e = ModelConfig::from_gguf(&Gguf::parse(&bytes).unwrap()).unwrap_err();
        assert!(e.to_string().contains("layer_norm_rms_epsilon"), "{e}");
    }
}
