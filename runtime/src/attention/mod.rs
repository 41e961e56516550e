//! Causal grouped-query attention over the KV cache, with the arithmetic of llama.cpp's
//! non-flash CPU path (`kq = mul_mat(k, q)`, `soft_max_ext`, `kqv = mul_mat(v, kq)`):
//!
//! - with an f16 cache the query head is rounded to f16 and each score is an f16 dot with the
//!   key; an f32 cache uses f32 dots;
//! - the scores go through [`softmax_scaled`] (scale, max subtraction, ggml's vector `exp`,
//!   chunk sums in f32 added in f64);
//! - the probabilities are rounded to the cache type and each output value is one dot of a
//!   (transposed) value row with them.
//!
//! Every dot is llama.cpp's own x86-64 one ([`emberlm_quant::lanes`]), through the model's kernel
//! table: SIMD-fast, and the same bits on every kernel tier. Which one depends on the batch, as
//! in llama.cpp: a batch of two tokens or more runs llamafile's tinyBLAS (`DotOrder::Tinyblas`:
//! the key length, resp. llama.cpp's padded KV length, must be a multiple of 8 and the other
//! dimension of 4, else llama.cpp falls back to `ggml_vec_dot_f16`), a single token
//! `ggml_vec_dot_f16` (`VecDot` over the head for the scores, `VecDotPadded` over the KV length
//! for the values, whose llama.cpp length is a multiple of 256). An f32 cache follows the same
//! paths with ggml's f32 dots, except that llama.cpp's batched scores take `ggml_vec_dot_f32`
//! (tinyBLAS is only tried on a contiguous query).
//!
//! The positions are in llama.cpp's cell order (slot `j` of a fresh sequence is its cell `j`), and
//! llama.cpp's KV length is a multiple of 256, so every 8- and 32-value chunk boundary falls where
//! it falls in llama.cpp and the masked cells (probability 0) add exactly nothing: the scores,
//! probabilities and outputs are llama.cpp's bits. Once a sliding-window layer's ring has
//! wrapped, llama.cpp's sliding-window cache holds the positions in other cells than our ring's
//! slots: the softmax then runs over the scores laid out in its cell order, and the value product
//! over the probabilities (and, where the slots do not ascend in that order, a copy of the value
//! rows) laid out likewise ([`crate::cells`]): the same chunks and lane orders, the same bits (f16
//! cache; the f32 and q8_0 value sums stay in slot order).
//!
//! With a q8_0 cache (llama.cpp's `-ctk q8_0 -ctv q8_0`) the query head is quantized to q8_0 and
//! each score is the kernels' `q8_0 x q8_0` dot (bit-identical on every tier); the values are
//! slot-major, so the output is the probability-weighted sum of the dequantized value rows,
//! accumulated in f32 in slot order (as llama.cpp's flash path does for a quantized V cache,
//! which is the only way it runs one).
//!
//! One token decoded on several threads ([`attend_split`]) splits the keys, then the value rows,
//! between the threads instead of the query heads: every thread reads its own share of the cache
//! once for all the heads, where a split by heads has every thread read the whole cache of a KV
//! head its query heads share (Gemma 3: 4 query heads, one KV head). Each score, probability and
//! output is still computed by the same dot as above: the same bits.
//!
//! Masked positions (the future; outside a sliding window) are skipped: in llama.cpp they get
//! `-inf`, hence probability exactly 0, and add exactly 0 to every sum. The cache
//! ([`crate::kv`]) holds exactly the visible positions of a layer in slots `0..n_visible`, so a
//! sliding-window layer's ring buffer needs no mask either; the scores are computed in slot order.

use alloc::vec::Vec;
use core::ops::Range;

use emberlm_models::ModelConfig;
use emberlm_models::arch::LayerSpec;
use emberlm_quant::formats::q8_0::{BlockQ8_0, Q8_0, quantize_activations};
use emberlm_quant::lanes::DotOrder;
use emberlm_quant::{Format, Kernels};
use half::f16;

