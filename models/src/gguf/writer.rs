//! Writing GGUF v3 files.
//!
//! [`GgufWriter`] collects metadata (encoded as it is added) and tensors (borrowed, not copied),
//! validates everything, and writes the file in one pass to any [`std::io::Write`]: header,
//! metadata, tensor directory, padding to the alignment, then each tensor's data padded to the
//! alignment. Tensor offsets are assigned in the order tensors were added, as llama.cpp and
//! gguf-py do, so a file read with [`crate::Gguf`] and written back is reproduced byte for byte.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::io::{self, Write};

use emberlm_quant::QuantType;

use super::array::{ArrayView, MAX_ARRAY_DEPTH};
use super::value::{Scalar, Value, ValueType};
use super::{DEFAULT_ALIGNMENT, Gguf};

/// An encoded metadata array, ready to be added with [`GgufWriter::add_array`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayBuf {
    elem: ValueType,
    len: u64,
    bytes: Vec<u8>,
    depth: usize,
}

impl ArrayBuf {
    /// An array of scalars (`u32`, `f32`, `bool`, ...).
    pub fn scalars<T: Scalar>(items: &[T]) -> Self {
        let mut bytes = Vec::with_capacity(items.len() * T::SIZE);
        items.iter().for_each(|x| x.write_le(&mut bytes));
        Self { elem: T::TYPE, len: items.len() as u64, bytes, depth: 1 }
    }

    /// An array of strings (any byte strings; GGUF strings are normally UTF-8).
    pub fn strings<S: AsRef<[u8]>>(items: impl IntoIterator<Item = S>) -> Self {
        let (mut bytes, mut len) = (Vec::new(), 0);
        for s in items {
            write_string(&mut bytes, s.as_ref());
            len += 1;
        }
        Self { elem: ValueType::String, len, bytes, depth: 1 }
    }

    /// An array of arrays; each inner array keeps its own element type.
    pub fn arrays(items: impl IntoIterator<Item = ArrayBuf>) -> Self {
        let (mut bytes, mut len, mut depth) = (Vec::new(), 0, 1);
        for a in items {
            a.encode(&mut bytes);
            depth = depth.max(a.depth + 1);
            len += 1;
        }
        Self { elem: ValueType::Array, len, bytes, depth }
    }

    /// A copy of an array read from a file, encoded exactly as it was.
    pub fn from_view(view: &ArrayView<'_>) -> Self {
        let mut depth = 1;
        if view.elem_type() == ValueType::Array {
            for inner in view.iter().filter_map(|v| v.as_array()) {
                depth = depth.max(Self::from_view(&inner).depth + 1);
            }
        }
        Self { elem: view.elem_type(), len: view.len() as u64, bytes: view.raw_bytes().to_vec(), depth }
    }

    /// The element type.
    pub fn elem_type(&self) -> ValueType {
        self.elem
    }

    /// Number of elements.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element type, count and elements, as stored inside a value of type array.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.elem.id().to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.bytes);
    }
}

#[derive(Clone, Debug)]
struct PendingTensor<'d> {
    name: String,
    dims: Vec<u64>,
    ty: QuantType,
    data: &'d [u8],
}

/// Builds a GGUF v3 file. Metadata keys and tensors are written in the order they are added.
///
/// The `add_*` methods chain and never fail; everything is validated by
/// [`GgufWriter::write_to`], which reports problems as [`io::ErrorKind::InvalidInput`].
/// The alignment is `general.alignment` if that key is added (as a `u32`), else 32.
#[derive(Clone, Debug, Default)]
pub struct GgufWriter<'d> {
    /// Key and encoded value (type id followed by the value).
    metadata: Vec<(String, Vec<u8>)>,
    /// Deepest array nesting among the metadata.
    max_depth: usize,
    tensors: Vec<PendingTensor<'d>>,
}

macro_rules! adders {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        #[doc = concat!("Add a `", stringify!($t), "` value.")]
        pub fn $name(&mut self, key: &str, value: $t) -> &mut Self {
            self.add_scalar(key, value)
        }
    )*};
}

