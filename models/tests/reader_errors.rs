//! Every malformed-input case the reader names, each built by hand, and the lookup errors.

use emberlm_models::gguf::MAX_ARRAY_DEPTH;
use emberlm_models::{Gguf, GgufError, QuantType, ValueType};

/// Builds GGUF bytes field by field, valid or not.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn header(version: u32, n_tensors: u64, n_kv: u64) -> Self {
        let mut r = Raw(b"GGUF".to_vec());
        r.u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    fn string(&mut self, s: &[u8]) -> &mut Self {
        self.u64(s.len() as u64).bytes(s)
    }
    fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.string(key.as_bytes()).u32(ValueType::U32.id()).u32(v)
    }
    fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.string(name.as_bytes()).u32(dims.len() as u32);
        dims.iter().for_each(|&d| {
            self.u64(d);
        });
        self.u32(ty).u64(offset)
    }
    fn pad(&mut self, align: usize) -> &mut Self {
        while self.0.len() % align != 0 {
            self.0.push(0);
        }
        self
    }
    fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    fn parse(&self) -> Result<(), GgufError> {
        Gguf::parse(&self.0).map(drop)
    }
}

/// One f32 tensor "t" of `dims` at `offset`, preceded by the given metadata writer.
fn one_tensor(dims: &[u64], ty: u32, offset: u64) -> Raw {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", dims, ty, offset).pad(32).zeros(4096);
    r
}

#[test]
fn header_errors() {
    assert_eq!(Gguf::parse(b"").unwrap_err(), GgufError::UnexpectedEof { offset: 0, what: "magic" });
    assert_eq!(Gguf::parse(b"GGML\x03\0\0\0").unwrap_err(), GgufError::BadMagic { found: *b"GGML" });
    for version in [0, 1, 4, 0x0300_0000] {
        let r = Raw::header(version, 0, 0);
        assert_eq!(r.parse(), Err(GgufError::UnsupportedVersion { version }));
    }
    let r = Raw::header(3, 0, 0);
    for len in 0..r.0.len() {
        assert!(matches!(Gguf::parse(&r.0[..len]), Err(GgufError::UnexpectedEof { .. })), "len {len}");
    }
    assert!(r.parse().is_ok());
    assert!(Raw::header(2, 0, 0).parse().is_ok());
}

#[test]
fn absurd_counts_are_rejected_before_allocating() {
    let mut r = Raw::header(3, u64::MAX, 0);
    r.zeros(64);
    assert_eq!(
        r.parse(),
        Err(GgufError::CountTooLarge { offset: 8, what: "tensor count", count: u64::MAX, max: 2 })
    );
    let mut r = Raw::header(3, 0, 1 << 40);
    r.zeros(26);
    assert_eq!(
        r.parse(),
        Err(GgufError::CountTooLarge { offset: 16, what: "metadata count", count: 1 << 40, max: 2 })
    );
    // the tensor count is checked again against what is left after the metadata
    let mut r = Raw::header(3, 3, 1);
    r.kv_u32("a", 1).zeros(64);
    assert!(matches!(
        r.parse(),
        Err(GgufError::CountTooLarge { what: "tensor count", count: 3, max: 2, .. })
    ));
}

#[test]
fn metadata_errors() {
    let mut r = Raw::header(3, 0, 1);
    r.u64(u64::MAX).bytes(b"key").zeros(16);
    assert_eq!(r.parse(), Err(GgufError::LengthPastEnd { offset: 24, what: "metadata key", len: u64::MAX }));

    let mut r = Raw::header(3, 0, 1);
    r.string(&[b'k', 0xff]).u32(4).u32(1);
    assert_eq!(r.parse(), Err(GgufError::InvalidUtf8 { offset: 24, what: "metadata key" }));

    let mut r = Raw::header(3, 0, 1);
    r.string(b"").u32(4).u32(1);
    assert_eq!(r.parse(), Err(GgufError::EmptyKey { offset: 24 }));

    let mut r = Raw::header(3, 0, 2);
    r.kv_u32("a.b", 1).kv_u32("a.b", 2);
    assert_eq!(r.parse(), Err(GgufError::DuplicateKey { offset: 43, key: "a.b".into() }));

    let mut r = Raw::header(3, 0, 1);
    r.string(b"k").u32(13).u32(0);
    assert_eq!(r.parse(), Err(GgufError::UnknownValueType { offset: 33, id: 13 }));

    let mut r = Raw::header(3, 0, 1);
    r.string(b"k").u32(ValueType::Bool.id()).bytes(&[2]);
    assert_eq!(r.parse(), Err(GgufError::InvalidBool { offset: 37, byte: 2 }));

    // a string value longer than the file, and an array count longer than the file
    let mut r = Raw::header(3, 0, 1);
    r.string(b"k").u32(ValueType::String.id()).u64(100).bytes(b"short");
    assert_eq!(r.parse(), Err(GgufError::LengthPastEnd { offset: 37, what: "string", len: 100 }));
    let mut r = Raw::header(3, 0, 1);
    r.string(b"k").u32(ValueType::Array.id()).u32(ValueType::U32.id()).u64(1 << 61).zeros(64);
    assert_eq!(r.parse(), Err(GgufError::LengthPastEnd { offset: 41, what: "array", len: 1 << 61 }));
    // truncated scalar value
    let mut r = Raw::header(3, 0, 1);
    r.string(b"k").u32(ValueType::U64.id()).u32(0);
    assert!(matches!(r.parse(), Err(GgufError::UnexpectedEof { offset: 37, .. })));
}

