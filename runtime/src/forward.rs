//! The forward pass: one function for every architecture described by a
//! [`ModelConfig`](emberlm_models::ModelConfig), over a batch of consecutive tokens.
//!
//! Per layer (llama.cpp's `llm_build_llama`, with the [`ArchFlags`] of the other architectures
//! in brackets): RMSNorm, Q/K/V projections [+ biases], [per-head RMSNorm of Q and K], RoPE on Q
//! and K [queries times the attention scale], per token: K/V stored in the cache then causal
//! attention over the positions the layer sees (all, or its sliding window), output projection,
//! [RMSNorm], residual; RMSNorm, gated MLP (SwiGLU or GeGLU), [RMSNorm], residual. The
//! embeddings may be scaled first and the logits soft-capped last. Then the final norm and the
//! output projection, for the requested tokens only (llama.cpp likewise computes only
//! requested outputs).
//!
//! [`ArchFlags`]: emberlm_models::arch::ArchFlags

use alloc::vec::Vec;

use crate::attention::{AttnScratch, AttnShape, SplitScratch, attend, attend_split, max_group};
use crate::error::{Result, zeroed};
use crate::kv::KvCache;
use crate::matmul::QuantizedInput;
use crate::model::Model;
use emberlm_models::arch::FfnActivation;

use crate::ops::{
    GeluTable, RopeParams, add_assign, add_rms_normed, geglu, rms_norm, rms_norm_inplace, rope_apply,
    rope_cache, scale, softcap, swiglu,
};
use crate::plan::{MemoryPlan, ScratchDims};
use crate::threads::Pool;
use emberlm_quant::Kernels;

/// All activation buffers of a session, sized by its [`MemoryPlan`].
#[derive(Debug)]
pub(crate) struct Scratch {
    n_batch: usize,
    x: Vec<f32>,
    xn: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    acts: Vec<u32>,
    rope: Vec<f32>,
    /// ggml's GELU table, for GELU models only.
    gelu: Option<GeluTable>,
    /// One attention scratch per thread of `pool` (a batch's tokens attend in parallel).
    attn_scratch: Vec<AttnScratch>,
    /// What the threads share when they decode one token's attention together.
    split: SplitScratch,
    /// The threads products run on (the session sets it; the calling thread alone by default).
    pub(crate) pool: Pool,
}

impl Scratch {
    pub(crate) fn new(model: &Model<'_>, plan: &MemoryPlan) -> Result<Self> {
        let dims = ScratchDims::of(model.config());
        let b = plan.n_batch;
        let f = |n: usize| zeroed::<f32>(n * b, "activations");
        Ok(Self {
            n_batch: b,
            x: f(dims.n_embd)?,
            xn: f(dims.n_embd)?,
            q: f(dims.q)?,
            k: f(dims.kv)?,
            v: f(dims.kv)?,
            attn: f(dims.q)?,
            gate: f(dims.ff)?,
            up: f(dims.ff)?,
            acts: zeroed(plan.act_bytes / 4, "quantized activations")?,
            rope: zeroed(plan.rope_bytes / 4, "the RoPE cache")?,
            gelu: match model.config().flags.ffn_act {
                FfnActivation::GeluTanh => Some(GeluTable::new()?),
                FfnActivation::Silu => None,
            },
            attn_scratch: alloc::vec![AttnScratch::new(
                plan.n_ctx,
                model.config().head_dim,
                model.config().head_dim_v,
                max_group(model.config()),
                KvCache::max_cell_span(model.config(), plan.n_ctx),
            )?],
            split: SplitScratch::default(),
            pool: Pool::single(),
        })
    }

    /// Run the products and the attention of later passes on `pool`'s threads (each thread gets
    /// its own attention scratch, `n_ctx * 6` bytes and a head or two).
    pub(crate) fn set_pool(&mut self, model: &Model<'_>, plan: &MemoryPlan, pool: Pool) -> Result<()> {
        let c = model.config();
        while self.attn_scratch.len() < pool.n_threads() {
            let span = KvCache::max_cell_span(c, plan.n_ctx);
            self.attn_scratch.push(AttnScratch::new(
                plan.n_ctx,
                c.head_dim,
                c.head_dim_v,
                max_group(c),
                span,
            )?);
        }
        self.split = SplitScratch::new(c, plan.n_ctx, pool.n_threads())?;
        self.pool = pool;
        Ok(())
    }

    /// Largest batch one forward pass takes.
    pub(crate) fn n_batch(&self) -> usize {
        self.n_batch
    }
}

/// The RoPE of layer `il` (local layers have their own base).
fn rope_params<'m>(model: &'m Model<'_>, il: usize) -> RopeParams<'m> {
    let c = model.config();
    let spec = &c.layers[il];
    RopeParams {
        kind: c.rope.kind,
        n_dims: c.rope.n_dims,
        freq_base: spec.rope_freq_base,
        freq_scale: spec.rope_freq_scale,
        freq_factors: model.rope_freqs,
    }
}

