//! A model bound to its weights: the [`ModelConfig`] plus every tensor it needs, validated
//! (present, right shape, usable type, aligned) and borrowed zero-copy from the GGUF bytes.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use emberlm_models::arch::{Ffn, tensor};
use emberlm_models::{Gguf, ModelConfig, QuantType, TensorView};
use emberlm_quant::Kernels;
use emberlm_quant::formats::f32::F32;

use crate::error::{Error, Result};
use crate::kv::KvType;
use crate::matmul::Matrix;
use crate::plan::MemoryPlan;

/// The weights of one layer.
#[derive(Clone, Debug)]
pub(crate) struct LayerWeights<'a> {
    pub(crate) attn_norm: &'a [f32],
    pub(crate) wq: Matrix<'a>,
    pub(crate) wk: Matrix<'a>,
    pub(crate) wv: Matrix<'a>,
    pub(crate) wo: Matrix<'a>,
    pub(crate) ffn_norm: &'a [f32],
    pub(crate) ffn_gate: Matrix<'a>,
    pub(crate) ffn_up: Matrix<'a>,
    pub(crate) ffn_down: Matrix<'a>,
    /// Per-head query and key norms (`qk_norm`), `[head_dim]` each.
    pub(crate) q_norm: Option<&'a [f32]>,
    pub(crate) k_norm: Option<&'a [f32]>,
    /// Q, K, V projection biases (`qkv_bias`).
    pub(crate) bq: Option<&'a [f32]>,
    pub(crate) bk: Option<&'a [f32]>,
    pub(crate) bv: Option<&'a [f32]>,
    /// Norms of the attention and feed-forward outputs (`post_attn_norm`, `post_ffn_norm`).
    pub(crate) attn_post_norm: Option<&'a [f32]>,
    pub(crate) ffn_post_norm: Option<&'a [f32]>,
}

/// A model ready to run: configuration and weights borrowed from the file's bytes.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    config: ModelConfig,
    pub(crate) tok_embd: Matrix<'a>,
    pub(crate) output_norm: &'a [f32],
    pub(crate) output: Matrix<'a>,
    pub(crate) rope_freqs: Option<&'a [f32]>,
    pub(crate) layers: Vec<LayerWeights<'a>>,
    /// The kernel table every product of this model runs on.
    pub(crate) kernels: &'static Kernels,
}

/// Tensor lookups that remember which tensors were used.
struct Binder<'g, 'a> {
    gguf: &'g Gguf<'a>,
    used: BTreeSet<&'a str>,
}

impl<'a> Binder<'_, 'a> {
    fn get(&mut self, name: &str, dims: &[usize]) -> Result<TensorView<'a>> {
        let t = self.gguf.find_tensor(name).ok_or_else(|| Error::MissingTensor { name: name.to_string() })?;
        let expected: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
        if t.dims() != expected.as_slice() {
            return Err(Error::TensorShape { name: name.to_string(), expected, found: t.dims().to_vec() });
        }
        self.used.insert(t.name());
        Ok(t)
    }

    /// A 2-D weight `[n_cols, n_rows]`.
    fn matrix(&mut self, name: &str, n_cols: usize, n_rows: usize) -> Result<Matrix<'a>> {
        let t = self.get(name, &[n_cols, n_rows])?;
        Matrix::from_tensor(&t)
    }

    /// A 1-D f32 vector (norm weights, RoPE factors).
    fn vector(&mut self, name: &str, n: usize) -> Result<&'a [f32]> {
        let t = self.get(name, &[n])?;
        if t.ty() != QuantType::F32 {
            return Err(Error::TensorType { name: name.to_string(), ty: t.ty(), why: "expected f32" });
        }
        t.blocks::<F32>().map_err(|_| Error::Misaligned { name: name.to_string() })
    }
}

impl<'a> Model<'a> {
    /// Read the configuration of `gguf` and bind its weights.
    pub fn from_gguf(gguf: &Gguf<'a>) -> Result<Self> {
        let config = ModelConfig::from_gguf(gguf)?;
        Self::bind(gguf, config)
    }

