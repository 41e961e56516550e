//! Metadata arrays: a borrowed view over the encoded elements, validated once at parse time and
//! decoded lazily when iterated.

use core::marker::PhantomData;

use super::cursor::Cursor;
use super::error::{GgufError, Result};
use super::value::{Scalar, Value, ValueType, read_value};

/// How deeply arrays may nest (an array of scalars has depth 1). Deeper nesting is rejected with
/// [`GgufError::ArrayTooDeep`]; it bounds the recursion of the parser.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// An array of metadata values, borrowed from the file: its element type, its length and the
/// bytes of its encoded elements. Validated when the file was parsed; decoded when iterated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayView<'a> {
    elem: ValueType,
    len: usize,
    bytes: &'a [u8],
    /// File offset of `bytes`.
    offset: usize,
    /// Nesting depth of this array (1 for a top-level array).
    depth: usize,
}

impl<'a> ArrayView<'a> {
    /// The type of the elements. For an array of arrays, each inner array has its own element
    /// type.
    pub fn elem_type(&self) -> ValueType {
        self.elem
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoded elements, exactly as stored in the file (after the type and count).
    pub fn raw_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// File offset of the first element.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The elements, decoded one at a time.
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            cur: Cursor::new(self.bytes, self.offset),
            elem: self.elem,
            left: self.len,
            depth: self.depth,
        }
    }

    /// Element `index`: constant time for scalar elements, a scan for strings and arrays.
    pub fn get(&self, index: usize) -> Option<Value<'a>> {
        match self.elem.fixed_size() {
            Some(size) if index < self.len => {
                let start = index.checked_mul(size)?;
                let mut cur = Cursor::new(self.bytes.get(start..)?, self.offset.saturating_add(start));
                read_value(&mut cur, self.elem, self.depth).ok()
            }
            Some(_) => None,
            None => self.iter().nth(index),
        }
    }

    /// The elements as `T`, if the elements are of type `T` (`u32`, `f32`, `bool`, ...).
    pub fn iter_as<T: Scalar>(&self) -> Option<ScalarIter<'a, T>> {
        (self.elem == T::TYPE)
            .then(|| ScalarIter { chunks: self.bytes.chunks_exact(T::SIZE), _t: PhantomData })
    }

    /// The bytes of each string, if this is an array of strings.
    pub fn strings(&self) -> Option<StringIter<'a>> {
        (self.elem == ValueType::String)
            .then(|| StringIter { cur: Cursor::new(self.bytes, self.offset), left: self.len })
    }
}

impl<'a> IntoIterator for ArrayView<'a> {
    type Item = Value<'a>;
    type IntoIter = ArrayIter<'a>;
    fn into_iter(self) -> ArrayIter<'a> {
        self.iter()
    }
}

/// Iterator over the elements of an [`ArrayView`].
#[derive(Clone, Debug)]
pub struct ArrayIter<'a> {
    cur: Cursor<'a>,
    elem: ValueType,
    left: usize,
    depth: usize,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Value<'a>;
    fn next(&mut self) -> Option<Value<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The array was validated when the file was parsed, so this cannot fail; if it somehow
        // did, end the iteration rather than panic.
        let v = read_value(&mut self.cur, self.elem, self.depth).ok();
        if v.is_none() {
            self.left = 0;
        }
        v
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Iterator over the bytes of the strings of an array of strings ([`ArrayView::strings`]).
#[derive(Clone, Debug)]
pub struct StringIter<'a> {
    cur: Cursor<'a>,
    left: usize,
}

impl<'a> Iterator for StringIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let s = self.cur.string("string").ok();
        if s.is_none() {
            self.left = 0;
        }
        s
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Iterator over the elements of an array of scalars as `T` ([`ArrayView::iter_as`]).
#[derive(Clone, Debug)]
pub struct ScalarIter<'a, T> {
    chunks: core::slice::ChunksExact<'a, u8>,
    _t: PhantomData<T>,
}

impl<T: Scalar> Iterator for ScalarIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.chunks.next().and_then(T::from_le)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl<T: Scalar> ExactSizeIterator for ScalarIter<'_, T> {}

