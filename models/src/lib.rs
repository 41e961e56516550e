//! emberlm-models: GGUF files read zero-copy from a byte slice, and what they describe.
//!
//! - [`Gguf`] parses a whole GGUF (v2/v3) file held in a `&[u8]` and hands out borrowed
//!   metadata ([`Value`], [`ArrayView`]) and tensors ([`TensorView`], viewable as quantized
//!   blocks with [`TensorView::blocks`]). `no_std` + `alloc`.
//! - With the `std` feature (default): [`MappedFile`] maps a model file read-only, and
//!   [`GgufWriter`] writes GGUF v3 files.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod arch;
pub mod ftype;
pub mod gguf;
pub mod hparams;
#[cfg(feature = "std")]
mod mmap;

pub use arch::{ConfigError, ModelConfig};
pub use emberlm_quant::QuantType;
pub use ftype::file_type_name;
#[cfg(feature = "std")]
pub use gguf::{ArrayBuf, GgufWriter};
pub use gguf::{ArrayView, Gguf, GgufError, MetadataEntry, TensorView, Value, ValueType};
pub use hparams::Hparams;
#[cfg(feature = "std")]
pub use mmap::MappedFile;
