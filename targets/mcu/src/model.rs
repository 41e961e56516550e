//! A model in flash, opened zero-copy, and a generator that allocates nothing per token.
//!
//! ```ignore
//! static MODEL: &[u8] = emberlm_mcu::include_model!(env!("EMBERLM_MCU_MODEL"));
//! let engine = Engine::open(MODEL, &EngineOptions::default())?;   // parses, binds, sizes
//! let mut gen = engine.generator()?;                               // every buffer, once
//! gen.generate("Once upon a time", 100, &mut uart, &clock)?;       // no allocation per token
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use emberlm::models::Gguf;
use emberlm::sampler::{SamplerChain, SamplerParams};
use emberlm::tokenizer::Tokenizer;
use emberlm::{KvType, MemoryPlan, Model, Session};

use crate::clock::Clock;
use crate::decode::{DecodeRules, PieceDecoder};

/// Bytes with the alignment of `A` (GGUF tensor data must be at least 4-byte aligned for
/// zero-copy views; [`Align32`] matches GGUF's default `general.alignment`).
#[derive(Debug)]
#[repr(C)]
pub struct Aligned<A, B: ?Sized> {
    /// Zero-sized; only gives the struct `A`'s alignment.
    pub align: [A; 0],
    /// The bytes.
    pub bytes: B,
}

/// A 32-byte aligned unit (GGUF's default data alignment).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
pub struct Align32;

/// Embeds a GGUF file as a 32-byte aligned `&'static [u8]` in the `.model` link section (the
/// firmware's `memory.x` places that section in flash).
///
/// `include_model!("path/model.gguf")`; the path may come from `env!`.
#[macro_export]
macro_rules! include_model {
    ($path:expr) => {{
        const LEN: usize = include_bytes!($path).len();
        #[unsafe(link_section = ".model")]
        static MODEL: $crate::Aligned<$crate::model::Align32, [u8; LEN]> =
            $crate::Aligned { align: [], bytes: *include_bytes!($path) };
        &MODEL.bytes as &'static [u8]
    }};
}

/// A model region of memory-mapped flash (XIP QSPI, internal flash) as a byte slice.
///
/// # Safety
/// `[addr, addr + len)` must be readable memory that nothing writes while the returned slice
/// (and every model borrowed from it) is alive.
pub unsafe fn flash_slice(addr: usize, len: usize) -> &'static [u8] {
    // SAFETY: the caller guarantees the region is readable and immutable for 'static.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len) }
}

/// Why the model could not be opened or run.
#[derive(Debug, Clone, PartialEq)]
pub enum McuError {
    /// The GGUF bytes, the model or the session were rejected (the runtime's message).
    Model(String),
    /// The tokenizer could not be built or used.
    Tokenizer(String),
    /// The sampler failed (non-finite logits).
    Sample(String),
    /// The prompt is empty, or does not fit the context with room for one generated token.
    Prompt {
        /// prompt tokens
        tokens: usize,
        /// context size
        n_ctx: usize,
    },
    /// The output (serial port) failed.
    Io(embedded_io::ErrorKind),
}

impl core::fmt::Display for McuError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Model(m) => write!(f, "model: {m}"),
            Self::Tokenizer(m) => write!(f, "tokenizer: {m}"),
            Self::Sample(m) => write!(f, "sampler: {m}"),
            Self::Prompt { tokens, n_ctx } => {
                write!(f, "the prompt is {tokens} tokens; it must be 1..{n_ctx} (the context)")
            }
            Self::Io(k) => write!(f, "output: {k:?}"),
        }
    }
}

impl From<emberlm::Error> for McuError {
    fn from(e: emberlm::Error) -> Self {
        Self::Model(e.to_string())
    }
}

/// How to size the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineOptions {
    /// Context positions (prompt + generated tokens).
    pub n_ctx: usize,
    /// Prompt tokens per forward pass. Small batches keep the activation scratch small; the
    /// result is the same for any batch size.
    pub n_batch: usize,
    /// KV cache element type.
    pub kv_type: KvType,
    /// Temperature; 0 (or less) is greedy decoding.
    pub temp: f32,
    /// Top-k (0: off), top-p (1: off), min-p (0: off) when sampling with a temperature.
    pub top_k: usize,
    /// Nucleus threshold.
    pub top_p: f32,
    /// Min-p threshold.
    pub min_p: f32,
    /// Seed of the sampler's random draw.
    pub seed: u64,
}

impl Default for EngineOptions {
    /// 256 positions, batches of 4, an f16 cache, greedy.
    fn default() -> Self {
        let d = SamplerParams::default();
        Self {
            n_ctx: 256,
            n_batch: 4,
            kv_type: KvType::F16,
            temp: 0.0,
            top_k: d.top_k,
            top_p: d.top_p,
            min_p: d.min_p,
            seed: d.seed,
        }
    }
}

/// A model bound to flash-resident weights, its tokenizer and the session's memory plan.
#[derive(Debug)]
pub struct Engine<'a> {
    model: Model<'a>,
    tok: Tokenizer,
    plan: MemoryPlan,
    opts: EngineOptions,
    rules: DecodeRules,
    model_bytes: usize,
}

