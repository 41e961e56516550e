//! Mutated GGUF headers: the reader returns `Ok` or `Err`, never panics, and allocates at most a
//! small multiple of the input size (measured by a counting global allocator).
//!
//! Bases: the writer's sample (every value type, nested arrays, several tensor types) in v3 and
//! v2, and the first 64 KiB of each real model when present. Mutations: bit flips, truncations
//! (every length of the sample, deterministically), inserted and deleted bytes, and length/count
//! fields overwritten with huge or off-by-one values.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::OnceLock;

use emberlm_models::{Gguf, MappedFile, Value};
use proptest::prelude::*;
use proptest::sample::Index;

// ---- allocation accounting, per thread (tests run in parallel) ----

struct CountingAlloc;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn track(add: usize, sub: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(add).saturating_sub(sub);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees are this allocator's; the bookkeeping touches only const-initialized thread-locals
// (which never allocate) and cannot fail.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size(), 0);
        // SAFETY: forwarded with the caller's layout, which meets `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(0, layout.size());
        // SAFETY: `ptr` was allocated by `System` (via this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size, layout.size());
        // SAFETY: `ptr`/`layout` come from this allocator, `new_size` from the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Parse `bytes`, walk everything a successful parse hands out, and check the peak memory
/// allocated by the parse against the bound.
fn parse_bounded(bytes: &[u8]) -> bool {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let result = Gguf::parse(bytes);
    let peak = PEAK.with(Cell::get) - before;
    let bound = 32 * bytes.len() + 64 * 1024;
    assert!(peak <= bound, "parsing {} bytes allocated {peak} bytes (bound {bound})", bytes.len());
    match result {
        Ok(g) => {
            walk(&g);
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

fn walk(g: &Gguf<'_>) {
    fn value(v: Value<'_>) {
        if let Value::Array(a) = v {
            assert_eq!(a.iter().map(value).count(), a.len());
        }
        let _ = v.to_string();
    }
    for e in g.metadata() {
        value(e.value);
    }
    for t in g.tensors() {
        assert_eq!(t.ty().bytes_for(t.n_elements()), Some(t.bytes().len() as u64));
        assert!(t.file_offset() + t.bytes().len() <= g.file_bytes().len());
    }
}

// ---- bases and their length fields ----

struct Base {
    bytes: Vec<u8>,
    /// Offsets of the count, length, type and offset fields in `bytes`.
    fields: Vec<usize>,
}

/// The offsets of every length, count, type and offset field of a parsed file.
fn fields_of(g: &Gguf<'_>) -> Vec<usize> {
    let mut fields = vec![4, 8, 16];
    let mut end = 24;
    for e in g.metadata() {
        let ty = e.offset + 8 + e.key.len();
        fields.extend([e.offset, ty]);
        end = ty + 4;
        match e.value {
            Value::String(s) => {
                fields.push(end);
                end += 8 + s.len();
            }
            Value::Array(a) => {
                fields.extend([end, end + 4]);
                end += 12 + a.raw_bytes().len();
            }
            v => end += v.value_type().fixed_size().unwrap(),
        }
    }
    for t in g.tensors() {
        let n_dims = end + 8 + t.name().len();
        fields.extend([end, n_dims]);
        fields.extend((0..t.dims().len()).map(|d| n_dims + 4 + 8 * d));
        let ty = n_dims + 4 + 8 * t.dims().len();
        fields.extend([ty, ty + 4]);
        end = ty + 12;
    }
    fields
}

fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        let sample = common::sample_gguf();
        let fields = fields_of(&Gguf::parse(&sample).unwrap());
        let mut v2 = sample.clone();
        v2[4] = 2;
        let mut bases = vec![Base { bytes: sample, fields: fields.clone() }, Base { bytes: v2, fields }];
        for file in [common::SMOLLM2, common::GEMMA3] {
            if let Some(path) = common::model_path(file) {
                let map = MappedFile::open(path).unwrap();
                let head = &map.bytes()[..64 * 1024];
                let fields =
                    fields_of(&map.gguf().unwrap()).into_iter().filter(|&f| f + 8 <= head.len()).collect();
                bases.push(Base { bytes: head.to_vec(), fields });
            }
        }
        bases
    })
}

// ---- mutations ----

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// Overwrite a known length/count/type/offset field with `value` (4 or 8 bytes of it).
    Field(Index, u64, bool),
}

fn huge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(i64::MAX as u64),
        Just(1 << 63),
        Just(1 << 32),
        Just(u32::MAX as u64),
        Just(1 << 40),
        Just(0),
        Just(1),
        0u64..300,
        any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), huge(), any::<bool>()).prop_map(|(i, v, w)| Mutation::Field(i, v, w)),
    ]
}

