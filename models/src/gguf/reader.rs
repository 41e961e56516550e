//! Parsing and validating a GGUF file: header, metadata, tensor directory, data section.
//!
//! Layout (v2 and v3 are identical for little-endian files):
//!
//! ```text
//! "GGUF" u32 version  u64 tensor_count  u64 kv_count
//! kv_count    × { string key, u32 type, value }
//! tensor_count × { string name, u32 n_dims, n_dims × u64 dim, u32 type, u64 offset }
//! padding to general.alignment, then the data section
//! ```

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec::Vec;

use emberlm_quant::QuantType;

use super::cursor::Cursor;
use super::error::{GgufError, Result};
use super::tensor::TensorView;
use super::value::{Value, read_typed_value};
use super::{DEFAULT_ALIGNMENT, Gguf, MetadataEntry};

/// Smallest encoded metadata entry: key length, empty key (rejected later, but counts), type id,
/// a one-byte value.
const MIN_KV_SIZE: usize = 8 + 4 + 1;
/// Smallest encoded tensor info: name length, empty name, n_dims, one dim, type, offset.
const MIN_TENSOR_INFO_SIZE: usize = 8 + 4 + 8 + 4 + 8;
/// Up-front capacity is capped: counts are bounded by the file size, but a bogus count in a large
/// file should not reserve memory before the entries are actually read.
const MAX_PREALLOC: usize = 1024;

pub(crate) fn parse(bytes: &[u8]) -> Result<Gguf<'_>> {
    let mut cur = Cursor::new(bytes, 0);

    let magic = cur.take(4, "magic")?;
    if magic != b"GGUF" {
        let mut found = [0; 4];
        found.copy_from_slice(magic);
        return Err(GgufError::BadMagic { found });
    }
    let version = cur.u32("version")?;
    if !matches!(version, 2 | 3) {
        return Err(GgufError::UnsupportedVersion { version });
    }
    let tensor_count = read_count(&mut cur, "tensor count", MIN_TENSOR_INFO_SIZE)?;
    let kv_count = read_count(&mut cur, "metadata count", MIN_KV_SIZE)?;

    let (metadata, meta_index) = read_metadata(&mut cur, kv_count)?;
    let alignment = match meta_index.get("general.alignment").and_then(|&i| metadata.get(i)) {
        None => DEFAULT_ALIGNMENT,
        Some(MetadataEntry { value: Value::U32(a), .. }) if a.is_power_of_two() => *a,
        Some(MetadataEntry { value: Value::U32(a), .. }) => {
            return Err(GgufError::AlignmentNotPowerOfTwo { alignment: *a });
        }
        Some(e) => return Err(GgufError::AlignmentWrongType { found: e.value.value_type() }),
    };

    // The tensor count was checked against the bytes after the header; check it again against
    // what is left after the metadata, before allocating.
    let max = (cur.remaining() / MIN_TENSOR_INFO_SIZE) as u64;
    if tensor_count > max {
        return Err(GgufError::CountTooLarge { offset: 8, what: "tensor count", count: tensor_count, max });
    }
    let (mut tensors, lens, tensor_index) = read_tensor_infos(&mut cur, tensor_count as usize, alignment)?;

    let align = alignment as usize;
    let dir_end = cur.offset();
    let data_offset = dir_end
        .checked_next_multiple_of(align)
        .ok_or(GgufError::UnexpectedEof { offset: dir_end, what: "data section" })?;
    attach_data(bytes, &mut tensors, &lens, data_offset)?;

    Ok(Gguf { bytes, version, alignment, data_offset, metadata, meta_index, tensors, tensor_index })
}

/// A `u64` count of items that each occupy at least `min_size` bytes of the rest of the file.
fn read_count(cur: &mut Cursor<'_>, what: &'static str, min_size: usize) -> Result<u64> {
    let offset = cur.offset();
    let count = cur.u64(what)?;
    let max = (cur.remaining() / min_size) as u64;
    if count > max {
        return Err(GgufError::CountTooLarge { offset, what, count, max });
    }
    Ok(count)
}

type Index<'a> = BTreeMap<&'a str, usize>;