#[test]
fn nested_arrays_are_bounded() {
    let build = |depth: usize| {
        let mut r = Raw::header(3, 0, 1);
        r.string(b"k").u32(ValueType::Array.id());
        for _ in 1..depth {
            r.u32(ValueType::Array.id()).u64(1);
        }
        r.u32(ValueType::U8.id()).u64(1).bytes(&[7]);
        r
    };
    assert!(build(MAX_ARRAY_DEPTH).parse().is_ok());
    assert!(matches!(build(MAX_ARRAY_DEPTH + 1).parse(), Err(GgufError::ArrayTooDeep { max_depth: 8, .. })));
    // a hostile file nests as deep as its bytes allow: still a clean error
    assert!(matches!(build(100_000).parse(), Err(GgufError::ArrayTooDeep { .. })));
}

#[test]
fn alignment_errors() {
    let with = |f: &dyn Fn(&mut Raw)| {
        let mut r = Raw::header(3, 0, 1);
        r.string(b"general.alignment");
        f(&mut r);
        r.parse()
    };
    assert_eq!(
        with(&|r| {
            r.u32(ValueType::U64.id()).u64(32);
        }),
        Err(GgufError::AlignmentWrongType { found: ValueType::U64 })
    );
    for alignment in [0, 3, 48, u32::MAX] {
        assert_eq!(
            with(&|r| {
                r.u32(ValueType::U32.id()).u32(alignment);
            }),
            Err(GgufError::AlignmentNotPowerOfTwo { alignment })
        );
    }
    assert_eq!(
        with(&|r| {
            r.u32(ValueType::U32.id()).u32(1);
        }),
        Ok(())
    );
}

#[test]
fn tensor_shape_errors() {
    let f32 = QuantType::F32.id();
    let t = || "t".to_string();
    assert_eq!(
        one_tensor(&[], f32, 0).parse(),
        Err(GgufError::BadDimCount { offset: 24, tensor: t(), n_dims: 0 })
    );
    assert_eq!(
        one_tensor(&[1, 1, 1, 1, 1], f32, 0).parse(),
        Err(GgufError::BadDimCount { offset: 24, tensor: t(), n_dims: 5 })
    );
    assert_eq!(
        one_tensor(&[4, 0], f32, 0).parse(),
        Err(GgufError::ZeroDim { offset: 24, tensor: t(), dim: 1 })
    );
    // element count overflows u64
    assert_eq!(
        one_tensor(&[1 << 32, 1 << 32], f32, 0).parse(),
        Err(GgufError::ShapeOverflow { offset: 24, tensor: t() })
    );
    // element count fits, byte size does not
    assert_eq!(
        one_tensor(&[1 << 62, 2], f32, 0).parse(),
        Err(GgufError::ShapeOverflow { offset: 24, tensor: t() })
    );
    // unsupported and unknown type ids are named, with the tensor
    for id in [4, 20, 39, u32::MAX] {
        assert_eq!(
            one_tensor(&[32], id, 0).parse(),
            Err(GgufError::UnknownTensorType { offset: 24, tensor: t(), id })
        );
    }
    assert_eq!(
        one_tensor(&[33, 32], QuantType::Q4_0.id(), 0).parse(),
        Err(GgufError::NotWholeBlocks { offset: 24, tensor: t(), ty: QuantType::Q4_0, row_len: 33 })
    );
    let mut r = Raw::header(3, 1, 0);
    r.string(&[0xc0]).u32(1).u64(1).u32(f32).u64(0).pad(32).zeros(4);
    assert_eq!(r.parse(), Err(GgufError::InvalidUtf8 { offset: 24, what: "tensor name" }));
}

