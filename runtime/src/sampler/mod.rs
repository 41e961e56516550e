//! Token samplers: turn a logit vector into the next token.
//!
//! The design follows llama.cpp's `llama_sampler` chain: every sampler transforms a
//! [`Candidates`] list (`id`, `logit`, `p`, like `llama_token_data_array`) in place, and the
//! last one of a chain *selects* a candidate ([`Greedy`] or [`Dist`]). Stateful samplers
//! (the repetition [`Penalties`], the seeded [`Dist`]) learn the tokens actually emitted through
//! [`Sampler::accept`].
//!
//! | file | sampler | llama.cpp equivalent |
//! |---|---|---|
//! | `greedy.rs` | [`Greedy`] | `llama_sampler_init_greedy` |
//! | `temperature.rs` | [`Temperature`] | `llama_sampler_init_temp` |
//! | `top_k.rs` | [`TopK`] | `llama_sampler_init_top_k` |
//! | `top_p.rs` | [`TopP`] | `llama_sampler_init_top_p` |
//! | `min_p.rs` | [`MinP`] | `llama_sampler_init_min_p` |
//! | `typical.rs` | [`Typical`] | `llama_sampler_init_typical` |
//! | `penalties.rs` | [`Penalties`] | `llama_sampler_init_penalties` |
//! | `logit_bias.rs` | [`LogitBias`] | `llama_sampler_init_logit_bias` |
//! | `dist.rs` | [`Dist`] with [`Rng`] | `llama_sampler_init_dist` (own PRNG, see below) |
//! | `chain.rs` | [`SamplerChain`], [`SamplerParams`] | `common_sampler_init` |
//! | `beam.rs` | [`beam_search`] | (removed `llama_beam_search`) |
//! | `beam_session.rs` | [`SessionBeams`], [`beam_search_session`] | `llama_memory_seq_cp` per beam |
//!
//! # Determinism
//! Everything here is plain IEEE-754 arithmetic (`+ - * /`, correctly rounded on every Rust
//! target, never contracted into FMAs) plus `libm`'s software `expf`/`logf`/`powf`, and the
//! random draw comes from [`Rng`] (xoshiro256** seeded through splitmix64), so the same seed
//! and the same logits give the same token sequence on every target, OS and kernel tier.
//! Sorting uses a total order (logit descending, then token id ascending), so ties are broken
//! the same way everywhere (llama.cpp's `std::partial_sort` leaves tie order unspecified).
//!
//! # Allocation
//! A [`SamplerChain`] owns its candidate buffer and every scratch buffer; after the first token
//! (which sizes them to the vocabulary), sampling allocates nothing.

mod beam;
mod beam_session;
mod candidates;
mod chain;
mod dist;
mod greedy;
mod logit_bias;
mod min_p;
mod penalties;
mod rng;
mod temperature;
mod top_k;
mod top_p;
mod typical;

pub use beam::{BeamError, BeamHypothesis, BeamModel, BeamParams, BeamResult, PrefixModel, beam_search};
pub use beam_session::{SessionBeams, beam_search_session};
pub use candidates::{Candidates, TokenData};
pub use chain::{DEFAULT_SEED, SamplerChain, SamplerParams};
pub use dist::Dist;
pub use greedy::Greedy;
pub use logit_bias::LogitBias;
pub use min_p::MinP;
pub use penalties::Penalties;
pub use rng::Rng;
pub use temperature::Temperature;
pub use top_k::TopK;
pub use top_p::TopP;
pub use typical::Typical;

/// Why no token could be sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleError {
    /// The candidate list (or the logit vector) is empty.
    Empty,
    /// No candidate has a finite logit (all `-inf`, or a `NaN`/`+inf` logit), so there is no
    /// probability distribution to draw from.
    NonFinite,
    /// The chain ended without a sampler that selects a token ([`Greedy`] or [`Dist`]).
    NothingSelected,
}

impl core::fmt::Display for SampleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("no candidate token to sample from"),
            Self::NonFinite => f.write_str("the logits hold no finite value (NaN, +inf or all -inf)"),
            Self::NothingSelected => {
                f.write_str("the sampler chain has no selecting sampler (greedy or dist) at its end")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SampleError {}

/// One step of a sampler chain.
///
/// `apply` transforms the candidates in place (reorders, truncates, rescales logits, fills `p`,
/// or selects one). `accept` is told each token that was finally emitted (and, if the caller
/// wants penalties to see it, each prompt token); `reset` forgets that history.
pub trait Sampler: core::fmt::Debug + Send {
    /// A short name (`"top-k"`, `"dist"`, ...), as llama.cpp prints in its chain description.
    fn name(&self) -> &'static str;
    /// Transform (or select from) the candidates.
    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError>;
    /// Record an emitted token.
    fn accept(&mut self, _token: u32) {}
    /// Forget the recorded tokens and restart any random stream from its seed.
    fn reset(&mut self) {}
}
