//! Beam search with a length penalty, over an abstract model with forkable sequence slots.
//!
//! # The model interface and how a session wires it
//! [`BeamModel`] sees the model as `width` numbered *slots*, each holding one sequence (in a
//! session: one KV-cache sequence). It needs two operations:
//!
//! - [`BeamModel::step`]`(slot, token, logits)`: append `token` to the slot's sequence, run
//!   one forward step and write the next-token logits (session: `decode` one token at the
//!   slot's position, reading the slot's KV rows).
//! - [`BeamModel::copy_slot`]`(src, dst)`: make `dst` hold exactly `src`'s sequence (session:
//!   truncate `dst` and copy `src`'s KV rows `[0, len)` into it, like llama.cpp's
//!   `llama_memory_seq_rm` + `llama_memory_seq_cp`; a paged cache can share the prefix pages
//!   copy-on-write instead).
//!
//! The caller evaluates the prompt into slot 0 and passes its last logits to
//! [`beam_search`]; slots `1..width` may hold anything on entry. Within a step every copy is
//! done before any slot is stepped, a child reuses its parent's slot when it is the parent's
//! first surviving child, and slots of parents without survivors are recycled, so at most
//! `width` slots are ever live and the number of copies is the number of extra children.
//! [`PrefixModel`] adapts a plain "prefix -> logits" closure (no cache) to this interface.
//!
//! # The search
//! Hugging Face's `BeamSearchScorer` semantics: at each step every live beam proposes its
//! `2 * width` most likely next tokens; all proposals are ranked by cumulative log-probability;
//! an end-of-generation token among the first `width` proposals closes a hypothesis, and the
//! best `width` other proposals become the next live beams. A hypothesis scores
//! `sum logprob / len^alpha` (`len` counts the generated tokens, the closing end token
//! included). The search stops after `max_tokens` tokens (the live beams then become
//! hypotheses too) or, like HF's `early_stopping=False`, once `width` hypotheses are closed and
//! the best live beam's score at its current length is no better than the worst of them.

use alloc::vec;
use alloc::vec::Vec;

use super::Candidates;

/// A model whose sequences live in numbered slots that can be copied (see the module docs).
pub trait BeamModel {
    /// The model's error type.
    type Error;

    /// Append `token` to the sequence in `slot` and write the logits for the next token into
    /// `logits` (resized as needed).
    fn step(&mut self, slot: usize, token: u32, logits: &mut Vec<f32>) -> Result<(), Self::Error>;

    /// Make slot `dst` hold the same sequence as slot `src`.
    fn copy_slot(&mut self, src: usize, dst: usize) -> Result<(), Self::Error>;
}

/// Beam search settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamParams {
    /// number of beams (>= 1; 1 is greedy search)
    pub width: usize,
    /// the most tokens to generate
    pub max_tokens: usize,
    /// length penalty exponent `alpha` in `sum logprob / len^alpha` (HF's default is 1.0)
    pub length_penalty: f64,
    /// tokens that close a hypothesis (end of generation)
    pub eos: Vec<u32>,
}

/// One finished (or, at `max_tokens`, unfinished) hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamHypothesis {
    /// the generated tokens, the end token included if `finished`
    pub tokens: Vec<u32>,
    /// sum of the natural-log probabilities of `tokens`
    pub sum_logprob: f64,
    /// `sum_logprob / len^alpha`
    pub score: f64,
    /// whether it ended with an end-of-generation token
    pub finished: bool,
}

/// The hypotheses of a search, best score first.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamResult {
    /// at most `width` finished hypotheses plus, if `max_tokens` was reached, the live beams
    pub hypotheses: Vec<BeamHypothesis>,
    /// number of `step` calls made
    pub steps: usize,
    /// number of `copy_slot` calls made
    pub copies: usize,
}

impl BeamResult {
    /// The best hypothesis.
    pub fn best(&self) -> Option<&BeamHypothesis> {
        self.hypotheses.first()
    }
}

