//! The KV cache: per layer, the keys and values of the positions the layer attends to, in f16
//! (default, as llama.cpp) or f32.
//!
//! Each layer holds `cap` slots and position `p` lives in slot `p % cap`. A full-attention layer
//! has `cap = n_ctx` (slot = position). A sliding-window layer of window `W` is a ring buffer of
//! `cap = min(W, n_ctx)` slots: memory is bounded by the window whatever the context, and after
//! position `p` is stored its slots hold exactly the positions `p - W + 1 ..= p` that llama.cpp's
//! mask leaves visible (`p - p0 < W`), so attention reads slots `0..min(p + 1, cap)` with no mask.
//! (The order of the slots differs from the order of the positions once the ring wraps; llama.cpp
//! likewise sums over cache cells in cell order.)
//!
//! Layout, as llama.cpp's non-flash-attention cache: keys slot-major (`[slot][kv_head][dim]`),
//! values transposed (`[kv_head * dim][slot]`) so that the attention-weighted sum of the values is
//! one dot product over slots per output value.

use alloc::vec::Vec;

use emberlm_models::ModelConfig;
use emberlm_models::arch::Attention;
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
    /// `cap * k_dim`, slot-major.
    pub(crate) k: KvBuf,
    /// `v_dim * cap`, transposed.
    pub(crate) v: KvBuf,
    pub(crate) k_dim: usize,
    pub(crate) v_dim: usize,
    /// Slots: `n_ctx`, or the window of a sliding-window layer if smaller.
    pub(crate) cap: usize,
}

impl LayerKv {
    /// Slots holding the positions visible from `pos` (once `pos` is stored): `0..n`.
    pub(crate) fn n_visible(&self, pos: usize) -> usize {
        (pos + 1).min(self.cap)
    }
}

/// The KV cache of a session: `n_ctx` positions in every full-attention layer, the last
/// `window` positions in every sliding-window layer.
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
            let cap = Self::slots(config, il, n_ctx);
            layers.push(LayerKv {
                k: KvBuf::new(ty, cap * k_dim)?,
                v: KvBuf::new(ty, cap * v_dim)?,
                k_dim,
                v_dim,
                cap,
            });
        }
        Ok(Self { ty, n_ctx, layers })
    }

    /// Slots of layer `il` in a context of `n_ctx`.
    pub fn slots(config: &ModelConfig, il: usize, n_ctx: usize) -> usize {
        match config.layers[il].attention {
            Attention::Full => n_ctx,
            Attention::SlidingWindow(w) => n_ctx.min(w.max(1)),
        }
    }

    /// Bytes a cache of `n_ctx` positions needs for `config` (sliding-window layers keep their
    /// window only).
    pub fn bytes(config: &ModelConfig, n_ctx: usize, ty: KvType) -> usize {
        (0..config.n_layer())
            .map(|il| Self::slots(config, il, n_ctx) * (config.k_dim(il) + config.v_dim(il)) * ty.bytes())
            .sum()
    }

    /// Bytes a naive cache holding all `n_ctx` positions in every layer would need.
    pub fn bytes_full(config: &ModelConfig, n_ctx: usize, ty: KvType) -> usize {
        (0..config.n_layer()).map(|il| n_ctx * (config.k_dim(il) + config.v_dim(il)) * ty.bytes()).sum()
    }

    /// Whether a cache holding positions `0..n_past` still holds everything a context truncated
    /// to `n` positions attends to: false when a sliding-window ring has already overwritten a
    /// position of the window before `n` with one at or after `n` (rewinding by one position is
    /// always possible).
    pub fn can_truncate(&self, n_past: usize, n: usize) -> bool {
        self.layers.iter().all(|l| {
            // Position q < n (needed while q > n - cap) shares its slot with q + cap, written if
            // q + cap < n_past. The smallest such q + cap is max(n + 1, cap).
            n == 0 || l.cap <= 1 || l.cap >= self.n_ctx || n_past <= (n + 1).max(l.cap)
        })
    }

    /// Element type.
    pub fn ty(&self) -> KvType {
        self.ty
    }

    /// Positions per layer.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Store the key `k` (`k_dim` values) and value `v` (`v_dim` values) of layer `il` at `pos`
    /// (in slot `pos % cap`).
    pub(crate) fn store(&mut self, il: usize, pos: usize, k: &[f32], v: &[f32]) {
        let l = &mut self.layers[il];
        let (cap, slot) = (l.cap, pos % l.cap);
        for (i, &x) in k.iter().enumerate().take(l.k_dim) {
            l.k.set(slot * l.k_dim + i, x);
        }
        for (i, &x) in v.iter().enumerate().take(l.v_dim) {
            l.v.set(i * cap + slot, x);
        }
    }
}
