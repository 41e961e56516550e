//! The memory plan of a session, computed up front from the model configuration and the
//! context size: every byte a session allocates, so that an MCU can size static buffers from it
//! and nothing is allocated per token.

use emberlm_models::ModelConfig;
use emberlm_models::arch::FfnActivation;
use emberlm_quant::QuantType;

use crate::attention::{AttnScratch, SplitScratch, max_group};
use crate::error::{Error, Result};
use crate::kv::{KvCache, KvType};
use crate::matmul::activation_row_bytes;
use crate::ops::GeluTable;

/// Sizes of every buffer of a session (weights are borrowed from the file and not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Context positions.
    pub n_ctx: usize,
    /// Tokens per forward pass (prompt chunk size).
    pub n_batch: usize,
    /// KV cache element type.
    pub kv_type: KvType,
    /// KV cache bytes (all layers, keys and values; sliding-window layers keep only their
    /// window, in a ring buffer).
    pub kv_bytes: usize,
    /// What a naive cache keeping all `n_ctx` positions in every layer would take (equal to
    /// `kv_bytes` without sliding-window layers).
    pub kv_bytes_full: usize,
    /// f32 activation scratch, in values (see [`MemoryPlan::scratch_bytes`]).
    pub scratch_f32: usize,
    /// Bytes of the quantized-activation buffer (a multiple of 4).
    pub act_bytes: usize,
    /// Bytes of one thread's attention scratch (scores over the context, f16 and q8_0 query
    /// heads, a value row, a ring's cell-order rows, the scratch's own fields); a session running on `n` threads has `n` of them
    /// ([`MemoryPlan::total_bytes_threads`]).
    pub attn_bytes: usize,
    /// Bytes the threads of a session on two threads or more share to decode a token's attention
    /// (scores and probabilities of every head over the context), plus
    /// [`MemoryPlan::attn_split_bytes_per_thread`] per thread.
    pub attn_split_bytes: usize,
    /// See [`MemoryPlan::attn_split_bytes`].
    pub attn_split_bytes_per_thread: usize,
    /// Bytes of the RoPE cache (`cos, sin` of one head's pairs).
    pub rope_bytes: usize,
    /// Lookup tables: ggml's f16 GELU table (2^16 f16 values) when the FFN uses GELU, else 0.
    pub table_bytes: usize,
    /// Logits: `n_vocab` f32 values.
    pub logits_bytes: usize,
}

/// The f32 activation buffers of a batch, in values per token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScratchDims {
    pub(crate) n_embd: usize,
    pub(crate) q: usize,
    pub(crate) kv: usize,
    pub(crate) ff: usize,
}

impl ScratchDims {
    pub(crate) fn of(config: &ModelConfig) -> Self {
        Self { n_embd: config.n_embd, q: config.max_q_dim(), kv: config.max_kv_dim(), ff: config.max_n_ff() }
    }

    /// Values per token: residual, normed input, q, k, v, attention output, gate, up.
    pub(crate) fn per_token(&self) -> usize {
        2 * self.n_embd + 2 * self.q + 2 * self.kv + 2 * self.ff
    }
}

impl MemoryPlan {
    /// The plan for `config` with matrix weights of the types `weight_types`, `n_ctx` positions,
    /// batches of up to `n_batch` tokens and a cache of type `kv_type`.
    pub fn new(
        config: &ModelConfig,
        weight_types: &[QuantType],
        n_ctx: usize,
        n_batch: usize,
        kv_type: KvType,
    ) -> Result<Self> {
        if n_ctx == 0 {
            return Err(Error::InvalidOptions { why: "the context size must be at least 1" });
        }
        if n_batch == 0 {
            return Err(Error::InvalidOptions { why: "the batch size must be at least 1" });
        }
        let overflow = |what| Error::OutOfMemory { bytes: usize::MAX, what };
        let n_batch = n_batch.min(n_ctx);
        let dims = ScratchDims::of(config);
        // Quantized activations: the widest input row of any product, in the widest activation
        // format among the weight types, for a whole batch.
        let widest_input = dims.n_embd.max(dims.q).max(dims.ff);
        let mut act_row = 0usize;
        for &ty in weight_types {
            let b = activation_row_bytes(ty, widest_input)
                .or_else(|| {
                    // The widest row may not be a whole number of blocks for every type; size
                    // for the next whole number of blocks instead.
                    let be = ty.block_elems();
                    activation_row_bytes(ty, widest_input.div_ceil(be) * be)
                })
                .ok_or_else(|| overflow("quantized activations"))?;
            act_row = act_row.max(b);
        }
        let act_bytes = act_row.checked_mul(n_batch).ok_or_else(|| overflow("quantized activations"))?;
        let (attn_split_bytes, attn_split_bytes_per_thread) = SplitScratch::bytes(config, n_ctx);
        Ok(Self {
            n_ctx,
            n_batch,
            kv_type,
            kv_bytes: KvCache::bytes(config, n_ctx, kv_type),
            kv_bytes_full: KvCache::bytes_full(config, n_ctx, kv_type),
            scratch_f32: dims.per_token().checked_mul(n_batch).ok_or_else(|| overflow("activations"))?,
            act_bytes: act_bytes.div_ceil(4) * 4,
            attn_bytes: AttnScratch::bytes(
                n_ctx,
                config.head_dim,
                config.head_dim_v,
                max_group(config),
                KvCache::max_cell_span(config, n_ctx),
            ),
            attn_split_bytes,
            attn_split_bytes_per_thread,
            rope_bytes: config.head_dim * 4,
            table_bytes: match config.flags.ffn_act {
                FfnActivation::GeluTanh => GeluTable::BYTES,
                FfnActivation::Silu => 0,
            },
            logits_bytes: config.n_vocab * 4,
        })
    }

    /// Bytes of the scratch of a single-threaded session: activations (f32 and quantized), one
    /// attention scratch, the RoPE cache and the lookup tables.
    pub fn scratch_bytes(&self) -> usize {
        self.scratch_f32 * 4 + self.act_bytes + self.attn_bytes + self.rope_bytes + self.table_bytes
    }

    /// Everything a single-threaded session allocates.
    pub fn total_bytes(&self) -> usize {
        self.kv_bytes + self.scratch_bytes() + self.logits_bytes
    }

    /// Everything a session running on `n_threads` threads allocates (one attention scratch per
    /// thread, and with two threads or more the buffers they share; the threads' own stacks are
    /// not counted).
    pub fn total_bytes_threads(&self, n_threads: usize) -> usize {
        let shared = if n_threads > 1 {
            self.attn_split_bytes + n_threads * self.attn_split_bytes_per_thread
        } else {
            0
        };
        self.total_bytes() + n_threads.saturating_sub(1) * self.attn_bytes + shared
    }
}