/// Rotate the RoPE'd key `key` (`k_dim` values, all heads) of layer `il` by `-d` positions, as
/// llama.cpp's context shift does (`ggml_rope_ext` with a position delta): RoPE angles are linear
/// in the position, so rotating a key made at `p` by `-d` makes it the key of `p - d`. `cache`
/// holds `head_dim` f32.
pub(crate) fn rerotate_key(model: &Model<'_>, il: usize, d: usize, cache: &mut [f32], key: &mut [f32]) {
    let c = model.config();
    let rp = rope_params(model, il);
    rope_cache(&rp, d, cache);
    // The inverse rotation: cos(-a) = cos(a), sin(-a) = -sin(a).
    cache[..rp.n_dims].chunks_exact_mut(2).for_each(|cs| cs[1] = -cs[1]);
    for head in key.chunks_exact_mut(c.head_dim) {
        rope_apply(model.kernels, rp.kind, rp.n_dims, cache, head);
    }
}

/// Run `tokens` (at most `n_batch`, all valid ids, fitting in the cache) at positions
/// `pos0..pos0 + tokens.len()`, writing their keys and values into `kv`, and the logits of the
/// tokens from index `out_from` on into `logits` (`(tokens.len() - out_from) * n_vocab` values,
/// token after token; `out_from == tokens.len()` computes no logits at all). Products run on
/// the threads of `s.pool`.
pub(crate) fn forward(
    model: &Model<'_>,
    kv: &mut KvCache,
    s: &mut Scratch,
    tokens: &[u32],
    pos0: usize,
    out_from: usize,
    logits: &mut [f32],
) -> Result<()> {
    let c = model.config();
    let n = tokens.len();
    let n_embd = c.n_embd;
    let Scratch { x, xn, q, k, v, attn, gate, up, acts, rope, gelu, attn_scratch, split, pool, .. } = s;
    let mut qin = QuantizedInput::new(model.kernels, acts).with_pool(pool);

    let eps = c.rms_eps;
    let hd = c.head_dim;

    // Token embeddings (get_rows: dequantize one row each), scaled (gemma).
    for (t, &tok) in tokens.iter().enumerate() {
        let row = &mut x[t * n_embd..(t + 1) * n_embd];
        model.tok_embd.dequantize_row(tok as usize, row)?;
        if let Some(s) = c.flags.embedding_scale {
            scale(row, s);
        }
    }

    let attn_scale = c.attn_scale.unwrap_or_else(|| 1.0f32 / libm::sqrtf(hd as f32));
    let (q_scale, kq_scale) = if c.flags.query_scale { (Some(attn_scale), 1.0) } else { (None, attn_scale) };
    for (il, (spec, w)) in c.layers.iter().zip(&model.layers).enumerate() {
        let (q_dim, k_dim, v_dim, n_ff) = (c.q_dim(il), c.k_dim(il), c.v_dim(il), spec.n_ff);

        // Attention block.
        norm_rows(pool, x, w.attn_norm, eps, &mut xn[..n * n_embd]);
        qin.invalidate();
        qin.matmul_group(
            &[&w.wq, &w.wk, &w.wv],
            xn,
            n,
            &mut [&mut q[..n * q_dim], &mut k[..n * k_dim], &mut v[..n * v_dim]],
        )?;
        for (buf, dim, bias) in [(&mut *q, q_dim, w.bq), (&mut *k, k_dim, w.bk), (&mut *v, v_dim, w.bv)] {
            if let Some(b) = bias {
                for row in buf[..n * dim].chunks_exact_mut(dim) {
                    add_assign(row, b);
                }
            }
        }

        let rp = rope_params(model, il);
        let shape = AttnShape::new(spec, hd, c.head_dim_v, kq_scale);
        let o_dim = spec.n_head * c.head_dim_v;
        // A batch whose keys all fit in the layer's cache without wrapping its ring stores every
        // token first and then attends on all threads, token by token (each token reads only the
        // slots it may see, so later tokens' keys change nothing); a ring that wraps within the
        // batch goes token by token, store then attend. Same bits either way.
        let parallel = n > 1 && pool.n_threads() > 1 && pos0 + n <= kv.layers[il].cap;
        let (q_norm, k_norm) = match (w.q_norm, w.k_norm) {
            (Some(qn), Some(kn)) => (Some(qn), Some(kn)),
            _ => (None, None),
        };
        if parallel {
            // the tokens' query and key heads normed and rotated on the pool's threads, then
            // the keys and values stored (the same per-row arithmetic as below)
            let prep = RowPrep { kernels: model.kernels, rp: &rp, hd, eps, pos0 };
            prep.run(pool, attn_scratch, &mut q[..n * q_dim], q_dim, q_norm, q_scale);
            prep.run(pool, attn_scratch, &mut k[..n * k_dim], k_dim, k_norm, None);
            for t in 0..n {
                let kt = &k[t * k_dim..(t + 1) * k_dim];
                kv.store(model.kernels, il, pos0 + t, kt, &v[t * v_dim..(t + 1) * v_dim]);
            }
        }
        // (token by token unless done above: store, then attend)
        for t in (0..n).filter(|_| !parallel) {
            let pos = pos0 + t;
            let qt = &mut q[t * q_dim..(t + 1) * q_dim];
            let kt = &mut k[t * k_dim..(t + 1) * k_dim];
            if let (Some(qn), Some(kn)) = (q_norm, k_norm) {
                qt.chunks_exact_mut(hd).for_each(|head| rms_norm_inplace(head, qn, eps));
                kt.chunks_exact_mut(hd).for_each(|head| rms_norm_inplace(head, kn, eps));
            }
            rope_cache(&rp, pos, rope);
            for head in qt.chunks_exact_mut(hd).chain(kt.chunks_exact_mut(hd)) {
                rope_apply(model.kernels, rp.kind, rp.n_dims, rope, head);
            }
            if let Some(s) = q_scale {
                scale(qt, s);
            }
            kv.store(model.kernels, il, pos, kt, &v[t * v_dim..(t + 1) * v_dim]);
            if n == 1 && split.takes(kv, il, pos) {
                // one token on several threads, many keys: the keys and value rows are shared out
                let (kv, qt) = (&*kv, &*qt);
                attend_split(
                    model.kernels,
                    pool,
                    kv,
                    il,
                    &shape,
                    qt,
                    pos,
                    attn_scratch,
                    split,
                    &mut attn[..o_dim],
                );
            } else if n == 1 && pool.n_threads() > 1 {
                // one token on several threads, few keys: its heads are shared out, as many
                // per part as each thread can take (a part's heads of one KV head read its keys
                // and value rows together)
                let (kv, qt) = (&*kv, &*qt);
                let per = heads_per_part(shape.n_head, pool.n_threads());
                pool.split_mut_with(
                    &mut attn[..o_dim],
                    c.head_dim_v * per,
                    attn_scratch,
                    &|units, part, sc| {
                        let heads = units.start * per..units.end * per;
                        attend(model.kernels, kv, il, &shape, qt, pos, heads, sc, part, false);
                    },
                );
            } else {
                let out = &mut attn[t * o_dim..(t + 1) * o_dim];
                let heads = 0..shape.n_head;
                attend(model.kernels, kv, il, &shape, qt, pos, heads, &mut attn_scratch[0], out, n > 1);
            }
        }
        if parallel {
            let (kv, q) = (&*kv, &*q);
            pool.split_mut_with(&mut attn[..n * o_dim], o_dim, attn_scratch, &|toks, part, sc| {
                for (t, out) in toks.zip(part.chunks_exact_mut(o_dim)) {
                    let qt = &q[t * q_dim..(t + 1) * q_dim];
                    attend(model.kernels, kv, il, &shape, qt, pos0 + t, 0..shape.n_head, sc, out, n > 1);
                }
            });
        }
        qin.invalidate();
        qin.matmul(&w.wo, attn, n, &mut xn[..n * n_embd])?;
        residual(pool, &mut x[..n * n_embd], &xn[..n * n_embd], n_embd, w.attn_post_norm, eps);

        // Feed-forward block.
        norm_rows(pool, x, w.ffn_norm, eps, &mut xn[..n * n_embd]);
        // the gated activation, elementwise (each part's values as in the whole row: no
        // kernel's vector width leaves a remainder in a run of whole 8-row tiles)
        let act = |g: &mut [f32], u: &[f32]| match (c.flags.ffn_act, gelu.as_ref()) {
            (FfnActivation::Silu, _) => swiglu(model.kernels, g, u, n_ff),
            (FfnActivation::GeluTanh, Some(t)) => t.geglu_with(model.kernels, g, u),
            (FfnActivation::GeluTanh, None) => geglu(g, u),
        };
        qin.invalidate();
        if n == 1 {
            // one token: each thread gates the rows of gate and up it computed
            qin.matmul_glu([&w.ffn_gate, &w.ffn_up], xn, gate, up, &act)?;
        } else {
            qin.matmul_group(
                &[&w.ffn_gate, &w.ffn_up],
                xn,
                n,
                &mut [&mut gate[..n * n_ff], &mut up[..n * n_ff]],
            )?;
            // a batch's rows on the pool's threads
            let up = &up[..n * n_ff];
            pool.split_mut(&mut gate[..n * n_ff], n_ff, &|rows, g| {
                act(g, &up[rows.start * n_ff..rows.end * n_ff])
            });
        }
        qin.invalidate();
        qin.matmul(&w.ffn_down, gate, n, &mut xn[..n * n_embd])?;
        residual(pool, &mut x[..n * n_embd], &xn[..n * n_embd], n_embd, w.ffn_post_norm, eps);
    }

    // Output: final norm and projection of the requested tokens only.
    let n_out = n - out_from.min(n);
    for (o, t) in (out_from..n).enumerate() {
        rms_norm(
            &x[t * n_embd..(t + 1) * n_embd],
            model.output_norm,
            eps,
            &mut xn[o * n_embd..(o + 1) * n_embd],
        );
    }
    if n_out > 0 {
        qin.invalidate();
        qin.matmul(&model.output, &xn[..n_out * n_embd], n_out, logits)?;
        if let Some(cap) = c.flags.final_logit_softcap {
            softcap(&mut logits[..n_out * c.n_vocab], cap);
        }
    }
    Ok(())
}