impl<'a> Engine<'a> {
    /// Parse `bytes` (a GGUF file, borrowed: no weight is copied), bind the model and its
    /// tokenizer and plan a session of `opts`.
    pub fn open(bytes: &'a [u8], opts: &EngineOptions) -> Result<Self, McuError> {
        let gguf = Gguf::parse(bytes).map_err(|e| McuError::Model(e.to_string()))?;
        let model = Model::from_gguf(&gguf)?;
        let tok = Tokenizer::from_gguf(&gguf).map_err(|e| McuError::Tokenizer(e.to_string()))?;
        let plan = model.memory_plan(opts.n_ctx, opts.n_batch, opts.kv_type)?;
        let rules = DecodeRules::probe(&tok).map_err(|_| {
            McuError::Tokenizer("the vocabulary cleans spaces when detokenizing (unsupported on MCU)".into())
        })?;
        Ok(Self { model, tok, plan, opts: *opts, rules, model_bytes: bytes.len() })
    }

    /// The model.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tok
    }

    /// The session's memory plan (every byte [`Engine::generator`] allocates for it).
    pub fn plan(&self) -> &MemoryPlan {
        &self.plan
    }

    /// Size of the model file (flash bytes).
    pub fn model_bytes(&self) -> usize {
        self.model_bytes
    }

    /// Allocate a generator: the session (KV cache and scratch), the prompt buffer and the
    /// sampler's candidate buffer. After this, generating allocates nothing (prompt
    /// tokenization excepted: see [`Generator::generate`]).
    pub fn generator(&self) -> Result<Generator<'_, 'a>, McuError> {
        let session = Session::with_plan(&self.model, self.plan)?;
        let o = &self.opts;
        let mut sampler = SamplerChain::from_params(&SamplerParams {
            temp: o.temp,
            top_k: o.top_k,
            top_p: o.top_p,
            min_p: o.min_p,
            seed: o.seed,
            ..SamplerParams::default()
        });
        // Size the candidate buffer now; `reset` restarts the random stream from its seed.
        sampler.apply(session.logits()).map_err(|e| McuError::Sample(e.to_string()))?;
        sampler.reset();
        Ok(Generator { engine: self, session, sampler, prompt: Vec::with_capacity(self.plan.n_ctx) })
    }
}

/// What one [`Generator::generate`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenStats {
    /// Prompt tokens (BOS included).
    pub prompt_tokens: usize,
    /// Tokens generated (an end-of-generation token included).
    pub tokens: usize,
    /// Clock ticks spent in prefill.
    pub prefill_ticks: u64,
    /// Clock ticks spent generating.
    pub decode_ticks: u64,
    /// Whether generation stopped because the context was full.
    pub context_full: bool,
}

impl GenStats {
    /// Generated tokens per second at `ticks_per_second` (None without a running clock).
    pub fn tokens_per_second(&self, ticks_per_second: u64) -> Option<f32> {
        (self.decode_ticks > 0 && ticks_per_second > 0)
            .then(|| self.tokens as f32 * ticks_per_second as f32 / self.decode_ticks as f32)
    }
}

/// A session plus sampler, ready to continue prompts.
#[derive(Debug)]
pub struct Generator<'e, 'a> {
    engine: &'e Engine<'a>,
    session: Session<'e, 'a>,
    sampler: SamplerChain,
    prompt: Vec<u32>,
}

impl Generator<'_, '_> {
    /// The session.
    pub fn session(&self) -> &Session<'_, '_> {
        &self.session
    }

    /// Continue `prompt` (a fresh context: BOS + prompt), streaming the generated text to `out`
    /// as the tokens come, for at most `n_predict` tokens (fewer at an end-of-generation token
    /// or a full context). Exactly what `emberlm run -p PROMPT -n N` prints after the prompt.
    ///
    /// Prefill and decoding allocate nothing. Tokenizing the prompt uses the runtime's
    /// `Tokenizer::encode`, which returns a fresh `Vec` and frees its temporaries: those
    /// allocations are transient (freed before prefill starts).
    pub fn generate<W: embedded_io::Write, C: Clock>(
        &mut self,
        prompt: &str,
        n_predict: usize,
        out: &mut W,
        clock: &C,
    ) -> Result<GenStats, McuError> {
        let tok = &self.engine.tok;
        let n_ctx = self.session.n_ctx();
        let ids = tok.encode(prompt, true, true).map_err(|e| McuError::Tokenizer(e.to_string()))?;
        if ids.is_empty() || ids.len() >= n_ctx {
            return Err(McuError::Prompt { tokens: ids.len(), n_ctx });
        }
        self.prompt.clear();
        self.prompt.extend_from_slice(&ids);
        drop(ids);

        self.session.reset();
        self.sampler.reset();
        for &t in &self.prompt {
            self.sampler.accept(t);
        }
        let mut stats = GenStats { prompt_tokens: self.prompt.len(), ..GenStats::default() };
        let t0 = clock.now();
        let mut logits = self.session.prefill(&self.prompt)?;
        let t1 = clock.now();
        stats.prefill_ticks = t1.wrapping_sub(t0);

        let mut dec = PieceDecoder::new(tok, self.engine.rules);
        let io = |e: W::Error| McuError::Io(embedded_io::Error::kind(&e));
        while stats.tokens < n_predict {
            let next = self.sampler.sample(logits).map_err(|e| McuError::Sample(e.to_string()))?;
            stats.tokens += 1;
            if tok.vocab().is_eog(next) {
                break;
            }
            out.write_all(dec.piece(next)).map_err(io)?;
            out.flush().map_err(io)?;
            if stats.tokens == n_predict {
                break;
            }
            if self.session.n_past() >= n_ctx {
                stats.context_full = true;
                break;
            }
            logits = self.session.decode_step(next)?;
        }
        stats.decode_ticks = clock.now().wrapping_sub(t1);
        Ok(stats)
    }
}
