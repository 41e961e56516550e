//! A decoding session: a model, its KV cache and every buffer, allocated once from a
//! [`MemoryPlan`].
//!
//! ```no_run
//! # fn demo(bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use emberlm::{Model, Session, SessionOptions};
//! let gguf = emberlm::models::Gguf::parse(bytes)?;
//! let model = Model::from_gguf(&gguf)?;
//! let mut session = Session::new(&model, SessionOptions { n_ctx: 512, ..Default::default() })?;
//! let logits = session.prefill(&[1, 403, 407])?;
//! let mut next = argmax(logits);
//! for _ in 0..16 {
//!     next = argmax(session.decode_step(next)?);
//! }
//! # Ok(()) }
//! # fn argmax(l: &[f32]) -> u32 { 0 }
//! ```

use alloc::vec::Vec;

use crate::error::{Error, Result, zeroed};
use crate::forward::{Scratch, forward};
use crate::kv::{KvCache, KvType};
use crate::model::Model;
use crate::plan::MemoryPlan;
use crate::threads::Pool;

/// How to size a [`Session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// Context positions (prompt plus generated tokens). 0 means the model's training context.
    pub n_ctx: usize,
    /// Most tokens per forward pass while prefilling (longer prompts are split).
    pub n_batch: usize,
    /// KV cache element type.
    pub kv_type: KvType,
    /// Threads the products run on, the calling thread included; 0 means one per available core.
    /// Without `std` a session always runs on the calling thread alone. The default is 1: on the
    /// 2-core machine the benchmarks run on, 2 threads do not yet beat 1 (see benches/).
    pub n_threads: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { n_ctx: 0, n_batch: 512, kv_type: KvType::F16, n_threads: 1 }
    }
}

/// A sequence being decoded: `n_past` positions in the KV cache and the last logits.
#[derive(Debug)]
pub struct Session<'m, 'a> {
    model: &'m Model<'a>,
    plan: MemoryPlan,
    kv: KvCache,
    scratch: Scratch,
    logits: Vec<f32>,
    n_past: usize,
}

impl<'m, 'a> Session<'m, 'a> {
    /// Plan and allocate every buffer of a session of `opts` for `model`.
    pub fn new(model: &'m Model<'a>, opts: SessionOptions) -> Result<Self> {
        let n_ctx = if opts.n_ctx == 0 { model.config().n_ctx_train } else { opts.n_ctx };
        let plan = model.memory_plan(n_ctx, opts.n_batch, opts.kv_type)?;
        Self::with_plan_threads(model, plan, opts.n_threads)
    }

    /// Allocate a session exactly as `plan` says (a plan from [`Model::memory_plan`]), running
    /// on the calling thread alone.
    pub fn with_plan(model: &'m Model<'a>, plan: MemoryPlan) -> Result<Self> {
        Self::with_plan_threads(model, plan, 1)
    }

    /// [`Session::with_plan`] with products on `n_threads` threads (0: one per core). The
    /// workers are started here and live as long as the session; they only use memory of the
    /// plan's buffers.
    pub fn with_plan_threads(model: &'m Model<'a>, plan: MemoryPlan, n_threads: usize) -> Result<Self> {
        let mut scratch = Scratch::new(model, &plan)?;
        scratch.set_pool(model, &plan, Pool::new(n_threads)?)?;
        // our batches play llama.cpp's ubatches: they place its sliding-window cache's cells
        let mut kv = KvCache::new(model.config(), plan.n_ctx, plan.kv_type)?;
        kv.set_ubatch(plan.n_batch);
        Ok(Self { model, kv, scratch, logits: zeroed(model.config().n_vocab, "logits")?, n_past: 0, plan })
    }

    /// The memory plan the session was allocated from.
    pub fn plan(&self) -> &MemoryPlan {
        &self.plan
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'a> {
        self.model
    }

    /// Positions in use.
    pub fn n_past(&self) -> usize {
        self.n_past
    }

    /// Threads the products run on (the calling thread included).
    pub fn n_threads(&self) -> usize {
        self.scratch.pool.n_threads()
    }

    /// Context size.
    pub fn n_ctx(&self) -> usize {
        self.plan.n_ctx
    }

