//! GGUF files, read in place from a byte slice.
//!
//! [`Gguf::parse`] validates the whole header, metadata and tensor directory up front and copies
//! nothing: keys, names, strings, arrays and tensor data all borrow from the input. Every
//! malformed input is a [`GgufError`]; the parser never panics, and it allocates only in
//! proportion to the entries actually present in the input.
//!
//! ```
//! # fn main() -> Result<(), emberlm_models::GgufError> {
//! # let bytes = emberlm_models::GgufWriter::new().add_string("general.architecture", "llama")
//! #     .add_u32("llama.block_count", 30).to_bytes().unwrap();
//! use emberlm_models::Gguf;
//! let gguf = Gguf::parse(&bytes)?;
//! assert_eq!(gguf.get_str("general.architecture")?, "llama");
//! let n_layers = gguf.get_u32("llama.block_count")?;
//! for t in gguf.tensors() {
//!     println!("{} {:?} {} {} bytes", t.name(), t.dims(), t.ty(), t.bytes().len());
//! }
//! # assert_eq!(n_layers, 30);
//! # Ok(()) }
//! ```

mod array;
mod cursor;
mod error;
mod reader;
mod tensor;
mod value;
#[cfg(feature = "std")]
mod writer;

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;

pub use array::{ArrayIter, ArrayView, MAX_ARRAY_DEPTH, ScalarIter, StringIter};
pub use error::{GgufError, Result};
pub use tensor::TensorView;
pub use value::{Scalar, Value, ValueType};
#[cfg(feature = "std")]
pub use writer::{ArrayBuf, GgufWriter};

/// Alignment of the data section and of each tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u32 = 32;

/// One metadata key/value pair, in file order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetadataEntry<'a> {
    /// The key (`general.architecture`, ...).
    pub key: &'a str,
    /// The value, borrowed from the file.
    pub value: Value<'a>,
    /// File offset of the entry (of its key).
    pub offset: usize,
}

/// A parsed GGUF file (v2 or v3), borrowing everything from the bytes it was parsed from.
#[derive(Clone, Debug)]
pub struct Gguf<'a> {
    bytes: &'a [u8],
    version: u32,
    alignment: u32,
    data_offset: usize,
    metadata: Vec<MetadataEntry<'a>>,
    meta_index: BTreeMap<&'a str, usize>,
    tensors: Vec<TensorView<'a>>,
    tensor_index: BTreeMap<&'a str, usize>,
}

impl<'a> Gguf<'a> {
    /// Parse and validate a whole GGUF file held in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        reader::parse(bytes)
    }

    /// The format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The alignment of the data section and of each tensor's data (`general.alignment`).
    pub fn alignment(&self) -> u32 {
        self.alignment
    }

    /// File offset of the data section: the end of the tensor directory, padded to the alignment.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The whole file.
    pub fn file_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    // ---- metadata ----

    /// All metadata, in file order.
    pub fn metadata(&self) -> &[MetadataEntry<'a>] {
        &self.metadata
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.entry(key).map(|e| e.value)
    }

    /// The entry of `key`, if present.
    pub fn entry(&self, key: &str) -> Option<&MetadataEntry<'a>> {
        self.meta_index.get(key).and_then(|&i| self.metadata.get(i))
    }

    /// `general.architecture` (`llama`, `gemma3`, ...).
    pub fn architecture(&self) -> Result<&'a str> {
        self.get_str("general.architecture")
    }

    /// Look `key` up and convert its value with `f`: `Ok(None)` if absent, `WrongType` if `f`
    /// rejects it.
    fn typed<T>(
        &self,
        key: &str,
        expected: ValueType,
        f: impl Fn(&Value<'a>) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => f(&v).map(Some).ok_or_else(|| GgufError::WrongType {
                key: key.to_string(),
                expected,
                found: v.value_type(),
            }),
        }
    }

    /// A `u32` value (`u8` and `u16` values are widened), or `None` if `key` is absent.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        self.typed(key, ValueType::U32, Value::as_u32)
    }

    /// A `u64` value (any unsigned integer is widened, as llama.cpp accepts `u32` for counts).
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        self.typed(key, ValueType::U64, Value::as_u64)
    }

    /// An `f32` value, or `None` if `key` is absent.
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        self.typed(key, ValueType::F32, Value::as_f32)
    }

    /// A bool value, or `None` if `key` is absent.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, ValueType::Bool, Value::as_bool)
    }

    /// An array value, or `None` if `key` is absent.
    pub fn opt_array(&self, key: &str) -> Result<Option<ArrayView<'a>>> {
        self.typed(key, ValueType::Array, Value::as_array)
    }

    /// A string value, or `None` if `key` is absent. A string that is not UTF-8 is an
    /// [`GgufError::InvalidUtf8`] error.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        let Some(bytes) = self.typed(key, ValueType::String, Value::as_bytes)? else { return Ok(None) };
        let offset = self.entry(key).map_or(0, |e| e.offset);
        core::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| GgufError::InvalidUtf8 { offset, what: "string value" })
    }

    /// A `u32` value; see [`Gguf::opt_u32`].
    pub fn get_u32(&self, key: &str) -> Result<u32> {
        self.opt_u32(key)?.ok_or_else(|| missing(key))
    }

    /// A `u64` value; see [`Gguf::opt_u64`].
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?.ok_or_else(|| missing(key))
    }

    /// An `f32` value.
    pub fn get_f32(&self, key: &str) -> Result<f32> {
        self.opt_f32(key)?.ok_or_else(|| missing(key))
    }

    /// A bool value.
    pub fn get_bool(&self, key: &str) -> Result<bool> {
        self.opt_bool(key)?.ok_or_else(|| missing(key))
    }

    /// A UTF-8 string value.
    pub fn get_str(&self, key: &str) -> Result<&'a str> {
        self.opt_str(key)?.ok_or_else(|| missing(key))
    }

    /// An array value.
    pub fn get_array(&self, key: &str) -> Result<ArrayView<'a>> {
        self.opt_array(key)?.ok_or_else(|| missing(key))
    }

    // ---- tensors ----

    /// The tensor directory, in file order, each tensor with its data.
    pub fn tensors(&self) -> &[TensorView<'a>] {
        &self.tensors
    }

    /// The tensor called `name`, if present.
    pub fn find_tensor(&self, name: &str) -> Option<TensorView<'a>> {
        self.tensor_index.get(name).and_then(|&i| self.tensors.get(i)).copied()
    }

    /// The tensor called `name`, or [`GgufError::MissingTensor`].
    pub fn tensor(&self, name: &str) -> Result<TensorView<'a>> {
        self.find_tensor(name).ok_or_else(|| GgufError::MissingTensor { name: name.to_string() })
    }
}

fn missing(key: &str) -> GgufError {
    GgufError::MissingKey { key: key.to_string() }
}