/// Read and validate an array (element type, count, elements) at nesting depth `depth`.
pub(crate) fn read_array<'a>(cur: &mut Cursor<'a>, depth: usize) -> Result<ArrayView<'a>> {
    let offset = cur.offset();
    if depth > MAX_ARRAY_DEPTH {
        return Err(GgufError::ArrayTooDeep { offset, max_depth: MAX_ARRAY_DEPTH });
    }
    let id = cur.u32("array element type")?;
    let elem = ValueType::from_id(id).ok_or(GgufError::UnknownValueType { offset, id })?;
    let count_offset = cur.offset();
    let count = cur.u64("array length")?;
    // Every element takes at least `min_size` bytes: bound the count before looping over it.
    if count > (cur.remaining() / elem.min_size()) as u64 {
        return Err(GgufError::LengthPastEnd { offset: count_offset, what: "array", len: count });
    }
    let len = count as usize;
    let (start, elems_offset) = (cur.pos(), cur.offset());
    match elem.fixed_size() {
        Some(size) => {
            let bytes = cur.take(len * size, "array elements")?;
            let bad_bool = if elem == ValueType::Bool { bytes.iter().position(|&b| b > 1) } else { None };
            if let Some(i) = bad_bool {
                return Err(GgufError::InvalidBool { offset: elems_offset + i, byte: bytes[i] });
            }
        }
        None => {
            for _ in 0..len {
                read_value(cur, elem, depth)?;
            }
        }
    }
    Ok(ArrayView { elem, len, bytes: cur.span(start, cur.pos()), offset: elems_offset, depth })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    fn array(elem: ValueType, count: u64, body: &[u8]) -> Vec<u8> {
        let mut v = elem.id().to_le_bytes().to_vec();
        v.extend_from_slice(&count.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }

    #[test]
    fn value_type_ids_round_trip() {
        for id in 0..13 {
            assert_eq!(ValueType::from_id(id).map(ValueType::id), Some(id));
        }
        assert_eq!(ValueType::from_id(13), None);
    }

    #[test]
    fn string_arrays_iterate_lazily() {
        let mut body = string(b"ab");
        body.extend(string(b""));
        body.extend(string(&[0xff]));
        let buf = array(ValueType::String, 3, &body);
        let a = read_array(&mut Cursor::new(&buf, 0), 1).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.strings().unwrap().collect::<Vec<_>>(), vec![&b"ab"[..], b"", &[0xff]]);
        assert_eq!(a.get(0).and_then(|v| v.as_str()), Some("ab"));
        assert_eq!(a.get(2).and_then(|v| v.as_str()), None, "invalid UTF-8 has no &str");
        assert_eq!(a.get(3), None);
        assert!(a.iter_as::<u32>().is_none());
        assert_eq!(Value::Array(a).to_string(), r#"["ab", "", b"\xff"]"#);
    }

    #[test]
    fn scalar_arrays_decode_by_type() {
        let buf = array(ValueType::I32, 2, &[1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
        let a = read_array(&mut Cursor::new(&buf, 0), 1).unwrap();
        assert_eq!(a.iter_as::<i32>().unwrap().collect::<Vec<_>>(), vec![1, -2]);
        assert_eq!(a.get(1), Some(Value::I32(-2)));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![Value::I32(1), Value::I32(-2)]);
    }

    #[test]
    fn nested_arrays_and_depth_limit() {
        let inner = array(ValueType::U8, 2, &[7, 8]);
        let mut body = inner.clone();
        body.extend(array(ValueType::Bool, 1, &[1]));
        let buf = array(ValueType::Array, 2, &body);
        let a = read_array(&mut Cursor::new(&buf, 0), 1).unwrap();
        let inners: Vec<_> = a.iter().map(|v| v.as_array().unwrap()).collect();
        assert_eq!(inners[0].iter().collect::<Vec<_>>(), vec![Value::U8(7), Value::U8(8)]);
        assert_eq!(inners[1].get(0), Some(Value::Bool(true)));

        let mut deep = array(ValueType::U8, 0, &[]);
        for _ in 0..MAX_ARRAY_DEPTH - 1 {
            deep = array(ValueType::Array, 1, &deep);
        }
        assert!(read_array(&mut Cursor::new(&deep, 0), 1).is_ok());
        let too_deep = array(ValueType::Array, 1, &deep);
        assert!(matches!(read_array(&mut Cursor::new(&too_deep, 0), 1), Err(GgufError::ArrayTooDeep { .. })));
    }

    #[test]
    fn malformed_arrays_are_errors() {
        // a count that cannot fit in the bytes present is rejected before anything is read
        let buf = array(ValueType::String, u64::MAX / 2, &[0; 16]);
        assert_eq!(
            read_array(&mut Cursor::new(&buf, 0), 1),
            Err(GgufError::LengthPastEnd { offset: 4, what: "array", len: u64::MAX / 2 })
        );
        let buf = array(ValueType::U64, 3, &[0; 16]);
        assert!(matches!(read_array(&mut Cursor::new(&buf, 0), 1), Err(GgufError::LengthPastEnd { .. })));
        let buf = array(ValueType::Bool, 2, &[1, 2]);
        assert_eq!(
            read_array(&mut Cursor::new(&buf, 0), 1),
            Err(GgufError::InvalidBool { offset: 13, byte: 2 })
        );
        let buf = array(ValueType::from_id(5).unwrap(), 0, &[]);
        assert!(read_array(&mut Cursor::new(&buf, 0), 1).is_ok());
        let mut buf = 13u32.to_le_bytes().to_vec();
        buf.extend_from_slice(&0u64.to_le_bytes());
        assert_eq!(
            read_array(&mut Cursor::new(&buf, 0), 1),
            Err(GgufError::UnknownValueType { offset: 0, id: 13 })
        );
    }
}