/// Why a beam search failed.
#[derive(Debug, Clone, PartialEq)]
pub enum BeamError<E> {
    /// `width` is 0.
    ZeroWidth,
    /// The model produced an empty logit vector.
    EmptyLogits,
    /// The model produced logits without a finite maximum (NaN, +inf or all -inf).
    NonFinite,
    /// The model failed.
    Model(E),
}

impl<E: core::fmt::Display> core::fmt::Display for BeamError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ZeroWidth => f.write_str("beam width must be at least 1"),
            Self::EmptyLogits => f.write_str("the model returned no logits"),
            Self::NonFinite => f.write_str("the model returned non-finite logits"),
            Self::Model(e) => write!(f, "model step failed: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl<E: core::fmt::Debug + core::fmt::Display> std::error::Error for BeamError<E> {}

#[derive(Debug, Clone)]
struct Beam {
    tokens: Vec<u32>,
    sum: f64,
    slot: usize,
}

#[derive(Debug, Clone, Copy)]
struct Proposal {
    parent: usize,
    token: u32,
    sum: f64,
}

fn score(sum: f64, len: usize, alpha: f64) -> f64 {
    if alpha == 0.0 { sum } else { sum / libm::pow(len as f64, alpha) }
}

/// `ln sum exp(l)` in f64, or `None` if there is no finite maximum.
fn log_sum_exp(logits: &[f32]) -> Option<f64> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m });
    if !max.is_finite() {
        return None;
    }
    let s: f64 = logits.iter().map(|&l| libm::exp(l as f64 - max as f64)).sum();
    s.is_finite().then(|| max as f64 + libm::log(s))
}

/// Insert into the closed hypotheses, keeping the `width` best (best first).
fn push_hyp(done: &mut Vec<BeamHypothesis>, h: BeamHypothesis, width: usize) {
    let at = done.iter().position(|d| h.score > d.score).unwrap_or(done.len());
    if at < width {
        done.insert(at, h);
        done.truncate(width);
    }
}

