//! The one error type of the GGUF reader: every malformed input and every failed lookup.

use alloc::string::String;
use core::fmt;

use emberlm_quant::QuantType;

use super::value::ValueType;

/// `Result` with [`GgufError`] as the default error.
pub type Result<T, E = GgufError> = core::result::Result<T, E>;

/// Why a GGUF file could not be parsed, or why a lookup in a parsed file failed.
///
/// Parse errors carry the byte offset (from the start of the file) of the field at fault.
/// Names and keys are copied out of the file so the error owns no borrow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GgufError {
    // ---- file structure ----
    /// The file does not start with `GGUF`.
    BadMagic { found: [u8; 4] },
    /// A version other than 2 or 3 (v1 used 32-bit counts and is not supported).
    UnsupportedVersion { version: u32 },
    /// The file ends in the middle of a field.
    UnexpectedEof { offset: usize, what: &'static str },
    /// A string or array claims more bytes than the file has left.
    LengthPastEnd { offset: usize, what: &'static str, len: u64 },
    /// A tensor or metadata count that cannot fit in the bytes that follow it.
    CountTooLarge { offset: usize, what: &'static str, count: u64, max: u64 },
    /// A key, tensor name or (via [`crate::Gguf::get_str`]) string value that is not UTF-8.
    InvalidUtf8 { offset: usize, what: &'static str },
    /// A metadata value type id outside 0..=12.
    UnknownValueType { offset: usize, id: u32 },
    /// A bool stored as something other than 0 or 1.
    InvalidBool { offset: usize, byte: u8 },
    /// Arrays nested deeper than [`crate::gguf::MAX_ARRAY_DEPTH`].
    ArrayTooDeep { offset: usize, max_depth: usize },
    /// A metadata key of length zero.
    EmptyKey { offset: usize },
    /// The same metadata key twice.
    DuplicateKey { offset: usize, key: String },
    /// `general.alignment` is present but not a `u32`.
    AlignmentWrongType { found: ValueType },
    /// `general.alignment` is zero or not a power of two.
    AlignmentNotPowerOfTwo { alignment: u32 },

    // ---- tensor directory ----
    /// A tensor with 0 or more than 4 dimensions.
    BadDimCount { offset: usize, tensor: String, n_dims: u32 },
    /// A tensor with a dimension of size zero.
    ZeroDim { offset: usize, tensor: String, dim: usize },
    /// The element count or byte size of a tensor overflows 64 bits.
    ShapeOverflow { offset: usize, tensor: String },
    /// A tensor type id emberlm does not know (or does not support).
    UnknownTensorType { offset: usize, tensor: String, id: u32 },
    /// A row length (`dims[0]`) that is not a whole number of blocks of the tensor's type.
    NotWholeBlocks { offset: usize, tensor: String, ty: QuantType, row_len: u64 },
    /// The same tensor name twice.
    DuplicateTensor { offset: usize, tensor: String },
    /// A tensor data offset that is not a multiple of the file's alignment.
    MisalignedOffset { offset: usize, tensor: String, data_offset: u64, alignment: u32 },
    /// Tensor data that extends past the end of the file (`start` is absolute).
    TensorPastEnd { tensor: String, start: u64, len: u64, file_len: usize },
    /// Two tensors whose data overlaps.
    OverlappingTensors { first: String, second: String },

    // ---- lookups in a parsed file ----
    /// A metadata key that is not in the file.
    MissingKey { key: String },
    /// A metadata value of the right type whose value makes no sense (a zero count, an array of
    /// the wrong length, ...).
    InvalidValue { key: String, why: &'static str },
    /// A metadata key whose value has another type than the one asked for.
    WrongType { key: String, expected: ValueType, found: ValueType },
    /// A tensor name that is not in the file.
    MissingTensor { name: String },
    /// [`crate::TensorView::blocks`] asked for a format that is not the tensor's type.
    TensorTypeMismatch { tensor: String, expected: QuantType, found: QuantType },
    /// Tensor bytes that cannot be viewed as blocks: misaligned in memory, or a block size that
    /// does not divide the data.
    BlockCast { tensor: String, reason: bytemuck::PodCastError },
}

impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use GgufError::*;
        match self {
            BadMagic { found } => {
                write!(f, "not a GGUF file: magic is \"{}\", expected \"GGUF\"", found.escape_ascii())
            }
            UnsupportedVersion { version } => {
                write!(f, "unsupported GGUF version {version} (only versions 2 and 3 are supported)")
            }
            UnexpectedEof { offset, what } => {
                write!(f, "file truncated at byte {offset} while reading {what}")
            }
            LengthPastEnd { offset, what, len } => {
                write!(f, "{what} at byte {offset} claims {len} elements/bytes, past the end of the file")
            }
            CountTooLarge { offset, what, count, max } => {
                write!(
                    f,
                    "{what} at byte {offset} is {count}, but the rest of the file can hold at most {max}"
                )
            }
            InvalidUtf8 { offset, what } => write!(f, "{what} at byte {offset} is not valid UTF-8"),
            UnknownValueType { offset, id } => write!(f, "unknown metadata value type {id} at byte {offset}"),
            InvalidBool { offset, byte } => {
                write!(f, "bool at byte {offset} has value {byte}, expected 0 or 1")
            }
            ArrayTooDeep { offset, max_depth } => {
                write!(f, "array at byte {offset} is nested more than {max_depth} levels deep")
            }
            EmptyKey { offset } => write!(f, "empty metadata key at byte {offset}"),
            DuplicateKey { offset, key } => write!(f, "duplicate metadata key {key:?} at byte {offset}"),
            AlignmentWrongType { found } => write!(f, "general.alignment must be a u32, found {found}"),
            AlignmentNotPowerOfTwo { alignment } => {
                write!(f, "general.alignment is {alignment}, which is not a nonzero power of two")
            }
            BadDimCount { offset, tensor, n_dims } => {
                write!(f, "tensor {tensor:?} at byte {offset} has {n_dims} dimensions, expected 1 to 4")
            }
            ZeroDim { offset, tensor, dim } => {
                write!(f, "tensor {tensor:?} at byte {offset} has size 0 in dimension {dim}")
            }
            ShapeOverflow { offset, tensor } => {
                write!(f, "tensor {tensor:?} at byte {offset} has a shape whose size overflows 64 bits")
            }
            UnknownTensorType { offset, tensor, id } => {
                write!(f, "tensor {tensor:?} at byte {offset} has unknown or unsupported type id {id}")
            }
            NotWholeBlocks { offset, tensor, ty, row_len } => write!(
                f,
                "tensor {tensor:?} at byte {offset}: row length {row_len} is not a multiple of the {ty} block size {}",
                ty.block_elems()
            ),
            DuplicateTensor { offset, tensor } => {
                write!(f, "duplicate tensor name {tensor:?} at byte {offset}")
            }
            MisalignedOffset { offset, tensor, data_offset, alignment } => write!(
                f,
                "tensor {tensor:?} at byte {offset} has data offset {data_offset}, not a multiple of the alignment {alignment}"
            ),
            TensorPastEnd { tensor, start, len, file_len } => write!(
                f,
                "tensor {tensor:?} data ({len} bytes at byte {start}) extends past the end of the file ({file_len} bytes)"
            ),
            OverlappingTensors { first, second } => write!(f, "tensors {first:?} and {second:?} overlap"),
            MissingKey { key } => write!(f, "metadata key {key:?} not found"),
            InvalidValue { key, why } => write!(f, "metadata key {key:?} has an invalid value: {why}"),
            WrongType { key, expected, found } => {
                write!(f, "metadata key {key:?} has type {found}, expected {expected}")
            }
            MissingTensor { name } => write!(f, "tensor {name:?} not found"),
            TensorTypeMismatch { tensor, expected, found } => {
                write!(f, "tensor {tensor:?} has type {found}, requested as {expected}")
            }
            BlockCast { tensor, reason } => {
                write!(f, "tensor {tensor:?} cannot be viewed as blocks: {reason}")
            }
        }
    }
}

impl core::error::Error for GgufError {}