fn apply(bytes: &mut Vec<u8>, fields: &[usize], m: &Mutation) {
    let len = bytes.len();
    if len == 0 {
        return;
    }
    match m {
        Mutation::FlipBit(i, b) => bytes[i.index(len)] ^= 1 << b,
        Mutation::SetByte(i, b) => bytes[i.index(len)] = *b,
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        Mutation::Insert(i, b) => {
            let at = i.index(bytes.len() + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i.index(bytes.len());
            bytes.drain(at..(at + n).min(bytes.len()));
        }
        Mutation::Field(i, v, wide) => overwrite(bytes, fields[i.index(fields.len())], *v, *wide),
    }
}

/// Overwrite the field at `at` with the low 4 (or all 8) bytes of `v`.
fn overwrite(bytes: &mut [u8], at: usize, v: u64, wide: bool) {
    let enc = v.to_le_bytes();
    let enc = if wide { &enc[..] } else { &enc[..4] };
    if at + enc.len() <= bytes.len() {
        bytes[at..at + enc.len()].copy_from_slice(enc);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_headers_never_panic(base in any::<Index>(), muts in proptest::collection::vec(mutation(), 1..4)) {
        let bases = bases();
        let base = &bases[base.index(bases.len())];
        let mut bytes = base.bytes.clone();
        for m in &muts {
            apply(&mut bytes, &base.fields, m);
        }
        parse_bounded(&bytes);
    }
}

#[test]
fn every_truncation_of_the_sample() {
    for base in &bases()[..2] {
        let bytes = &base.bytes;
        let g = Gguf::parse(bytes).unwrap();
        let data_end = g.tensors().iter().map(|t| t.file_offset() + t.bytes().len()).max().unwrap();
        for len in 0..=bytes.len() {
            assert_eq!(parse_bounded(&bytes[..len]), len >= data_end, "truncated to {len} bytes");
        }
    }
}

#[test]
fn truncated_real_headers_are_errors() {
    for base in &bases()[2..] {
        for len in (0..base.bytes.len()).step_by(61) {
            assert!(!parse_bounded(&base.bytes[..len]));
        }
    }
}

#[test]
fn every_field_overwritten_with_huge_values() {
    for base in bases() {
        for &f in &base.fields {
            for v in [u64::MAX, 1 << 63, 1 << 40, u32::MAX as u64, base.bytes.len() as u64 + 1] {
                for wide in [false, true] {
                    let mut bytes = base.bytes.clone();
                    overwrite(&mut bytes, f, v, wide);
                    parse_bounded(&bytes);
                }
            }
        }
    }
}

#[test]
fn densest_files_stay_within_the_bound() {
    // the most entries per byte: one-letter keys with u8 values, one-byte tensors packed with
    // alignment 1
    let keys: Vec<String> = (0..3000).map(|i| format!("{}", char::from_u32(0x4e00 + i).unwrap())).collect();
    let names: Vec<String> = (0..3000).map(|i| format!("{i:x}")).collect();
    let data = vec![0u8; names.len()];
    let mut w = emberlm_models::GgufWriter::new();
    w.add_u32("general.alignment", 1);
    keys.iter().for_each(|k| {
        w.add_u8(k, 1);
    });
    names.iter().enumerate().for_each(|(i, n)| {
        w.add_tensor(n, &[1], emberlm_models::QuantType::I8, &data[i..i + 1]);
    });
    let bytes = w.to_bytes().unwrap();
    assert!(parse_bounded(&bytes));
}

/// Found by the fuzzer (in the harness, whose writer round trip padded to the file's alignment):
/// `general.alignment` may be any power of two up to 2^31; the reader pads nothing and
/// allocates nothing for it.
#[test]
fn fuzz_regression_huge_alignment() {
    let data = [0u8; 4];
    for tensors in [false, true] {
        let mut w = emberlm_models::GgufWriter::new();
        w.add_u32("general.alignment", 1 << 10);
        if tensors {
            w.add_tensor("t", &[1], emberlm_models::QuantType::F32, &data);
        }
        let mut bytes = w.to_bytes().unwrap();
        let field = fields_of(&Gguf::parse(&bytes).unwrap())[4] + 4;
        overwrite(&mut bytes, field, 1 << 30, false);
        // without tensors the file is valid (its empty data section starts at 1 GiB), with one
        // the tensor lies past the end
        assert_eq!(parse_bounded(&bytes), !tensors);
        match Gguf::parse(&bytes) {
            Ok(g) => assert_eq!((g.alignment(), g.data_offset()), (1 << 30, 1 << 30)),
            Err(e) => assert!(
                matches!(e, emberlm_models::GgufError::TensorPastEnd { start: 0x4000_0000, .. }),
                "{e}"
            ),
        }
    }
}