fn read_metadata<'a>(cur: &mut Cursor<'a>, count: u64) -> Result<(Vec<MetadataEntry<'a>>, Index<'a>)> {
    let mut entries = Vec::with_capacity((count as usize).min(MAX_PREALLOC));
    let mut index = BTreeMap::new();
    for i in 0..count as usize {
        let offset = cur.offset();
        let key = cur.str("metadata key")?;
        if key.is_empty() {
            return Err(GgufError::EmptyKey { offset });
        }
        if index.insert(key, i).is_some() {
            return Err(GgufError::DuplicateKey { offset, key: key.to_string() });
        }
        let value = read_typed_value(cur)?;
        entries.push(MetadataEntry { key, value, offset });
    }
    Ok((entries, index))
}

/// The tensor directory, with each tensor's data still unresolved, and the byte length of each.
fn read_tensor_infos<'a>(
    cur: &mut Cursor<'a>,
    count: usize,
    alignment: u32,
) -> Result<(Vec<TensorView<'a>>, Vec<u64>, Index<'a>)> {
    let mut tensors = Vec::with_capacity(count.min(MAX_PREALLOC));
    let mut lens = Vec::with_capacity(count.min(MAX_PREALLOC));
    let mut index = BTreeMap::new();
    for i in 0..count {
        let offset = cur.offset();
        let name = cur.str("tensor name")?;
        if index.insert(name, i).is_some() {
            return Err(GgufError::DuplicateTensor { offset, tensor: name.to_string() });
        }
        let tensor = || name.to_string();

        let n_dims = cur.u32("tensor dimension count")?;
        if !(1..=4).contains(&n_dims) {
            return Err(GgufError::BadDimCount { offset, tensor: tensor(), n_dims });
        }
        let mut dims = [1u64; 4];
        let mut n_elements = 1u64;
        for (d, dim) in dims.iter_mut().enumerate().take(n_dims as usize) {
            *dim = cur.u64("tensor dimension")?;
            if *dim == 0 {
                return Err(GgufError::ZeroDim { offset, tensor: tensor(), dim: d });
            }
            n_elements = n_elements
                .checked_mul(*dim)
                .ok_or_else(|| GgufError::ShapeOverflow { offset, tensor: tensor() })?;
        }

        let id = cur.u32("tensor type")?;
        let ty = QuantType::from_id(id).ok_or_else(|| GgufError::UnknownTensorType {
            offset,
            tensor: tensor(),
            id,
        })?;
        if dims[0] % ty.block_elems() as u64 != 0 {
            return Err(GgufError::NotWholeBlocks { offset, tensor: tensor(), ty, row_len: dims[0] });
        }
        // Whole blocks per row implies whole blocks overall, so `None` here means overflow.
        let n_bytes =
            ty.bytes_for(n_elements).ok_or_else(|| GgufError::ShapeOverflow { offset, tensor: tensor() })?;
        let data_offset = cur.u64("tensor data offset")?;
        if data_offset % u64::from(alignment) != 0 {
            return Err(GgufError::MisalignedOffset { offset, tensor: tensor(), data_offset, alignment });
        }

        tensors.push(TensorView {
            name,
            dims,
            n_dims: n_dims as u8,
            ty,
            n_elements,
            offset: data_offset,
            file_offset: 0,
            bytes: &[],
        });
        lens.push(n_bytes);
    }
    Ok((tensors, lens, index))
}

/// Resolve each tensor's data within the file, checking bounds and overlaps.
fn attach_data<'a>(
    bytes: &'a [u8],
    tensors: &mut [TensorView<'a>],
    lens: &[u64],
    data_offset: usize,
) -> Result<()> {
    for (t, &len) in tensors.iter_mut().zip(lens) {
        let past_end = || GgufError::TensorPastEnd {
            tensor: t.name.to_string(),
            start: (data_offset as u64).saturating_add(t.offset),
            len,
            file_len: bytes.len(),
        };
        let start =
            usize::try_from(t.offset).ok().and_then(|o| o.checked_add(data_offset)).ok_or_else(past_end)?;
        let end = usize::try_from(len).ok().and_then(|l| start.checked_add(l)).ok_or_else(past_end)?;
        t.bytes = bytes.get(start..end).ok_or_else(past_end)?;
        t.file_offset = start;
    }
    // Tensors are non-empty, so sorted by start, each must end before the next begins.
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_unstable_by_key(|&i| tensors[i].file_offset);
    for pair in order.windows(2) {
        let (a, b) = (&tensors[pair[0]], &tensors[pair[1]]);
        if a.file_offset + a.bytes.len() > b.file_offset {
            return Err(GgufError::OverlappingTensors {
                first: a.name.to_string(),
                second: b.name.to_string(),
            });
        }
    }
    Ok(())
}
