//! Metadata values: their types, and values borrowed from the file.
//!
//! A string is the `&[u8]` of its bytes, an array an [`ArrayView`] over its encoded elements.

use alloc::vec::Vec;
use core::fmt;

use super::array::{ArrayView, read_array};
use super::cursor::Cursor;
use super::error::{GgufError, Result};

/// The type of a metadata value (`gguf_type`). The discriminant is the GGUF type id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    /// The type with GGUF id `id`, or `None` if there is none.
    pub const fn from_id(id: u32) -> Option<Self> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The GGUF type id.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// A short lowercase name: `u8`, `i32`, `f32`, `bool`, `string`, `array`, ...
    pub const fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }

    /// Encoded size of a value of this type, or `None` for the variable-size string and array.
    pub const fn fixed_size(self) -> Option<usize> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }

    /// The fewest bytes a value of this type can occupy (a string is at least its length, an
    /// array at least its element type and count).
    pub(crate) const fn min_size(self) -> usize {
        match self.fixed_size() {
            Some(n) => n,
            None if matches!(self, ValueType::String) => 8,
            None => 12,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metadata value, borrowed from the file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    /// The raw bytes of a string; GGUF strings should be UTF-8 but the reader does not insist
    /// (see [`Value::as_str`]).
    String(&'a [u8]),
    Array(ArrayView<'a>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl<'a> Value<'a> {
    /// The type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// A `u8`, `u16` or `u32` value, widened to `u32`.
    pub fn as_u32(&self) -> Option<u32> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v),
            _ => None,
        }
    }

    /// Any unsigned integer value, widened to `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(v) => Some(v),
            _ => self.as_u32().map(u64::from),
        }
    }

    /// Any integer value that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// An `f32` value.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::F32(v) => Some(v),
            _ => None,
        }
    }

    /// An `f32` or `f64` value, as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => None,
        }
    }

    /// A bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes of a string value.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::String(v) => Some(v),
            _ => None,
        }
    }

    /// A string value that is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| core::str::from_utf8(b).ok())
    }

    /// An array value.
    pub fn as_array(&self) -> Option<ArrayView<'a>> {
        match *self {
            Value::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// Scalars print as Rust does, strings quoted and escaped, arrays as their first elements and
/// their length: `["a", "b", "c", … 49152 × string]`.
impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U8(v) => write!(f, "{v}"),
            Value::I8(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::String(b) => match core::str::from_utf8(b) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write!(f, "b\"{}\"", b.escape_ascii()),
            },
            Value::Array(a) => {
                const SHOWN: usize = 8;
                f.write_str("[")?;
                for (i, v) in a.iter().take(if a.len() <= SHOWN { SHOWN } else { 3 }).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                if a.len() > SHOWN {
                    write!(f, ", … {} × {}", a.len(), a.elem_type())?;
                }
                f.write_str("]")
            }
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A fixed-size metadata scalar: `u8`, `i8`, `u16`, `i16`, `u32`, `i32`, `f32`, `bool`, `u64`,
/// `i64`, `f64`.
pub trait Scalar: Copy + sealed::Sealed {
    /// The GGUF type of this scalar.
    const TYPE: ValueType;
    /// Its encoded size in bytes.
    const SIZE: usize;
    /// Decode from exactly [`Scalar::SIZE`] little-endian bytes.
    fn from_le(bytes: &[u8]) -> Option<Self>;
    /// Append the little-endian encoding to `out`.
    fn write_le(self, out: &mut Vec<u8>);
    /// This scalar as a [`Value`].
    fn to_value(self) -> Value<'static>;
}

macro_rules! scalar {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Scalar for $t {
            const TYPE: ValueType = ValueType::$variant;
            const SIZE: usize = core::mem::size_of::<$t>();
            fn from_le(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(<$t>::from_le_bytes)
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn to_value(self) -> Value<'static> {
                Value::$variant(self)
            }
        }
    )*};
}

scalar!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, f32 => F32, u64 => U64,
    i64 => I64, f64 => F64);

impl sealed::Sealed for bool {}
impl Scalar for bool {
    const TYPE: ValueType = ValueType::Bool;
    const SIZE: usize = 1;
    fn from_le(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [b] => Some(*b != 0),
            _ => None,
        }
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(self.into());
    }
    fn to_value(self) -> Value<'static> {
        Value::Bool(self)
    }
}

/// Read a value of type `ty`. `depth` is the nesting depth of the array containing it (0 at top
/// level).
pub(crate) fn read_value<'a>(cur: &mut Cursor<'a>, ty: ValueType, depth: usize) -> Result<Value<'a>> {
    fn scalar<'a, T: Scalar>(cur: &mut Cursor<'a>) -> Result<T> {
        let offset = cur.offset();
        let what = T::TYPE.name();
        T::from_le(cur.take(T::SIZE, what)?).ok_or(GgufError::UnexpectedEof { offset, what })
    }
    Ok(match ty {
        ValueType::U8 => Value::U8(scalar(cur)?),
        ValueType::I8 => Value::I8(scalar(cur)?),
        ValueType::U16 => Value::U16(scalar(cur)?),
        ValueType::I16 => Value::I16(scalar(cur)?),
        ValueType::U32 => Value::U32(scalar(cur)?),
        ValueType::I32 => Value::I32(scalar(cur)?),
        ValueType::F32 => Value::F32(scalar(cur)?),
        ValueType::U64 => Value::U64(scalar(cur)?),
        ValueType::I64 => Value::I64(scalar(cur)?),
        ValueType::F64 => Value::F64(scalar(cur)?),
        ValueType::Bool => {
            let offset = cur.offset();
            match cur.u8("bool")? {
                b @ (0 | 1) => Value::Bool(b == 1),
                byte => return Err(GgufError::InvalidBool { offset, byte }),
            }
        }
        ValueType::String => Value::String(cur.string("string")?),
        ValueType::Array => Value::Array(read_array(cur, depth + 1)?),
    })
}

/// Read a value preceded by its `u32` type id, as metadata values are stored.
pub(crate) fn read_typed_value<'a>(cur: &mut Cursor<'a>) -> Result<Value<'a>> {
    let offset = cur.offset();
    let id = cur.u32("value type")?;
    let ty = ValueType::from_id(id).ok_or(GgufError::UnknownValueType { offset, id })?;
    read_value(cur, ty, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_ids_round_trip() {
        for id in 0..13 {
            assert_eq!(ValueType::from_id(id).map(ValueType::id), Some(id));
        }
        assert_eq!(ValueType::from_id(13), None);
    }

    #[test]
    fn widening_accessors() {
        assert_eq!(Value::U16(7).as_u32(), Some(7));
        assert_eq!(Value::U64(7).as_u32(), None);
        assert_eq!(Value::U32(7).as_u64(), Some(7));
        assert_eq!(Value::I32(-7).as_u64(), None);
        assert_eq!(Value::I32(-7).as_i64(), Some(-7));
        assert_eq!(Value::U64(u64::MAX).as_i64(), None);
        assert_eq!(Value::F32(0.5).as_f64(), Some(0.5));
        assert_eq!(Value::F64(0.5).as_f32(), None);
        assert_eq!(Value::String(b"x").as_str(), Some("x"));
    }
}