    /// The logits of the last token run (zeros before the first).
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Run `tokens` after the current context and return the logits of the last one. The whole
    /// prompt is processed in batches of up to `n_batch` tokens (each weight row is reused across
    /// a batch). Invalid input (unknown token ids, too many tokens) is rejected before anything
    /// changes.
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32]> {
        if tokens.is_empty() {
            return Err(Error::EmptyInput);
        }
        self.check(tokens)?;
        let n_chunks = tokens.len().div_ceil(self.scratch.n_batch());
        for (i, chunk) in tokens.chunks(self.scratch.n_batch()).enumerate() {
            // Only the very last token's logits are wanted.
            let out_from = if i + 1 == n_chunks { chunk.len() - 1 } else { chunk.len() };
            forward(
                self.model,
                &mut self.kv,
                &mut self.scratch,
                chunk,
                self.n_past,
                out_from,
                &mut self.logits,
            )?;
            self.n_past += chunk.len();
        }
        Ok(&self.logits)
    }

    /// Run `tokens` after the current context like [`Session::prefill`], and write the logits of
    /// every token from index `first` on into `out` (`(tokens.len() - first) * n_vocab` values,
    /// token after token): what perplexity needs, computed in the same batches.
    pub fn prefill_logits(&mut self, tokens: &[u32], first: usize, out: &mut [f32]) -> Result<()> {
        let n_vocab = self.model.config().n_vocab;
        if tokens.is_empty() {
            return Err(Error::EmptyInput);
        }
        if first >= tokens.len() || out.len() != (tokens.len() - first) * n_vocab {
            return Err(Error::LogitsBuffer {
                expected: (tokens.len() - first.min(tokens.len())) * n_vocab,
                got: out.len(),
            });
        }
        self.check(tokens)?;
        let mut start = 0;
        for chunk in tokens.chunks(self.scratch.n_batch()) {
            let out_from = first.saturating_sub(start).min(chunk.len());
            let o = (start + out_from).saturating_sub(first) * n_vocab;
            let n_out = (chunk.len() - out_from) * n_vocab;
            forward(
                self.model,
                &mut self.kv,
                &mut self.scratch,
                chunk,
                self.n_past,
                out_from,
                &mut out[o..o + n_out],
            )?;
            self.n_past += chunk.len();
            start += chunk.len();
        }
        if let Some(last) = out.get(out.len() - n_vocab..) {
            self.logits.copy_from_slice(last);
        }
        Ok(())
    }

    /// Run one token after the current context and return its logits.
    pub fn decode_step(&mut self, token: u32) -> Result<&[f32]> {
        self.prefill(&[token])
    }

    /// Forget every position from `n` on (rewind to `n` tokens of context). Fails, changing
    /// nothing, when a sliding-window layer's ring buffer no longer holds the window before `n`
    /// (rewinding by one position always works).
    pub fn truncate(&mut self, n: usize) -> Result<()> {
        if n > self.n_past {
            return Err(Error::TruncateBeyondEnd { n, n_past: self.n_past });
        }
        if !self.kv.can_truncate(self.n_past, n) {
            // A sliding-window ring buffer has overwritten part of the window before `n`.
            return Err(Error::Unsupported {
                what: alloc::format!(
                    "rewinding a sliding-window KV cache from {} to {n} positions (reset instead)",
                    self.n_past
                ),
            });
        }
        self.n_past = n;
        Ok(())
    }

    /// Attention sinks (StreamingLLM) / llama.cpp's context shift: forget positions
    /// `n_keep..n_keep + n_discard` and move every later one down by `n_discard`, so that
    /// generation continues past the context with bounded memory, the first `n_keep` tokens
    /// (the sinks) always in view. Keys are stored after RoPE, so the moved keys are re-rotated
    /// by `-n_discard` (exactly what llama.cpp's shift does); sliding-window rings are rolled.
    /// The logits of the last token stay valid. Fails, changing nothing, when the range is not
    /// in use or when a sliding-window ring would have to hold a sink (its window after the
    /// shift must start at or after `n_keep`).
    pub fn shift(&mut self, n_keep: usize, n_discard: usize) -> Result<()> {
        if n_keep.saturating_add(n_discard) > self.n_past {
            return Err(Error::TruncateBeyondEnd {
                n: n_keep.saturating_add(n_discard),
                n_past: self.n_past,
            });
        }
        if n_discard == 0 {
            return Ok(());
        }
        if !self.kv.can_shift(self.n_past, n_keep, n_discard) {
            return Err(Error::Unsupported {
                what: alloc::format!(
                    "shifting a sliding-window KV cache by {n_discard} of {} positions keeping {n_keep} \
                     (keep fewer tokens or discard fewer)",
                    self.n_past
                ),
            });
        }
        let c = self.model.config();
        let k_max = (0..c.n_layer()).map(|il| c.k_dim(il)).max().unwrap_or(0);
        let mut key = zeroed::<f32>(k_max, "the context shift")?;
        let mut cache = zeroed::<f32>(c.head_dim, "the context shift")?;
        let model = self.model;
        self.kv.shift(self.n_past, n_keep, n_discard, &mut key, |il, k| {
            crate::forward::rerotate_key(model, il, n_discard, &mut cache, k)
        });
        self.n_past -= n_discard;
        Ok(())
    }

    /// The KV cache (for `session_io`).
    pub(crate) fn kv_cache(&self) -> &KvCache {
        &self.kv
    }

    /// The KV cache, `n_past` and the logits, to restore a saved state (`session_io`).
    pub(crate) fn state_mut(&mut self) -> (&mut KvCache, &mut usize, &mut [f32]) {
        (&mut self.kv, &mut self.n_past, &mut self.logits)
    }

    /// Forget the whole context.
    pub fn reset(&mut self) {
        self.n_past = 0;
    }

    fn check(&self, tokens: &[u32]) -> Result<()> {
        let n_vocab = self.model.config().n_vocab;
        if let Some(&token) = tokens.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(Error::TokenOutOfRange { token, n_vocab });
        }
        if tokens.len() > self.plan.n_ctx - self.n_past {
            return Err(Error::ContextOverflow {
                n_ctx: self.plan.n_ctx,
                n_past: self.n_past,
                n_tokens: tokens.len(),
            });
        }
        Ok(())
    }
}
