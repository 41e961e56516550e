//! Tensor directory entries, with their data borrowed from the file.

use alloc::string::ToString;

use emberlm_quant::{Format, QuantType};

use super::error::{GgufError, Result};

/// A tensor of a parsed GGUF file: its directory entry and its data, borrowed from the file.
///
/// Shapes are in GGUF (ggml) order: `dims()[0]` is the length of a row, the fastest-varying
/// dimension. Construction guarantees `1 <= dims().len() <= 4`, no zero dimension, a row length
/// that is a whole number of blocks, and `bytes().len() == ty().bytes_for(n_elements())`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorView<'a> {
    pub(crate) name: &'a str,
    pub(crate) dims: [u64; 4],
    pub(crate) n_dims: u8,
    pub(crate) ty: QuantType,
    pub(crate) n_elements: u64,
    /// Offset of the data relative to the start of the data section.
    pub(crate) offset: u64,
    /// Offset of the data from the start of the file.
    pub(crate) file_offset: usize,
    pub(crate) bytes: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// The tensor's name (`blk.0.attn_q.weight`, ...).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The shape, in GGUF order (row length first), exactly as many dimensions as stored.
    pub fn dims(&self) -> &[u64] {
        self.dims.get(..usize::from(self.n_dims)).unwrap_or(&self.dims)
    }

    /// The element type.
    pub fn ty(&self) -> QuantType {
        self.ty
    }

    /// Number of values (the product of the dimensions).
    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    /// Offset of the data relative to the start of the data section, as stored in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Offset of the data from the start of the file.
    pub fn file_offset(&self) -> usize {
        self.file_offset
    }

    /// The data, exactly `ty().bytes_for(n_elements())` bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The data as blocks of format `F`, without copying.
    ///
    /// Fails with [`GgufError::TensorTypeMismatch`] if `F` is not the tensor's type, and with
    /// [`GgufError::BlockCast`] if the data is not aligned in memory for `F::Block` (a file
    /// whose data section is aligned, mapped or loaded at an aligned address, always is).
    pub fn blocks<F: Format>(&self) -> Result<&'a [F::Block]> {
        if F::TYPE != self.ty {
            return Err(GgufError::TensorTypeMismatch {
                tensor: self.name.to_string(),
                expected: F::TYPE,
                found: self.ty,
            });
        }
        bytemuck::try_cast_slice(self.bytes)
            .map_err(|reason| GgufError::BlockCast { tensor: self.name.to_string(), reason })
    }
}