use crate::cells::CellOrder;
use crate::error::{Result, zeroed};
use crate::kv::{KvBuf, KvCache, zeroed_q8_0};
use crate::ops::softmax_scaled;
use crate::threads::{Pool, part_of};

/// One thread's attention scratch: for the query heads of one KV head (its group), their scores
/// over the context, their f16 copies, their f16 query heads; a q8_0 query head, one dequantized
/// value row; a RoPE cache.
#[derive(Clone, Debug)]
pub(crate) struct AttnScratch {
    scores: Vec<f32>,
    probs16: Vec<f16>,
    q16: Vec<f16>,
    q8: Vec<BlockQ8_0>,
    vrow: Vec<f32>,
    /// A RoPE cache (`head_dim` values) for the thread's share of a batch's rows.
    rope: Vec<f32>,
    /// A ring's scores in llama.cpp's cell order (`span` values; [`crate::cells`]).
    virt: Vec<f32>,
    /// [`CELL_ROWS`] value rows in that order (`CELL_ROWS * span`), when it is not the slots',
    /// and their products with a group's probabilities.
    vrot: Vec<f16>,
    vout: Vec<f32>,
}

/// The most query heads any layer of `config` has per KV head.
pub(crate) fn max_group(config: &ModelConfig) -> usize {
    config.layers.iter().map(|l| l.n_head / l.n_head_kv.max(1)).max().unwrap_or(1).max(1)
}

impl AttnScratch {
    /// For a context of `n_ctx`, heads of `head_dim` and `head_dim_v`, `group` query heads per KV
    /// head, and rings whose cell order spans up to `span` values
    /// ([`KvCache::max_cell_span`](crate::kv::KvCache::max_cell_span); 0 without rings).
    pub(crate) fn new(
        n_ctx: usize,
        head_dim: usize,
        head_dim_v: usize,
        group: usize,
        span: usize,
    ) -> Result<Self> {
        Ok(Self {
            scores: zeroed(group * n_ctx.next_multiple_of(8), "attention scores")?,
            probs16: zeroed(group * n_ctx.max(span), "attention scores")?,
            q16: zeroed(group * head_dim, "attention scores")?,
            q8: zeroed_q8_0(head_dim.div_ceil(Q8_0::ELEMS), "attention scores")?,
            vrow: zeroed(head_dim_v, "attention scores")?,
            rope: zeroed(head_dim, "the RoPE cache")?,
            virt: zeroed(span, "attention scores")?,
            vrot: zeroed(CELL_ROWS * span, "attention scores")?,
            vout: zeroed(if span > 0 { CELL_ROWS * group } else { 0 }, "attention scores")?,
        })
    }

    /// Bytes a thread's scratch takes: what [`AttnScratch::new`] allocates, and the scratch
    /// itself (the session keeps one per thread in a vector).
    pub(crate) fn bytes(
        n_ctx: usize,
        head_dim: usize,
        head_dim_v: usize,
        group: usize,
        span: usize,
    ) -> usize {
        group * (n_ctx.next_multiple_of(8) * 4 + n_ctx.max(span) * 2 + head_dim * 2)
            + head_dim.div_ceil(Q8_0::ELEMS) * core::mem::size_of::<BlockQ8_0>()
            + head_dim_v * 4
            + head_dim * 4
            + span * (4 + CELL_ROWS * 2)
            + if span > 0 { CELL_ROWS * group * 4 } else { 0 }
            + core::mem::size_of::<Self>()
    }

