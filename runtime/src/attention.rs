//! Causal grouped-query attention over the KV cache, with the arithmetic of llama.cpp's
//! non-flash CPU path (`kq = mul_mat(k, q)`, `soft_max_ext`, `kqv = mul_mat(v, kq)`):
//!
//! - with an f16 cache the query head is rounded to f16 and each score is an f16 dot with the
//!   key; an f32 cache uses f32 dots;
//! - the scores go through [`softmax_scaled`] (scale, max subtraction, f64 sum);
//! - the probabilities are rounded to the cache type and each output value is one dot of a
//!   (transposed) value row with them.
//!
//! Every dot is the lane-ordered one of [`emberlm_quant::lanes`] (32 f32 lanes, a fixed
//! reduction tree), through the model's kernel table: SIMD-fast, and the same bits on every
//! kernel tier, so the tier never changes a score (and so never flips the 8-bit rounding of a
//! later activation). llama.cpp's own SIMD dots sum in f32 lanes too, in its own order; the
//! fidelity tests bound the difference.
//!
//! Masked positions (the future; outside a sliding window) are skipped: in llama.cpp they get
//! `-inf`, hence probability exactly 0, and add exactly 0 to every sum. The cache
//! ([`crate::kv`]) holds exactly the visible positions of a layer in slots `0..n_visible`, so a
//! sliding-window layer's ring buffer needs no mask either; the scores and probabilities are in
//! slot order.

use alloc::vec::Vec;

use emberlm_models::arch::LayerSpec;
use emberlm_quant::Kernels;
use emberlm_quant::formats::f16::f32_to_f16;
use half::f16;

use crate::error::{Result, zeroed};
use crate::kv::{KvBuf, KvCache};
use crate::ops::softmax_scaled;

/// Per-token attention scratch: scores over the context, their f16 copy and an f16 query head.
#[derive(Clone, Debug)]
pub(crate) struct AttnScratch {
    scores: Vec<f32>,
    probs16: Vec<f16>,
    q16: Vec<f16>,
}

impl AttnScratch {
    pub(crate) fn new(n_ctx: usize, head_dim: usize) -> Result<Self> {
        Ok(Self {
            scores: zeroed(n_ctx, "attention scores")?,
            probs16: zeroed(n_ctx, "attention scores")?,
            q16: zeroed(head_dim, "attention scores")?,
        })
    }

    /// Bytes [`AttnScratch::new`] allocates.
    pub(crate) fn bytes(n_ctx: usize, head_dim: usize) -> usize {
        n_ctx * (4 + 2) + head_dim * 2
    }
}

/// The shape of one layer's attention.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttnShape {
    pub(crate) n_head: usize,
    pub(crate) n_head_kv: usize,
    pub(crate) head_dim: usize,
    pub(crate) head_dim_v: usize,
    pub(crate) scale: f32,
}

impl AttnShape {
    pub(crate) fn new(spec: &LayerSpec, head_dim: usize, head_dim_v: usize, scale: f32) -> Self {
        Self { n_head: spec.n_head, n_head_kv: spec.n_head_kv, head_dim, head_dim_v, scale }
    }
}

/// Attention of the token at position `pos` (whose key and value are the last stored in layer
/// `il` of the cache) in layer `il`: `q` holds its `n_head` query heads, `out` receives `n_head`
/// value-sized heads. The dots run on `kernels` (every tier gives the same bits).
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend(
    kernels: &Kernels,
    kv: &KvCache,
    il: usize,
    shape: &AttnShape,
    q: &[f32],
    pos: usize,
    s: &mut AttnScratch,
    out: &mut [f32],
) {
    let layer = &kv.layers[il];
    let cap = layer.cap;
    let n = layer.n_visible(pos);
    let (hd, hdv) = (shape.head_dim, shape.head_dim_v);
    let group = shape.n_head / shape.n_head_kv;
    for h in 0..shape.n_head {
        let kvh = h / group;
        let qh = &q[h * hd..(h + 1) * hd];
        let scores = &mut s.scores[..n];
        match &layer.k {
            KvBuf::F16(k) => {
                for (d, &x) in s.q16.iter_mut().zip(qh) {
                    *d = f32_to_f16(x);
                }
                for (j, sc) in scores.iter_mut().enumerate() {
                    let off = j * layer.k_dim + kvh * hd;
                    *sc = (kernels.lanes_dot_f16)(&k[off..off + hd], &s.q16[..hd]);
                }
            }
            KvBuf::F32(k) => {
                for (j, sc) in scores.iter_mut().enumerate() {
                    let off = j * layer.k_dim + kvh * hd;
                    *sc = (kernels.lanes_dot_f32)(&k[off..off + hd], qh);
                }
            }
        }
        softmax_scaled(scores, shape.scale);
        let oh = &mut out[h * hdv..(h + 1) * hdv];
        match &layer.v {
            KvBuf::F16(v) => {
                let p16 = &mut s.probs16[..n];
                for (d, &p) in p16.iter_mut().zip(scores.iter()) {
                    *d = f32_to_f16(p);
                }
                for (i, o) in oh.iter_mut().enumerate() {
                    let row = (kvh * hdv + i) * cap;
                    *o = (kernels.lanes_dot_f16)(&v[row..row + n], p16);
                }
            }
            KvBuf::F32(v) => {
                for (i, o) in oh.iter_mut().enumerate() {
                    let row = (kvh * hdv + i) * cap;
                    *o = (kernels.lanes_dot_f32)(&v[row..row + n], scores);
                }
            }
        }
    }
}
