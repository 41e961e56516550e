//! emberlm: the inference runtime (forward pass, KV cache, tokenizer, sampler, sessions).
//!
//! `no_std` + `alloc`; the `std` feature adds memory-mapped files and threads.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub use emberlm_models as models;
pub use emberlm_quant as quant;