#[test]
fn tensor_data_errors() {
    let f32 = QuantType::F32.id();
    let t = || "t".to_string();
    assert!(one_tensor(&[8], f32, 0).parse().is_ok());
    assert_eq!(
        one_tensor(&[8], f32, 16).parse(),
        Err(GgufError::MisalignedOffset { offset: 24, tensor: t(), data_offset: 16, alignment: 32 })
    );
    // data past the end, and offsets so large that the absolute position overflows
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[8], f32, 0).pad(32).zeros(31);
    assert_eq!(r.parse(), Err(GgufError::TensorPastEnd { tensor: t(), start: 64, len: 32, file_len: 95 }));
    for offset in [4096, u64::MAX - 31, 1 << 63] {
        assert!(
            matches!(one_tensor(&[8], f32, offset).parse(), Err(GgufError::TensorPastEnd { .. })),
            "offset {offset}"
        );
    }
    // the padding before the data section is part of the file
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[1], f32, 0);
    assert!(matches!(r.parse(), Err(GgufError::TensorPastEnd { .. })));

    let mut r = Raw::header(3, 2, 0);
    r.tensor("a", &[8], f32, 0).tensor("a", &[8], f32, 32).pad(32).zeros(64);
    assert_eq!(r.parse(), Err(GgufError::DuplicateTensor { offset: 57, tensor: "a".into() }));

    let mut r = Raw::header(3, 3, 0);
    r.tensor("a", &[8], f32, 0).tensor("b", &[16], f32, 64).tensor("c", &[16], f32, 32).pad(32).zeros(256);
    assert_eq!(r.parse(), Err(GgufError::OverlappingTensors { first: "c".into(), second: "b".into() }));
    // adjacent is fine, in any directory order
    let mut r = Raw::header(3, 3, 0);
    r.tensor("a", &[8], f32, 64).tensor("b", &[8], f32, 0).tensor("c", &[8], f32, 32).pad(32).zeros(96);
    let g = Gguf::parse(&r.0).unwrap();
    assert_eq!(g.tensors().iter().map(|t| t.offset()).collect::<Vec<_>>(), [64, 0, 32]);
    assert_eq!(g.tensor("c").unwrap().file_offset(), g.data_offset() + 32);
}

#[test]
fn lookup_errors() {
    let mut r = Raw::header(3, 1, 2);
    r.kv_u32("n", 7).string(b"s").u32(ValueType::String.id()).string(&[0xff]);
    r.tensor("w", &[4], QuantType::F32.id(), 0).pad(32);
    let data_at = r.0.len();
    r.bytes(&1.5f32.to_le_bytes()).zeros(12);
    let g = Gguf::parse(&r.0).unwrap();
    assert_eq!(g.get_u32("n"), Ok(7));
    assert_eq!(g.get_u64("n"), Ok(7));
    assert_eq!(g.get_u32("x"), Err(GgufError::MissingKey { key: "x".into() }));
    assert_eq!(g.opt_u32("x"), Ok(None));
    assert_eq!(
        g.get_f32("n"),
        Err(GgufError::WrongType { key: "n".into(), expected: ValueType::F32, found: ValueType::U32 })
    );
    assert_eq!(g.get_str("s"), Err(GgufError::InvalidUtf8 { offset: 41, what: "string value" }));
    assert_eq!(g.get("s").and_then(|v| v.as_bytes()), Some(&[0xff][..]));
    assert_eq!(g.tensor("nope"), Err(GgufError::MissingTensor { name: "nope".into() }));

    let w = g.tensor("w").unwrap();
    assert_eq!(w.file_offset(), data_at);
    assert_eq!(w.blocks::<emberlm_quant::formats::f32::F32>().unwrap(), &[1.5, 0.0, 0.0, 0.0]);
    assert_eq!(
        w.blocks::<emberlm_quant::formats::f16::F16>(),
        Err(GgufError::TensorTypeMismatch {
            tensor: "w".into(),
            expected: QuantType::F16,
            found: QuantType::F32
        })
    );
    // the same file one byte off an aligned address: the data cannot be viewed as f32
    let mut shifted = vec![0u8; r.0.len() + 1];
    let start = if shifted.as_ptr() as usize % 2 == 0 { 1 } else { 0 };
    shifted[start..start + r.0.len()].copy_from_slice(&r.0);
    let g = Gguf::parse(&shifted[start..start + r.0.len()]).unwrap();
    let err = g.tensor("w").unwrap().blocks::<emberlm_quant::formats::f32::F32>().unwrap_err();
    assert!(matches!(err, GgufError::BlockCast { .. }), "{err:?}");
}

#[test]
fn errors_display_their_offsets_and_names() {
    let err = one_tensor(&[33], QuantType::Q8_0.id(), 0).parse().unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor \"t\" at byte 24: row length 33 is not a multiple of the q8_0 block size 32"
    );
    let err = one_tensor(&[32], 39, 0).parse().unwrap_err();
    assert_eq!(err.to_string(), "tensor \"t\" at byte 24 has unknown or unsupported type id 39");
    let err = Gguf::parse(b"GGUF\x03\0\0").unwrap_err();
    assert_eq!(err.to_string(), "file truncated at byte 4 while reading version");
}