    /// The thread's RoPE cache (`head_dim` values).
    pub(crate) fn rope_cache(&mut self) -> &mut [f32] {
        &mut self.rope
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
/// `il` of the cache) in layer `il`, for query heads `heads`: `q` holds all its `n_head` query
/// heads, `out` receives the `heads.len()` value-sized heads of `heads` (the heads are
/// independent: threads may share them out). `batched`: the token is part of a batch of two or
/// more (llama.cpp's tinyBLAS products) rather than alone (its `ggml_vec_dot_f16`). The dots run
/// on `kernels` (every tier gives the same bits).
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend(
    kernels: &Kernels,
    kv: &KvCache,
    il: usize,
    shape: &AttnShape,
    q: &[f32],
    pos: usize,
    heads: Range<usize>,
    s: &mut AttnScratch,
    out: &mut [f32],
    batched: bool,
) {
    let h0 = heads.start;
    let layer = &kv.layers[il];
    let cap = layer.cap;
    let n = layer.n_visible(pos);
    let (hd, hdv) = (shape.head_dim, shape.head_dim_v);
    let group = shape.n_head / shape.n_head_kv;
    // llama.cpp's tinyBLAS needs k % 8 == 0 and m % 4 == 0 (m, k: rows and length of its A).
    let (kq_f16, kqv_f16) = if batched {
        let kq = if hd % 8 == 0 { DotOrder::Tinyblas } else { DotOrder::VecDot };
        (kq, if hdv % 4 == 0 { DotOrder::Tinyblas } else { DotOrder::VecDotPadded })
    } else {
        (DotOrder::VecDot, DotOrder::VecDotPadded)
    };
    let (kq_f32, kqv_f32) = (DotOrder::VecDot, kqv_f16);
    let n8 = n.next_multiple_of(8);
    // llama.cpp's cell order of a wrapped ring, and whether the value rows need reordering for
    // it (f16 only: the f32 and q8_0 value sums keep the slot order)
    let order = kv.cell_order(il, pos);
    let rot = order.filter(|o| !o.ascending());
    // the heads of one KV head (a group, or the part of it in `heads`) together: they share
    // their keys and value rows
    let mut h = heads.start;
    while h < heads.end {
        let kvh = h / group;
        let hs = h..((kvh + 1) * group).min(heads.end);
        let ng = hs.len();
        // the scores of head `hs.start + i` in `s.scores[i * n8..][..n]`
        match &layer.k {
            KvBuf::F16(k) => {
                let q16 = &mut s.q16[..ng * hd];
                for (qi, hh) in q16.chunks_exact_mut(hd).zip(hs.clone()) {
                    (kernels.quantize_f16)(&q[hh * hd..(hh + 1) * hd], qi);
                }
                (kernels.lanes_dot_f16_rows)(
                    &k[kvh * hd..],
                    layer.k_dim,
                    q16,
                    ng,
                    kq_f16,
                    &mut s.scores[..ng * n],
                );
                // from rows of n to rows of n8, the last first (the rows move right)
                for i in (1..ng).rev() {
                    s.scores.copy_within(i * n..(i + 1) * n, i * n8);
                }
            }
            KvBuf::F32(k) => {
                for (i, hh) in hs.clone().enumerate() {
                    let qh = &q[hh * hd..(hh + 1) * hd];
                    for (j, sc) in s.scores[i * n8..i * n8 + n].iter_mut().enumerate() {
                        let off = j * layer.k_dim + kvh * hd;
                        *sc = (kernels.lanes_dot_f32)(&k[off..off + hd], qh, kq_f32);
                    }
                }
            }
            KvBuf::Q8_0(k) => {
                let nb = hd / Q8_0::ELEMS;
                let row = layer.k_dim / Q8_0::ELEMS;
                for (i, hh) in hs.clone().enumerate() {
                    let q8 = &mut s.q8[..nb];
                    quantize_activations(&q[hh * hd..(hh + 1) * hd], q8);
                    for (j, sc) in s.scores[i * n8..i * n8 + n].iter_mut().enumerate() {
                        let off = j * row + kvh * nb;
                        *sc = (kernels.dot_q8_0)(&k[off..off + nb], q8);
                    }
                }
            }
        }
        for sc in s.scores[..ng * n8].chunks_exact_mut(n8) {
            softmax_cells(kernels, order.as_ref(), sc, n, &mut s.virt, shape.scale);
        }
        let og = &mut out[(hs.start - h0) * hdv..(hs.end - h0) * hdv];
        match &layer.v {
            KvBuf::F16(v) => {
                let pl = probs_len(rot.as_ref(), n);
                let p16 = &mut s.probs16[..ng * pl];
                for (p, sc) in p16.chunks_exact_mut(pl).zip(s.scores.chunks_exact(n8)) {
                    probs_f16(kernels, rot.as_ref(), &sc[..n], p);
                }
                let v = &v[kvh * hdv * cap..(kvh + 1) * hdv * cap];
                if let Some(o) = &rot {
                    let p16 = &s.probs16[..ng * pl];
                    values_in_cells(kernels, o, v, cap, p16, ng, kqv_f16, (&mut s.vrot, &mut s.vout), og);
                } else {
                    (kernels.lanes_dot_f16_rows)(v, cap, p16, ng, kqv_f16, og);
                }
            }
            KvBuf::F32(v) => {
                for (oh, sc) in og.chunks_exact_mut(hdv).zip(s.scores.chunks_exact(n8)) {
                    for (i, o) in oh.iter_mut().enumerate() {
                        let row = (kvh * hdv + i) * cap;
                        *o = (kernels.lanes_dot_f32)(&v[row..row + n], &sc[..n], kqv_f32);
                    }
                }
            }
            KvBuf::Q8_0(v) => {
                let nb = hdv / Q8_0::ELEMS;
                let row = layer.v_dim / Q8_0::ELEMS;
                let vrow = &mut s.vrow[..hdv];
                for (oh, sc) in og.chunks_exact_mut(hdv).zip(s.scores.chunks_exact(n8)) {
                    oh.fill(0.0);
                    for (j, &p) in sc[..n].iter().enumerate() {
                        let off = j * row + kvh * nb;
                        Q8_0::dequantize(&v[off..off + nb], vrow);
                        for (o, &x) in oh.iter_mut().zip(vrow.iter()) {
                            *o += p * x;
                        }
                    }
                }
            }
        }
        h = hs.end;
    }
}

/// One head's softmax: `sc[..n]` its scores in slot order (`sc` holds at least `n` rounded up
/// to 8), left as its probabilities in slot order. A wrapped ring's scores go through `virt`
/// in llama.cpp's cell order ([`crate::cells`]: its chunks of 8, in its order); else the slots
/// are the cells and `sc` is used in place, padded with `-inf` (probability 0) to a chunk.
fn softmax_cells(
    kernels: &Kernels,
    order: Option<&CellOrder>,
    sc: &mut [f32],
    n: usize,
    virt: &mut [f32],
    scale: f32,
) {
    let Some(o) = order else {
        sc[n..n.next_multiple_of(8)].fill(f32::NEG_INFINITY);
        return softmax_scaled(kernels, &mut sc[..n.next_multiple_of(8)], scale);
    };
    let virt = &mut virt[..o.len().next_multiple_of(8)];
    virt.fill(f32::NEG_INFINITY);
    for r in o.runs() {
        virt[r.at..r.at + r.len].copy_from_slice(&sc[r.slot..r.slot + r.len]);
    }
    softmax_scaled(kernels, virt, scale);
    for r in o.runs() {
        sc[r.slot..r.slot + r.len].copy_from_slice(&virt[r.at..r.at + r.len]);
    }
}

/// Length of one head's f16 probabilities in the value product: the `n` slots, or the virtual
/// row (a multiple of 32) of a cell order whose slots do not ascend.
fn probs_len(rot: Option<&CellOrder>, n: usize) -> usize {
    rot.map_or(n, |o| o.len().next_multiple_of(32))
}

/// One head's probabilities (`p`, slot order) rounded to f16 into `p16`, laid out as the value
/// product reads them ([`probs_len`]): in slot order, or at the virtual indices of `rot` with
/// zeros between the runs.
fn probs_f16(kernels: &Kernels, rot: Option<&CellOrder>, p: &[f32], p16: &mut [f16]) {
    let Some(o) = rot else {
        return (kernels.quantize_f16)(p, p16);
    };
    p16.fill(f16::ZERO);
    for r in o.runs() {
        (kernels.quantize_f16)(&p[r.slot..r.slot + r.len], &mut p16[r.at..r.at + r.len]);
    }
}

/// Value rows copied at a time into a ring's cell order: they stay in L1 (16 rows of ~600 f16)
/// with the probabilities they meet.
const CELL_ROWS: usize = 16;

/// The value product in `rot`'s cell order: the rows of `v` (`cap` slots each; as many as `out`
/// has per vector) with the `n_y` probability vectors `y` (each in `rot`'s virtual layout,
/// [`probs_len`]), `out[j * n_rows + r]`. The rows are copied [`CELL_ROWS`] at a time into
/// `buf.0` at their virtual indices (zeros between the runs: they meet probability 0), and each
/// copy goes through the kernel's rows product (the same bits as one long product).
#[allow(clippy::too_many_arguments)]
fn values_in_cells(
    kernels: &Kernels,
    rot: &CellOrder,
    v: &[f16],
    cap: usize,
    y: &[f16],
    n_y: usize,
    order: DotOrder,
    (rows, outs): (&mut [f16], &mut [f32]),
    out: &mut [f32],
) {
    let len = y.len() / n_y;
    let n_rows = out.len() / n_y;
    for r0 in (0..n_rows).step_by(CELL_ROWS) {
        let nr = CELL_ROWS.min(n_rows - r0);
        let rows = &mut rows[..nr * len];
        for (i, row) in rows.chunks_exact_mut(len).enumerate() {
            let src = &v[(r0 + i) * cap..];
            let mut end = 0;
            for r in rot.runs() {
                row[end..r.at].fill(f16::ZERO);
                row[r.at..r.at + r.len].copy_from_slice(&src[r.slot..r.slot + r.len]);
                end = r.at + r.len;
            }
            row[end..].fill(f16::ZERO);
        }
        let outs = &mut outs[..n_y * nr];
        (kernels.lanes_dot_f16_rows)(rows, len, y, n_y, order, outs);
        for (j, o) in outs.chunks_exact(nr).enumerate() {
            out[j * n_rows + r0..][..nr].copy_from_slice(o);
        }
    }
}

/// Parts per thread of the keys and of the value rows in [`attend_split`].
const SPLIT_PARTS_PER_THREAD: usize = 4;

/// Fewest visible keys for which [`attend_split`] pays: below, the three synchronisations cost
/// more than reading a KV head's cache on every thread.
pub(crate) const SPLIT_MIN_KEYS: usize = 256;

/// The buffers the threads of [`attend_split`] share: the query heads in f16, the scores of every
/// head (part of the keys after part, each part `[head][key]`), the f16 probabilities of every
/// head, the outputs (part of the value rows after part, each `[head][row]`).
#[derive(Debug, Default)]
pub(crate) struct SplitScratch {
    q16: Vec<f16>,
    scores: Vec<f32>,
    probs: Vec<f16>,
    out: Vec<f32>,
}

impl SplitScratch {
    /// For `n_threads` threads (none needed for one).
    pub(crate) fn new(config: &ModelConfig, n_ctx: usize, n_threads: usize) -> Result<Self> {
        if n_threads <= 1 {
            return Ok(Self::default());
        }
        let (n_head, slack) = (Self::max_heads(config), n_threads * SPLIT_PARTS_PER_THREAD);
        let span = KvCache::max_cell_span(config, n_ctx);
        Ok(Self {
            q16: zeroed(n_head * config.head_dim, "attention scores")?,
            scores: zeroed(n_head * (n_ctx + slack), "attention scores")?,
            probs: zeroed(n_head * n_ctx.max(span), "attention scores")?,
            out: zeroed(n_head * (config.head_dim_v + slack), "attention scores")?,
        })
    }

    /// Bytes [`SplitScratch::new`] allocates for two threads or more: `(base, per thread)`.
    pub(crate) fn bytes(config: &ModelConfig, n_ctx: usize) -> (usize, usize) {
        let n_head = Self::max_heads(config);
        let span = KvCache::max_cell_span(config, n_ctx);
        let base = n_head * (config.head_dim * 2 + n_ctx * 4 + n_ctx.max(span) * 2 + config.head_dim_v * 4);
        (base, n_head * SPLIT_PARTS_PER_THREAD * 8)
    }

    fn max_heads(config: &ModelConfig) -> usize {
        config.layers.iter().map(|l| l.n_head).max().unwrap_or(0)
    }

    /// Whether [`attend_split`] takes layer `il` at position `pos` (an f16 cache, enough keys,
    /// buffers for more than one thread). Never without `std`, whose pools are one thread: so
    /// that the split's code is not linked into firmware (4 KB of flash).
    pub(crate) fn takes(&self, kv: &KvCache, il: usize, pos: usize) -> bool {
        let layer = &kv.layers[il];
        cfg!(feature = "std")
            && !self.probs.is_empty()
            && layer.n_visible(pos) >= SPLIT_MIN_KEYS
            && matches!((&layer.k, &layer.v), (KvBuf::F16(_), KvBuf::F16(_)))
    }
}

/// [`attend`] for every head of one token decoded alone (llama.cpp's single-token dots), on the
/// pool's threads, split by keys: the scores of each part of the keys for all heads, then each
/// head's softmax, then the outputs of each part of the value rows for all heads. Same bits as
/// [`attend`]. For an f16 cache only ([`SplitScratch::takes`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend_split(
    kernels: &Kernels,
    pool: &Pool,
    kv: &KvCache,
    il: usize,
    shape: &AttnShape,
    q: &[f32],
    pos: usize,
    scratch: &mut [AttnScratch],
    sp: &mut SplitScratch,
    out: &mut [f32],
) {
    let layer = &kv.layers[il];
    let (KvBuf::F16(k), KvBuf::F16(v)) = (&layer.k, &layer.v) else {
        return attend(kernels, kv, il, shape, q, pos, 0..shape.n_head, &mut scratch[0], out, false);
    };
    let (n, cap, k_dim) = (layer.n_visible(pos), layer.cap, layer.k_dim);
    let (hd, hdv, n_head) = (shape.head_dim, shape.head_dim_v, shape.n_head);
    let group = n_head / shape.n_head_kv;
    let n_parts = pool.n_threads() * SPLIT_PARTS_PER_THREAD;
    let SplitScratch { q16, scores, probs, out: parts_out } = sp;
    let q16 = &mut q16[..n_head * hd];
    for (qi, qh) in q16.chunks_exact_mut(hd).zip(q.chunks_exact(hd)) {
        (kernels.quantize_f16)(qh, qi);
    }
    let q16 = &*q16;

    let keys = PartedRows {
        x: k,
        stride: k_dim,
        head_step: hd,
        n_rows: n,
        n_parts,
        order: DotOrder::VecDot,
        cells: None,
    };
    keys.run(kernels, pool, scratch, q16, (n_head, group), scores);

    // Each head's scores gathered, softmax, rounded to f16 (in llama.cpp's cell order once a
    // ring has wrapped, as in `attend`).
    let (scores, n8) = (&*scores, n.next_multiple_of(8));
    let cells = kv.cell_order(il, pos);
    let rot = cells.filter(|o| !o.ascending());
    let pl = probs_len(rot.as_ref(), n);
    pool.split_mut_with(&mut probs[..n_head * pl], pl, scratch, &|heads, part, s| {
        for (h, p16) in heads.zip(part.chunks_exact_mut(pl)) {
            let AttnScratch { scores: row, virt, .. } = s;
            let row = &mut row[..n8];
            keys.gather(scores, n_head, h, &mut row[..n]);
            softmax_cells(kernels, cells.as_ref(), row, n, virt, shape.scale);
            probs_f16(kernels, rot.as_ref(), &row[..n], p16);
        }
    });

    // (each part copies its own value rows into a rotated cell order)
    let order = DotOrder::VecDotPadded;
    let cells = rot.as_ref();
    let values = PartedRows { x: v, stride: cap, head_step: hdv * cap, n_rows: hdv, n_parts, order, cells };
    values.run(kernels, pool, scratch, &probs[..n_head * pl], (n_head, group), parts_out);
    for (h, oh) in out[..n_head * hdv].chunks_exact_mut(hdv).enumerate() {
        values.gather(parts_out, n_head, h, oh);
    }
}

/// One of [`attend_split`]'s two products: rows `0..n_rows` of each KV head's matrix (row `r` of
/// KV head `g` at `x[g * head_step + r * stride..]`: its keys, or its transposed value rows), each
/// dotted with the `group` vectors of that KV head's query heads, the rows cut into `n_parts`
/// parts that the pool's threads take. Part `u` of the output buffer holds `[head][row]` for its
/// rows.
struct PartedRows<'a> {
    x: &'a [f16],
    stride: usize,
    head_step: usize,
    n_rows: usize,
    n_parts: usize,
    order: DotOrder,
    /// The cell order the rows' values are summed in, when it is not the slots' (values only).
    cells: Option<&'a CellOrder>,
}

