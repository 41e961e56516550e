//! emberlm: the inference runtime (forward pass, KV cache, tokenizer, sampler, sessions).
//!
//! `no_std` + `alloc`; the `std` feature adds memory-mapped files and threads.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod attention;
mod cells;
#[cfg(feature = "std")]
pub mod chat;
#[cfg(feature = "std")]
pub mod convert;
mod error;
pub mod eval;
mod forward;
pub mod kv;
pub mod matmul;
mod model;
pub mod ops;
mod plan;
pub mod sampler;
mod session;
mod session_io;
pub mod threads;
pub mod tokenizer;

pub use error::{Error, Result};
pub use kv::{KvCache, KvType};
pub use model::Model;
pub use plan::MemoryPlan;
pub use session::{Session, SessionOptions};
pub use session_io::StateError;

pub use emberlm_models as models;
pub use emberlm_quant as quant;
