//! A chain of samplers and the standard chain built from [`SamplerParams`].

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    Candidates, Dist, Greedy, LogitBias, MinP, Penalties, SampleError, Sampler, Temperature, TopK, TopP,
    Typical,
};

/// The seed [`SamplerParams::default`] uses. The core has no entropy source; a front end that
/// wants a different stream per run (llama.cpp's default) picks a random seed itself.
pub const DEFAULT_SEED: u64 = 0x00C0_FFEE;

/// The usual sampling knobs, with llama.cpp's defaults (`common_params_sampling`).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerParams {
    /// temperature; `<= 0` means greedy (default 0.8)
    pub temp: f32,
    /// keep the k most likely tokens; 0 disables (default 40)
    pub top_k: usize,
    /// nucleus threshold; 1.0 disables (default 0.95)
    pub top_p: f32,
    /// keep tokens with `p >= min_p * p_max`; 0.0 disables (default 0.05)
    pub min_p: f32,
    /// locally typical threshold; 1.0 disables (default 1.0)
    pub typical_p: f32,
    /// repetition penalty; 1.0 disables (default 1.0)
    pub repeat_penalty: f32,
    /// frequency penalty per occurrence; 0.0 disables (default 0.0)
    pub freq_penalty: f32,
    /// presence penalty; 0.0 disables (default 0.0)
    pub presence_penalty: f32,
    /// how many of the last accepted tokens the penalties look at; 0 disables (default 64)
    pub penalty_last_n: usize,
    /// additive (token, bias) pairs applied first; `f32::NEG_INFINITY` bans a token
    pub logit_bias: Vec<(u32, f32)>,
    /// the truncating samplers keep at least this many tokens (default 0)
    pub min_keep: usize,
    /// seed of the final draw (default [`DEFAULT_SEED`])
    pub seed: u64,
}

impl Default for SamplerParams {
    fn default() -> Self {
        Self {
            temp: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            typical_p: 1.0,
            repeat_penalty: 1.0,
            freq_penalty: 0.0,
            presence_penalty: 0.0,
            penalty_last_n: 64,
            logit_bias: Vec::new(),
            min_keep: 0,
            seed: DEFAULT_SEED,
        }
    }
}

impl SamplerParams {
    /// Greedy decoding (temperature 0), everything else at its default.
    pub fn greedy() -> Self {
        Self { temp: 0.0, ..Self::default() }
    }
}

/// Samplers applied in order to the candidates built from a logit vector; the last one must
/// select a token ([`Greedy`] or [`Dist`]).
///
/// The candidate buffer is owned by the chain and reused, so after the first call sampling
/// allocates nothing.
#[derive(Debug, Default)]
pub struct SamplerChain {
    samplers: Vec<Box<dyn Sampler>>,
    cur: Candidates,
}

impl SamplerChain {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// The standard chain, in llama.cpp's default order (`common_sampler_init`):
    ///
    /// `logit-bias -> penalties -> top-k -> typical -> top-p -> min-p -> temp -> dist`
    ///
    /// Disabled stages are left out (they would not change anything). With `temp <= 0` the
    /// chain is `logit-bias -> penalties -> greedy`, which selects the same token as
    /// llama.cpp's temperature-0 chain.
    pub fn from_params(p: &SamplerParams) -> Self {
        let mut c = Self::new();
        if !p.logit_bias.is_empty() {
            c.push(LogitBias::new(&p.logit_bias));
        }
        let pen = Penalties::new(p.penalty_last_n, p.repeat_penalty, p.freq_penalty, p.presence_penalty);
        if !pen.is_disabled() {
            c.push(pen);
        }
        if p.temp <= 0.0 {
            c.push(Greedy);
            return c;
        }
        if p.top_k > 0 {
            c.push(TopK::new(p.top_k));
        }
        if p.typical_p < 1.0 {
            c.push(Typical::new(p.typical_p, p.min_keep));
        }
        if p.top_p < 1.0 {
            c.push(TopP::new(p.top_p, p.min_keep));
        }
        if p.min_p > 0.0 {
            c.push(MinP::new(p.min_p, p.min_keep));
        }
        c.push(Temperature::new(p.temp));
        c.push(Dist::new(p.seed));
        c
    }

    /// Append a sampler.
    pub fn push(&mut self, s: impl Sampler + 'static) -> &mut Self {
        self.samplers.push(Box::new(s));
        self
    }

    /// The stage names joined by `" -> "`, e.g. `"top-k -> temp -> dist"`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, smp) in self.samplers.iter().enumerate() {
            if i > 0 {
                s.push_str(" -> ");
            }
            s.push_str(smp.name());
        }
        s
    }

    /// Run the chain on `logits` (index = token id) without recording the result; returns the
    /// final candidates, whose [`Candidates::selected_token`] is the choice.
    pub fn apply(&mut self, logits: &[f32]) -> Result<&Candidates, SampleError> {
        if logits.is_empty() {
            return Err(SampleError::Empty);
        }
        self.cur.fill(logits);
        for s in &mut self.samplers {
            s.apply(&mut self.cur)?;
        }
        if self.cur.selected().is_none() {
            return Err(SampleError::NothingSelected);
        }
        Ok(&self.cur)
    }

    /// Sample the next token from `logits` and [`accept`](Self::accept) it.
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32, SampleError> {
        let tok = self.apply(logits)?.selected_token().ok_or(SampleError::NothingSelected)?.id;
        self.accept(tok);
        Ok(tok)
    }

    /// Tell every stage that `token` was emitted (or is part of the prompt, if the penalties
    /// should see prompt tokens as llama.cpp's CLI does).
    pub fn accept(&mut self, token: u32) {
        for s in &mut self.samplers {
            s.accept(token);
        }
    }

    /// Forget the accepted tokens and restart the random stream from its seed.
    pub fn reset(&mut self) {
        for s in &mut self.samplers {
            s.reset();
        }
    }

    /// The candidates after the last [`apply`](Self::apply) / [`sample`](Self::sample).
    pub fn candidates(&self) -> &Candidates {
        &self.cur
    }
}
