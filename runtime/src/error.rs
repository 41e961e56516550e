//! The runtime's error type: model binding, memory planning and session errors.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use emberlm_models::{ConfigError, GgufError, QuantType};

/// Why a model could not be bound or a session could not run. Never a panic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The model's configuration (metadata) is unusable.
    Config(ConfigError),
    /// A GGUF lookup failed.
    Gguf(GgufError),
    /// A tensor the architecture needs is not in the file.
    MissingTensor { name: String },
    /// A tensor with another shape than the configuration implies (GGUF order, row length first).
    TensorShape { name: String, expected: Vec<u64>, found: Vec<u64> },
    /// A tensor whose type cannot be used where it is used.
    TensorType { name: String, ty: QuantType, why: &'static str },
    /// A tensor the architecture does not use (llama.cpp refuses such files too).
    UnusedTensor { name: String },
    /// A tensor whose bytes are not aligned in memory for its block type.
    Misaligned { name: String },
    /// A feature of the model that the runtime does not implement yet.
    Unsupported { what: String },
    /// The tokens do not fit in the context: `n_past + n_tokens > n_ctx`.
    ContextOverflow { n_ctx: usize, n_past: usize, n_tokens: usize },
    /// A token id outside the vocabulary.
    TokenOutOfRange { token: u32, n_vocab: usize },
    /// An empty prompt given to [`crate::Session::prefill`].
    EmptyInput,
    /// A logits buffer of the wrong size given to [`crate::Session::prefill_logits`] (or a first
    /// output index past the tokens).
    LogitsBuffer { expected: usize, got: usize },
    /// [`crate::Session::truncate`] to more positions than the session holds.
    TruncateBeyondEnd { n: usize, n_past: usize },
    /// Invalid session options (a zero context or batch size, ...).
    InvalidOptions { why: &'static str },
    /// A buffer of the memory plan could not be allocated, or its size overflows.
    OutOfMemory { bytes: usize, what: &'static str },
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<GgufError> for Error {
    fn from(e: GgufError) -> Self {
        Self::Gguf(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => e.fmt(f),
            Self::Gguf(e) => e.fmt(f),
            Self::MissingTensor { name } => write!(f, "tensor {name:?} is missing from the model"),
            Self::TensorShape { name, expected, found } => {
                write!(f, "tensor {name:?} has shape {found:?}, expected {expected:?}")
            }
            Self::TensorType { name, ty, why } => write!(f, "tensor {name:?} has type {ty}: {why}"),
            Self::UnusedTensor { name } => {
                write!(f, "tensor {name:?} is not used by this architecture (unsupported model variant?)")
            }
            Self::Misaligned { name } => {
                write!(
                    f,
                    "tensor {name:?} is not aligned in memory for its block type (load the file aligned)"
                )
            }
            Self::Unsupported { what } => write!(f, "{what} is not supported yet"),
            Self::ContextOverflow { n_ctx, n_past, n_tokens } => write!(
                f,
                "context overflow: {n_past} tokens in the context + {n_tokens} new exceed the context size {n_ctx}"
            ),
            Self::TokenOutOfRange { token, n_vocab } => {
                write!(f, "token id {token} is outside the vocabulary of {n_vocab} tokens")
            }
            Self::EmptyInput => write!(f, "empty prompt"),
            Self::LogitsBuffer { expected, got } => {
                write!(
                    f,
                    "logits buffer holds {got} values, {expected} are needed (or the first output is past the input)"
                )
            }
            Self::TruncateBeyondEnd { n, n_past } => {
                write!(f, "cannot truncate to {n} tokens: the session holds only {n_past}")
            }
            Self::InvalidOptions { why } => write!(f, "invalid session options: {why}"),
            Self::OutOfMemory { bytes, what } => write!(f, "cannot allocate {bytes} bytes for {what}"),
        }
    }
}

impl core::error::Error for Error {}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A zero-filled vector of exactly `n` elements, allocated fallibly (an MCU heap that is too
/// small gives [`Error::OutOfMemory`], not an abort).
pub(crate) fn zeroed<T: Clone + Default>(n: usize, what: &'static str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    let bytes = n.saturating_mul(core::mem::size_of::<T>());
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory { bytes, what })?;
    v.resize(n, T::default());
    Ok(v)
}
