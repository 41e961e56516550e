//! emberlm-models: GGUF files read zero-copy from a byte slice, and what they describe.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub use emberlm_quant::QuantType;