impl PartedRows<'_> {
    /// Values of one part in the output buffer, for `n_head` heads.
    fn chunk(&self, n_head: usize) -> usize {
        n_head * self.n_rows.div_ceil(self.n_parts)
    }

    /// The dots of every row with `vectors` (`n_head` of them, head after head, `group` per KV
    /// head) into `buf`, part by part, on the pool's threads.
    fn run(
        &self,
        kernels: &Kernels,
        pool: &Pool,
        scratch: &mut [AttnScratch],
        vectors: &[f16],
        (n_head, group): (usize, usize),
        buf: &mut [f32],
    ) {
        let chunk = self.chunk(n_head);
        let m = vectors.len() / n_head;
        pool.split_mut_with(&mut buf[..self.n_parts * chunk], chunk, scratch, &|units, part, s| {
            for (u, o) in units.zip(part.chunks_exact_mut(chunk)) {
                let rows = part_of(self.n_rows, self.n_parts, u);
                if rows.is_empty() {
                    continue;
                }
                let groups = vectors.chunks_exact(group * m).zip(o.chunks_exact_mut(group * rows.len()));
                for (g, (vg, og)) in groups.enumerate() {
                    let x = &self.x[g * self.head_step + rows.start * self.stride..];
                    match self.cells {
                        None => (kernels.lanes_dot_f16_rows)(x, self.stride, vg, group, self.order, og),
                        Some(o) => {
                            let buf = (&mut s.vrot[..], &mut s.vout[..]);
                            values_in_cells(kernels, o, x, self.stride, vg, group, self.order, buf, og);
                        }
                    }
                }
            }
        });
    }

    /// Head `h`'s values of every row, in row order, from the parts in `buf` into `dst`.
    fn gather(&self, buf: &[f32], n_head: usize, h: usize, dst: &mut [f32]) {
        let chunk = self.chunk(n_head);
        for u in 0..self.n_parts {
            let rows = part_of(self.n_rows, self.n_parts, u);
            let len = rows.len();
            dst[rows].copy_from_slice(&buf[u * chunk + h * len..][..len]);
        }
    }
}

#[cfg(test)]
mod tests;