impl<'d> GgufWriter<'d> {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer holding everything `gguf` holds: its metadata in order (arrays copied verbatim)
    /// and its tensors in order, borrowing their data.
    pub fn from_gguf(gguf: &Gguf<'d>) -> Self {
        let mut w = Self::new();
        for e in gguf.metadata() {
            w.add_value(e.key, e.value);
        }
        for t in gguf.tensors() {
            w.add_tensor(t.name(), t.dims(), t.ty(), t.bytes());
        }
        w
    }

    fn push(&mut self, key: &str, ty: ValueType, payload: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        let mut enc = ty.id().to_le_bytes().to_vec();
        payload(&mut enc);
        self.metadata.push((key.to_string(), enc));
        self
    }

    /// Add a scalar value of any scalar type.
    pub fn add_scalar<T: Scalar>(&mut self, key: &str, value: T) -> &mut Self {
        self.push(key, T::TYPE, |out| value.write_le(out))
    }

    adders!(add_u8: u8, add_i8: i8, add_u16: u16, add_i16: i16, add_u32: u32, add_i32: i32, add_f32: f32,
        add_bool: bool, add_u64: u64, add_i64: i64, add_f64: f64);

    /// Add a string value.
    pub fn add_string(&mut self, key: &str, value: impl AsRef<[u8]>) -> &mut Self {
        self.push(key, ValueType::String, |out| write_string(out, value.as_ref()))
    }

    /// Add an array value.
    pub fn add_array(&mut self, key: &str, array: ArrayBuf) -> &mut Self {
        self.max_depth = self.max_depth.max(array.depth);
        self.push(key, ValueType::Array, |out| array.encode(out))
    }

    /// Add an array of scalars.
    pub fn add_scalar_array<T: Scalar>(&mut self, key: &str, items: &[T]) -> &mut Self {
        self.add_array(key, ArrayBuf::scalars(items))
    }

