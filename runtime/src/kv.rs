//! The KV cache: per layer, the keys and values of every position, in f16 (default, as
//! llama.cpp) or f32.
//!
//! Layout, as llama.cpp's non-flash-attention cache: keys position-major (`[pos][kv_head][dim]`),
//! values transposed (`[kv_head * dim][pos]`) so that the attention-weighted sum of the values is
//! one dot product over positions per output value.

use alloc::vec::Vec;

use emberlm_models::ModelConfig;
use emberlm_quant::formats::f16::f32_to_f16;
use half::f16;

use crate::error::{Result, zeroed};

/// Element type of the KV cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KvType {
    /// IEEE half precision (llama.cpp's default `--cache-type-k/v f16`).
    #[default]
    F16,
    /// Single precision.
    F32,
}

impl KvType {
    /// Bytes per cached value.
    pub const fn bytes(self) -> usize {
        match self {
            Self::F16 => 2,
            Self::F32 => 4,
        }
    }
}

/// Storage of one layer's keys or values.
#[derive(Clone, Debug)]
pub(crate) enum KvBuf {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl KvBuf {
    fn new(ty: KvType, n: usize) -> Result<Self> {
        Ok(match ty {
            KvType::F16 => Self::F16(zeroed(n, "the KV cache")?),
            KvType::F32 => Self::F32(zeroed(n, "the KV cache")?),
        })
    }

    fn set(&mut self, i: usize, v: f32) {
        match self {
            Self::F16(b) => b[i] = f32_to_f16(v),
            Self::F32(b) => b[i] = v,
        }
    }
}

/// Keys and values of one layer.
#[derive(Clone, Debug)]
pub(crate) struct LayerKv {
    /// `n_ctx * k_dim`, position-major.
    pub(crate) k: KvBuf,
    /// `v_dim * n_ctx`, transposed.
    pub(crate) v: KvBuf,
    pub(crate) k_dim: usize,
    pub(crate) v_dim: usize,
}

/// The KV cache of a session: `n_ctx` positions in every layer.
#[derive(Clone, Debug)]
pub struct KvCache {
    ty: KvType,
    n_ctx: usize,
    pub(crate) layers: Vec<LayerKv>,
}

impl KvCache {
    /// Allocate a cache of `n_ctx` positions for `config` (sizes: [`KvCache::bytes`]).
    pub fn new(config: &ModelConfig, n_ctx: usize, ty: KvType) -> Result<Self> {
        let mut layers = Vec::new();
        layers.try_reserve_exact(config.n_layer()).map_err(|_| crate::Error::OutOfMemory {
            bytes: config.n_layer() * core::mem::size_of::<LayerKv>(),
            what: "the KV cache",
        })?;
        for il in 0..config.n_layer() {
            let (k_dim, v_dim) = (config.k_dim(il), config.v_dim(il));
            layers.push(LayerKv {
                k: KvBuf::new(ty, n_ctx * k_dim)?,
                v: KvBuf::new(ty, n_ctx * v_dim)?,
                k_dim,
                v_dim,
            });
        }
        Ok(Self { ty, n_ctx, layers })
    }

    /// Bytes a cache of `n_ctx` positions needs for `config`.
    pub fn bytes(config: &ModelConfig, n_ctx: usize, ty: KvType) -> usize {
        (0..config.n_layer()).map(|il| n_ctx * (config.k_dim(il) + config.v_dim(il)) * ty.bytes()).sum()
    }

    /// Element type.
    pub fn ty(&self) -> KvType {
        self.ty
    }

    /// Positions per layer.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Store the key `k` (`k_dim` values) and value `v` (`v_dim` values) of layer `il` at `pos`.
    pub(crate) fn store(&mut self, il: usize, pos: usize, k: &[f32], v: &[f32]) {
        let n_ctx = self.n_ctx;
        let l = &mut self.layers[il];
        for (i, &x) in k.iter().enumerate().take(l.k_dim) {
            l.k.set(pos * l.k_dim + i, x);
        }
        for (i, &x) in v.iter().enumerate().take(l.v_dim) {
            l.v.set(i * n_ctx + pos, x);
        }
    }
}