/// Query heads per part when one token's `n_head` heads are shared out between `n_threads`
/// threads: the largest divisor of `n_head` that still gives every thread a part (Gemma 3's 4
/// heads on 2 threads: 2 per part, one reading of the KV head's cache per thread instead of two).
fn heads_per_part(n_head: usize, n_threads: usize) -> usize {
    let most = (n_head / n_threads.max(1)).max(1);
    (1..=most).rev().find(|d| n_head % d == 0).unwrap_or(1)
}

/// `out[t] = rms_norm(x[t], weight)` for every row of `out` (rows of `weight.len()` values), a
/// batch's rows on the pool's threads.
fn norm_rows(pool: &Pool, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    pool.split_mut(out, d, &|rows, part| {
        for (xr, o) in x[rows.start * d..rows.end * d].chunks_exact(d).zip(part.chunks_exact_mut(d)) {
            rms_norm(xr, weight, eps, o);
        }
    });
}

/// The residual connection of a block: `x += post_norm(y)` (`y` itself without a post-norm),
/// rows of `d` values, a batch's rows on the pool's threads.
fn residual(pool: &Pool, x: &mut [f32], y: &[f32], d: usize, post_norm: Option<&[f32]>, eps: f32) {
    pool.split_mut(x, d, &|rows, part| {
        let ys = y[rows.start * d..rows.end * d].chunks_exact(d);
        for (xr, yr) in part.chunks_exact_mut(d).zip(ys) {
            match post_norm {
                Some(w) => add_rms_normed(xr, yr, w, eps),
                None => add_assign(xr, yr),
            }
        }
    });
}

