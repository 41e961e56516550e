//! The forward pass: one function for every architecture described by a
//! [`ModelConfig`](emberlm_models::ModelConfig), over a batch of consecutive tokens.
//!
//! Per layer (llama.cpp's `llm_build_llama`): RMSNorm, Q/K/V projections, RoPE on Q and K, K/V
//! stored in the cache, causal attention per token, output projection, residual; RMSNorm,
//! gated MLP (SwiGLU), residual. Then the final norm and the output projection, for the last
//! token of the batch only (what decoding needs; llama.cpp likewise computes only requested
//! outputs).

use alloc::vec::Vec;

use crate::attention::{AttnScratch, AttnShape, attend};
use crate::error::{Result, zeroed};
use crate::kv::KvCache;
use crate::matmul::QuantizedInput;
use crate::model::Model;
use crate::ops::{RopeParams, add_assign, rms_norm, rope_apply, rope_cache, swiglu};
use crate::plan::{MemoryPlan, ScratchDims};

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
    attn_scratch: AttnScratch,
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
            attn_scratch: AttnScratch::new(plan.n_ctx, model.config().head_dim)?,
        })
    }

    /// Largest batch one forward pass takes.
    pub(crate) fn n_batch(&self) -> usize {
        self.n_batch
    }
}

/// Run `tokens` (at most `n_batch`, all valid ids, fitting in the cache) at positions
/// `pos0..pos0 + tokens.len()`, writing their keys and values into `kv`, and the logits of the
/// tokens from index `out_from` on into `logits` (`(tokens.len() - out_from) * n_vocab` values,
/// token after token; `out_from == tokens.len()` computes no logits at all).
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
    let Scratch { x, xn, q, k, v, attn, gate, up, acts, rope, attn_scratch, .. } = s;
    let mut qin = QuantizedInput::new(model.kernels, acts);

    // Token embeddings (get_rows: dequantize one row each).
    for (t, &tok) in tokens.iter().enumerate() {
        model.tok_embd.dequantize_row(tok as usize, &mut x[t * n_embd..(t + 1) * n_embd])?;
    }

    let default_scale = 1.0f32 / libm::sqrtf(c.head_dim as f32);
    for (il, (spec, w)) in c.layers.iter().zip(&model.layers).enumerate() {
        let (q_dim, k_dim, v_dim, n_ff) = (c.q_dim(il), c.k_dim(il), c.v_dim(il), spec.n_ff);

        // Attention block.
        for t in 0..n {
            let r = t * n_embd..(t + 1) * n_embd;
            rms_norm(&x[r.clone()], w.attn_norm, c.rms_eps, &mut xn[r]);
        }
        qin.invalidate();
        qin.matmul(&w.wq, xn, n, &mut q[..n * q_dim])?;
        qin.matmul(&w.wk, xn, n, &mut k[..n * k_dim])?;
        qin.matmul(&w.wv, xn, n, &mut v[..n * v_dim])?;

        let rp = RopeParams {
            kind: c.rope.kind,
            n_dims: c.rope.n_dims,
            freq_base: spec.rope_freq_base,
            freq_scale: spec.rope_freq_scale,
            freq_factors: model.rope_freqs,
        };
        for t in 0..n {
            let pos = pos0 + t;
            rope_cache(&rp, pos, rope);
            for head in q[t * q_dim..(t + 1) * q_dim].chunks_exact_mut(c.head_dim) {
                rope_apply(rp.kind, rp.n_dims, rope, head);
            }
            for head in k[t * k_dim..(t + 1) * k_dim].chunks_exact_mut(c.head_dim) {
                rope_apply(rp.kind, rp.n_dims, rope, head);
            }
            kv.store(il, pos, &k[t * k_dim..(t + 1) * k_dim], &v[t * v_dim..(t + 1) * v_dim]);
        }

        let shape = AttnShape::new(spec, c.head_dim, c.head_dim_v, c.attn_scale.unwrap_or(default_scale));
        let o_dim = spec.n_head * c.head_dim_v;
        for t in 0..n {
            attend(
                kv,
                il,
                &shape,
                &q[t * q_dim..(t + 1) * q_dim],
                pos0 + t,
                attn_scratch,
                &mut attn[t * o_dim..(t + 1) * o_dim],
            );
        }
        qin.invalidate();
        qin.matmul(&w.wo, attn, n, &mut xn[..n * n_embd])?;
        add_assign(&mut x[..n * n_embd], &xn[..n * n_embd]);

        // Feed-forward block.
        for t in 0..n {
            let r = t * n_embd..(t + 1) * n_embd;
            rms_norm(&x[r.clone()], w.ffn_norm, c.rms_eps, &mut xn[r]);
        }
        qin.invalidate();
        qin.matmul(&w.ffn_gate, xn, n, &mut gate[..n * n_ff])?;
        qin.matmul(&w.ffn_up, xn, n, &mut up[..n * n_ff])?;
        swiglu(&mut gate[..n * n_ff], &up[..n * n_ff]);
        qin.invalidate();
        qin.matmul(&w.ffn_down, gate, n, &mut xn[..n * n_embd])?;
        add_assign(&mut x[..n * n_embd], &xn[..n * n_embd]);
    }

    // Output: final norm and projection of the requested tokens only.
    let n_out = n - out_from.min(n);
    for (o, t) in (out_from..n).enumerate() {
        rms_norm(
            &x[t * n_embd..(t + 1) * n_embd],
            model.output_norm,
            c.rms_eps,
            &mut xn[o * n_embd..(o + 1) * n_embd],
        );
    }
    if n_out > 0 {
        qin.invalidate();
        qin.matmul(&model.output, &xn[..n_out * n_embd], n_out, logits)?;
    }
    Ok(())
}