    /// Bind the weights of `gguf` for `config`. Every tensor the configuration needs must be
    /// present with the right shape and a usable type, and every tensor in the file must be
    /// used (as llama.cpp checks): a clear error names the first tensor that is not.
    pub fn bind(gguf: &Gguf<'a>, config: ModelConfig) -> Result<Self> {
        check_supported(&config)?;
        let mut b = Binder { gguf, used: BTreeSet::new() };
        let (n_embd, n_vocab) = (config.n_embd, config.n_vocab);

        let tok_embd = b.matrix(tensor::TOKEN_EMBD, n_embd, n_vocab)?;
        let output_norm = b.vector(tensor::OUTPUT_NORM, n_embd)?;
        let output = if config.tied_output { tok_embd } else { b.matrix(tensor::OUTPUT, n_embd, n_vocab)? };
        let rope_freqs = if config.rope.has_freq_factors {
            Some(b.vector(tensor::ROPE_FREQS, config.rope.n_dims / 2)?)
        } else {
            None
        };

        let mut layers = Vec::with_capacity(config.n_layer());
        let f = config.flags;
        for (il, spec) in config.layers.iter().enumerate() {
            let name = |base: &str| tensor::layer(il, base);
            let bias = |base: &str| tensor::layer_bias(il, base);
            let (q_dim, k_dim, v_dim) = (config.q_dim(il), config.k_dim(il), config.v_dim(il));
            let hd = config.head_dim;
            let mut opt =
                |on: bool, name: &str, n: usize| if on { b.vector(name, n).map(Some) } else { Ok(None) };
            let q_norm = opt(f.qk_norm, &name(tensor::ATTN_Q_NORM), hd)?;
            let k_norm = opt(f.qk_norm, &name(tensor::ATTN_K_NORM), hd)?;
            let bq = opt(f.qkv_bias, &bias(tensor::ATTN_Q), q_dim)?;
            let bk = opt(f.qkv_bias, &bias(tensor::ATTN_K), k_dim)?;
            let bv = opt(f.qkv_bias, &bias(tensor::ATTN_V), v_dim)?;
            let attn_post_norm = opt(f.post_attn_norm, &name(tensor::ATTN_POST_NORM), n_embd)?;
            let ffn_post_norm = opt(f.post_ffn_norm, &name(tensor::FFN_POST_NORM), n_embd)?;
            layers.push(LayerWeights {
                q_norm,
                k_norm,
                bq,
                bk,
                bv,
                attn_post_norm,
                ffn_post_norm,
                attn_norm: b.vector(&name(tensor::ATTN_NORM), n_embd)?,
                wq: b.matrix(&name(tensor::ATTN_Q), n_embd, q_dim)?,
                wk: b.matrix(&name(tensor::ATTN_K), n_embd, k_dim)?,
                wv: b.matrix(&name(tensor::ATTN_V), n_embd, v_dim)?,
                wo: b.matrix(&name(tensor::ATTN_OUTPUT), q_dim, n_embd)?,
                ffn_norm: b.vector(&name(tensor::FFN_NORM), n_embd)?,
                ffn_gate: b.matrix(&name(tensor::FFN_GATE), n_embd, spec.n_ff)?,
                ffn_up: b.matrix(&name(tensor::FFN_UP), n_embd, spec.n_ff)?,
                ffn_down: b.matrix(&name(tensor::FFN_DOWN), spec.n_ff, n_embd)?,
            });
        }
        if let Some(t) = gguf.tensors().iter().find(|t| !b.used.contains(t.name())) {
            return Err(Error::UnusedTensor { name: t.name().to_string() });
        }
        Ok(Self { config, tok_embd, output_norm, output, rope_freqs, layers, kernels: default_kernels()? })
    }

    /// The kernel table the model's products run on (see [`emberlm_quant::kernels`]).
    pub fn kernels(&self) -> &'static Kernels {
        self.kernels
    }

    /// Run the model's products on `kernels` instead (tests and benches compare tiers this way).
    pub fn with_kernels(mut self, kernels: &'static Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Every matrix weight, in forward order (the token embedding first, the output last).
    pub fn matrices(&self) -> impl Iterator<Item = &Matrix<'a>> {
        core::iter::once(&self.tok_embd)
            .chain(
                self.layers.iter().flat_map(|l| {
                    [&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down].into_iter()
                }),
            )
            .chain(core::iter::once(&self.output))
    }

    /// The memory a session of `n_ctx` positions, prefilling at most `n_batch` tokens per
    /// forward pass, needs with a cache of type `kv`.
    pub fn memory_plan(&self, n_ctx: usize, n_batch: usize, kv: KvType) -> Result<MemoryPlan> {
        let types: Vec<QuantType> = self.matrices().skip(1).map(|m| m.ty()).collect();
        MemoryPlan::new(&self.config, &types, n_ctx, n_batch, kv)
    }
}

/// The process's kernel table: `EMBERLM_TIER` or the best tier the CPU runs (std), the best tier
/// the build targets (no_std).
fn default_kernels() -> Result<&'static Kernels> {
    #[cfg(feature = "std")]
    return Kernels::from_env().map_err(|e| Error::Unsupported { what: e.to_string() });
    #[cfg(not(feature = "std"))]
    Ok(Kernels::best())
}

/// Reject configurations using features the forward pass does not implement yet, naming them.
fn check_supported(c: &ModelConfig) -> Result<()> {
    let mut missing: Vec<String> = vec![];
    let f = &c.flags;
    let mut flag = |on: bool, what: &str| {
        if on {
            missing.push(what.to_string());
        }
    };
    flag(f.attn_logit_softcap.is_some(), "attention logit soft-capping");
    flag(c.layers.iter().any(|l| matches!(l.ffn, Ffn::MoE { .. })), "mixture-of-experts layers");
    flag(c.head_dim != c.head_dim_v, "different key and value head sizes");
    if c.layers.iter().any(|l| l.n_head_kv == 0 || l.n_head % l.n_head_kv != 0) {
        return Err(Error::Unsupported { what: "a head count not divisible by the KV head count".into() });
    }
    if c.rope.n_dims > c.head_dim || c.rope.n_dims % 2 != 0 {
        return Err(Error::Unsupported {
            what: format!("RoPE over {} of {} head dims", c.rope.n_dims, c.head_dim),
        });
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Unsupported { what: format!("{} ({})", missing.join(", "), c.arch) })
    }
}