/// Run a beam search from the logits `first` that slot 0 produced (see the module docs).
pub fn beam_search<M: BeamModel>(
    model: &mut M,
    first: &[f32],
    params: &BeamParams,
) -> Result<BeamResult, BeamError<M::Error>> {
    let width = params.width;
    if width == 0 {
        return Err(BeamError::ZeroWidth);
    }
    let alpha = params.length_penalty;
    let mut slot_logits: Vec<Vec<f32>> = vec![Vec::new(); width];
    slot_logits[0].extend_from_slice(first);
    let mut live = vec![Beam { tokens: Vec::new(), sum: 0.0, slot: 0 }];
    let mut done: Vec<BeamHypothesis> = Vec::with_capacity(width + 1);
    let mut cand = Candidates::new();
    let mut proposals: Vec<Proposal> = Vec::with_capacity(2 * width * width);
    let (mut steps, mut copies) = (0, 0);

    for len in 1..=params.max_tokens {
        // 1. every live beam proposes its 2*width best continuations
        proposals.clear();
        for (bi, b) in live.iter().enumerate() {
            let logits = &slot_logits[b.slot];
            if logits.is_empty() {
                return Err(BeamError::EmptyLogits);
            }
            let lse = log_sum_exp(logits).ok_or(BeamError::NonFinite)?;
            cand.fill(logits);
            let k = (2 * width).min(cand.len());
            cand.sort_prefix(k);
            for d in &cand.as_slice()[..k] {
                if d.logit == f32::NEG_INFINITY {
                    break;
                }
                let lp = d.logit as f64 - lse;
                proposals.push(Proposal { parent: bi, token: d.id, sum: b.sum + lp });
            }
        }
        proposals.sort_unstable_by(|a, b| {
            b.sum.total_cmp(&a.sum).then(a.parent.cmp(&b.parent)).then(a.token.cmp(&b.token))
        });

        // 2. close end-of-generation hypotheses, keep the best `width` others
        let mut next: Vec<Proposal> = Vec::with_capacity(width);
        for (rank, p) in proposals.iter().enumerate() {
            if params.eos.contains(&p.token) {
                if rank < width {
                    let mut tokens = live[p.parent].tokens.clone();
                    tokens.push(p.token);
                    let h = BeamHypothesis {
                        tokens,
                        sum_logprob: p.sum,
                        score: score(p.sum, len, alpha),
                        finished: true,
                    };
                    push_hyp(&mut done, h, width);
                }
            } else if next.len() < width {
                next.push(*p);
            }
            if next.len() == width {
                // every proposal ranked < width has been seen
                break;
            }
        }
        if next.is_empty() {
            break;
        }
        if done.len() >= width {
            let best_live = score(next[0].sum, len, alpha);
            if done.last().is_some_and(|w| w.score >= best_live) {
                break;
            }
        }
        if len == params.max_tokens {
            for p in &next {
                let mut tokens = live[p.parent].tokens.clone();
                tokens.push(p.token);
                let h = BeamHypothesis {
                    tokens,
                    sum_logprob: p.sum,
                    score: score(p.sum, len, alpha),
                    finished: false,
                };
                let at = done.iter().position(|d| h.score > d.score).unwrap_or(done.len());
                done.insert(at, h);
            }
            break;
        }

        // 3. assign slots: first child keeps the parent's slot, others copy it into free ones
        let mut parent_used = vec![false; live.len()];
        let mut slot_of = vec![usize::MAX; next.len()];
        for (ci, p) in next.iter().enumerate() {
            if !parent_used[p.parent] {
                parent_used[p.parent] = true;
                slot_of[ci] = live[p.parent].slot;
            }
        }
        let mut busy = vec![false; width];
        for &s in slot_of.iter().filter(|&&s| s != usize::MAX) {
            busy[s] = true;
        }
        // Enough free slots exist: there are at most `width` children and every busy slot
        // holds a first child, so `width - busy >= children - first children`.
        let mut free = (0..width).filter(|&s| !busy[s]);
        for (ci, p) in next.iter().enumerate() {
            if slot_of[ci] == usize::MAX {
                let Some(dst) = free.next() else { break };
                model.copy_slot(live[p.parent].slot, dst).map_err(BeamError::Model)?;
                copies += 1;
                slot_of[ci] = dst;
            }
        }
        debug_assert!(slot_of.iter().all(|&s| s != usize::MAX));

        // 4. step every new beam in its slot
        let mut new_live = Vec::with_capacity(next.len());
        for (ci, p) in next.iter().enumerate() {
            let slot = slot_of[ci];
            model.step(slot, p.token, &mut slot_logits[slot]).map_err(BeamError::Model)?;
            steps += 1;
            let mut tokens = live[p.parent].tokens.clone();
            tokens.push(p.token);
            new_live.push(Beam { tokens, sum: p.sum, slot });
        }
        live = new_live;
    }
    Ok(BeamResult { hypotheses: done, steps, copies })
}

/// Adapts a closure `f(prefix, logits)` that computes the next-token logits for the generated
/// `prefix` from scratch (no cache) into a [`BeamModel`]: each slot just remembers its prefix.
/// Handy for tests and for models too small to bother with a cache.
#[derive(Debug)]
pub struct PrefixModel<F> {
    f: F,
    slots: Vec<Vec<u32>>,
}

impl<F> PrefixModel<F> {
    /// Wrap `f`; slot 0 starts with the empty prefix.
    pub fn new(f: F) -> Self {
        Self { f, slots: vec![Vec::new()] }
    }

    fn slot_mut(&mut self, slot: usize) -> &mut Vec<u32> {
        if slot >= self.slots.len() {
            self.slots.resize(slot + 1, Vec::new());
        }
        &mut self.slots[slot]
    }
}

impl<F, E> BeamModel for PrefixModel<F>
where
    F: FnMut(&[u32], &mut Vec<f32>) -> Result<(), E>,
{
    type Error = E;

    fn step(&mut self, slot: usize, token: u32, logits: &mut Vec<f32>) -> Result<(), E> {
        self.slot_mut(slot).push(token);
        (self.f)(&self.slots[slot], logits)
    }

    fn copy_slot(&mut self, src: usize, dst: usize) -> Result<(), E> {
        let seq = self.slot_mut(src).clone();
        *self.slot_mut(dst) = seq;
        Ok(())
    }
}