/// What a batch's query or key rows go through before attention, per row: RMSNorm of each head
/// (qwen3, gemma3), RoPE at the token's position, the query scale (gemma).
struct RowPrep<'a> {
    kernels: &'a Kernels,
    rp: &'a RopeParams<'a>,
    hd: usize,
    eps: f32,
    pos0: usize,
}

impl RowPrep<'_> {
    /// Rows of `dim` values (token `t` at position `pos0 + t`) on the pool's threads, each with
    /// its thread's RoPE cache.
    fn run(
        &self,
        pool: &Pool,
        scratch: &mut [AttnScratch],
        rows: &mut [f32],
        dim: usize,
        norm: Option<&[f32]>,
        scale_by: Option<f32>,
    ) {
        let Self { kernels, rp, hd, eps, pos0 } = *self;
        pool.split_mut_with(rows, dim, scratch, &|toks, part, sc| {
            for (t, row) in toks.zip(part.chunks_exact_mut(dim)) {
                if let Some(nw) = norm {
                    row.chunks_exact_mut(hd).for_each(|head| rms_norm_inplace(head, nw, eps));
                }
                let cache = sc.rope_cache();
                rope_cache(rp, pos0 + t, cache);
                for head in row.chunks_exact_mut(hd) {
                    rope_apply(kernels, rp.kind, rp.n_dims, cache, head);
                }
                if let Some(s) = scale_by {
                    scale(row, s);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::heads_per_part;

    #[test]
    fn heads_per_part_divides_the_heads_and_leaves_every_thread_a_part() {
        assert_eq!(heads_per_part(4, 2), 2); // Gemma 3 270M
        assert_eq!(heads_per_part(9, 2), 3); // SmolLM2-135M: a KV group per part
        assert_eq!(heads_per_part(8, 3), 2);
        assert_eq!(heads_per_part(7, 2), 1);
        assert_eq!(heads_per_part(2, 4), 1);
        assert_eq!(heads_per_part(6, 0), 6);
        for n_head in 1..40 {
            for n_threads in 1..9 {
                let d = heads_per_part(n_head, n_threads);
                assert_eq!(n_head % d, 0);
                assert!(n_head / d >= n_threads.min(n_head), "{n_head} heads, {n_threads} threads: {d}");
            }
        }
    }
}