    /// Add an array of strings.
    pub fn add_string_array<S: AsRef<[u8]>>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        self.add_array(key, ArrayBuf::strings(items))
    }

    /// Add a value read from a file (arrays are copied verbatim).
    pub fn add_value(&mut self, key: &str, value: Value<'_>) -> &mut Self {
        match value {
            Value::U8(v) => self.add_scalar(key, v),
            Value::I8(v) => self.add_scalar(key, v),
            Value::U16(v) => self.add_scalar(key, v),
            Value::I16(v) => self.add_scalar(key, v),
            Value::U32(v) => self.add_scalar(key, v),
            Value::I32(v) => self.add_scalar(key, v),
            Value::F32(v) => self.add_scalar(key, v),
            Value::Bool(v) => self.add_scalar(key, v),
            Value::String(v) => self.add_string(key, v),
            Value::Array(a) => self.add_array(key, ArrayBuf::from_view(&a)),
            Value::U64(v) => self.add_scalar(key, v),
            Value::I64(v) => self.add_scalar(key, v),
            Value::F64(v) => self.add_scalar(key, v),
        }
    }

    /// Add a tensor: its shape in GGUF order (row length first), its type and its encoded data
    /// (`ty.bytes_for(product of dims)` bytes).
    pub fn add_tensor(&mut self, name: &str, dims: &[u64], ty: QuantType, data: &'d [u8]) -> &mut Self {
        self.tensors.push(PendingTensor { name: name.to_string(), dims: dims.to_vec(), ty, data });
        self
    }

    /// The alignment the file will use: `general.alignment` if it was added as a power-of-two
    /// `u32`, else the default 32.
    pub fn alignment(&self) -> io::Result<u32> {
        let Some((_, enc)) = self.metadata.iter().find(|(k, _)| k == "general.alignment") else {
            return Ok(DEFAULT_ALIGNMENT);
        };
        match enc.as_slice() {
            [4, 0, 0, 0, a @ ..] => match <u32 as Scalar>::from_le(a) {
                Some(a) if a.is_power_of_two() => Ok(a),
                _ => Err(invalid(format!("general.alignment must be a nonzero power of two, got {a:?}"))),
            },
            _ => Err(invalid("general.alignment must be a u32".to_string())),
        }
    }

    /// Check everything that would make the file invalid.
    fn validate(&self) -> io::Result<u32> {
        let alignment = self.alignment()?;
        let mut keys = BTreeSet::new();
        for (key, _) in &self.metadata {
            if key.is_empty() {
                return Err(invalid("empty metadata key".to_string()));
            }
            if !keys.insert(key.as_str()) {
                return Err(invalid(format!("duplicate metadata key {key:?}")));
            }
        }
        if self.max_depth > MAX_ARRAY_DEPTH {
            return Err(invalid(format!(
                "arrays nested {} deep, at most {MAX_ARRAY_DEPTH} allowed",
                self.max_depth
            )));
        }
        let mut names = BTreeSet::new();
        for t in &self.tensors {
            let name = &t.name;
            if !names.insert(name.as_str()) {
                return Err(invalid(format!("duplicate tensor name {name:?}")));
            }
            if !(1..=4).contains(&t.dims.len()) || t.dims.contains(&0) {
                return Err(invalid(format!(
                    "tensor {name:?} has shape {:?}: need 1 to 4 nonzero dims",
                    t.dims
                )));
            }
            if t.dims[0] % t.ty.block_elems() as u64 != 0 {
                return Err(invalid(format!(
                    "tensor {name:?}: row length is not a whole number of {} blocks",
                    t.ty
                )));
            }
            let n = t.dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
            match n.and_then(|n| t.ty.bytes_for(n)) {
                Some(len) if len == t.data.len() as u64 => {}
                Some(len) => {
                    return Err(invalid(format!(
                        "tensor {name:?} has {} bytes, its shape needs {len}",
                        t.data.len()
                    )));
                }
                None => return Err(invalid(format!("tensor {name:?}: shape {:?} overflows", t.dims))),
            }
        }
        Ok(alignment)
    }

    /// Write the file to `out`; returns the number of bytes written.
    pub fn write_to<W: Write>(&self, out: W) -> io::Result<u64> {
        let alignment = u64::from(self.validate()?);
        let mut w = Counting { inner: out, written: 0 };
        w.write_all(b"GGUF")?;
        w.write_all(&3u32.to_le_bytes())?;
        w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        w.write_all(&(self.metadata.len() as u64).to_le_bytes())?;
        let mut buf = Vec::new();
        for (key, enc) in &self.metadata {
            buf.clear();
            write_string(&mut buf, key.as_bytes());
            w.write_all(&buf)?;
            w.write_all(enc)?;
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            buf.clear();
            write_string(&mut buf, t.name.as_bytes());
            buf.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            t.dims.iter().for_each(|d| buf.extend_from_slice(&d.to_le_bytes()));
            buf.extend_from_slice(&t.ty.id().to_le_bytes());
            buf.extend_from_slice(&offset.to_le_bytes());
            w.write_all(&buf)?;
            offset = (offset + t.data.len() as u64).next_multiple_of(alignment);
        }
        w.pad(alignment)?;
        for t in &self.tensors {
            w.write_all(t.data)?;
            w.pad(alignment)?;
        }
        w.flush()?;
        Ok(w.written)
    }

    /// The file as bytes.
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.write_to(&mut v)?;
        Ok(v)
    }
}

fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A writer that counts bytes, to pad to the alignment.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    fn pad(&mut self, alignment: u64) -> io::Result<()> {
        const ZEROS: [u8; 64] = [0; 64];
        let mut n = self.written.next_multiple_of(alignment) - self.written;
        while n > 0 {
            let k = n.min(ZEROS.len() as u64) as usize;
            self.write_all(&ZEROS[..k])?;
            n -= k as u64;
        }
        Ok(())
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
