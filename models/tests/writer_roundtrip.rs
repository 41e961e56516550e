//! The writer and the reader agree: write -> read gives back exactly what was written.

mod common;

use emberlm_models::{ArrayBuf, Gguf, GgufWriter, QuantType, Value, ValueType};

#[test]
fn sample_round_trips() {
    let data = common::sample_data();
    let bytes = common::sample_gguf();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_offset() % 64, 0);

    // metadata: every key, in order, with its type and value
    let keys: Vec<&str> = g.metadata().iter().map(|e| e.key).collect();
    assert_eq!(keys.len(), 22);
    assert_eq!(keys[..3], ["general.architecture", "general.alignment", "t.u8"]);
    assert_eq!(g.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(g.get("t.u8"), Some(Value::U8(0xfe)));
    assert_eq!(g.get("t.i8"), Some(Value::I8(-3)));
    assert_eq!(g.get("t.u16"), Some(Value::U16(0xbeef)));
    assert_eq!(g.get("t.i16"), Some(Value::I16(-1234)));
    assert_eq!(g.get_u32("llama.block_count").unwrap(), 2);
    assert_eq!(g.get("t.i32"), Some(Value::I32(-123_456)));
    assert_eq!(g.get_f32("llama.attention.layer_norm_rms_epsilon").unwrap(), 1e-5);
    assert!(g.get_bool("t.bool").unwrap());
    assert_eq!(g.get_str("t.string.utf8").unwrap(), "héllo\n\"x\"");
    assert_eq!(g.get("t.string.bytes").and_then(|v| v.as_bytes()), Some(&[0xff, 0, b'a'][..]));
    assert_eq!(g.get_u64("t.u64").unwrap(), u64::MAX - 1);
    assert_eq!(g.get("t.i64"), Some(Value::I64(i64::MIN)));
    assert_eq!(g.get("t.f64"), Some(Value::F64(-2.5e300)));

    let tokens = g.get_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.strings().unwrap().collect::<Vec<_>>(), [&b"<s>"[..], b"</s>", b"a", b"b", b"ab", b""]);
    let scores: Vec<f32> = g.get_array("tokenizer.ggml.scores").unwrap().iter_as().unwrap().collect();
    assert_eq!(
        scores.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        [0.0f32, -1.0, -2.5, 3.25, f32::MIN_POSITIVE, -0.0].map(f32::to_bits)
    );
    let types: Vec<i32> = g.get_array("tokenizer.ggml.token_type").unwrap().iter_as().unwrap().collect();
    assert_eq!(types, [3, 3, 1, 1, 1, 2]);
    let bools: Vec<bool> = g.get_array("t.bools").unwrap().iter_as().unwrap().collect();
    assert_eq!(bools, [true, false, true]);
    let u64s: Vec<u64> = g.get_array("t.u64s").unwrap().iter_as().unwrap().collect();
    assert_eq!(u64s, [1, u64::MAX]);
    let empty = g.get_array("t.empty").unwrap();
    assert_eq!((empty.elem_type(), empty.len(), empty.iter().count()), (ValueType::U16, 0, 0));

    let nested = g.get_array("t.nested").unwrap();
    assert_eq!((nested.elem_type(), nested.len()), (ValueType::Array, 3));
    let inner: Vec<_> = nested.iter().map(|v| v.as_array().unwrap()).collect();
    assert_eq!(inner[0].iter_as::<u8>().unwrap().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(inner[1].strings().unwrap().collect::<Vec<_>>(), [&b"x"[..], b"yz"]);
    let deepest = inner[2].get(0).unwrap().as_array().unwrap();
    assert_eq!(deepest.get(0), Some(Value::I64(-1)));
    assert_eq!(Value::Array(nested).to_string(), r#"[[1, 2, 3], ["x", "yz"], [[-1]]]"#);

    // tensors: name, shape, type and bytes as added, each aligned, in order
    let expect: [(&str, &[u64], QuantType, &[u8]); 5] = [
        ("token_embd.weight", &[32, 2], QuantType::Q8_0, &data[0..68]),
        ("blk.0.attn_norm.weight", &[8], QuantType::F32, &data[100..132]),
        ("blk.0.ffn_up.weight", &[256, 1, 2], QuantType::Q4K, &data[200..488]),
        ("blk.0.ffn_down.weight", &[64, 1, 1, 1], QuantType::F16, &data[500..628]),
        ("blk.0.attn_q.weight", &[32], QuantType::Q4_1, &data[700..720]),
    ];
    assert_eq!(g.tensors().len(), expect.len());
    let mut offset = 0;
    for (t, (name, dims, ty, bytes)) in g.tensors().iter().zip(expect) {
        assert_eq!((t.name(), t.dims(), t.ty(), t.bytes()), (name, dims, ty, bytes));
        assert_eq!(t.n_elements(), dims.iter().product::<u64>());
        assert_eq!(t.offset(), offset);
        assert_eq!(t.file_offset(), g.data_offset() + offset as usize);
        offset = (offset + bytes.len() as u64).next_multiple_of(64);
    }
    assert_eq!(bytes.len(), g.data_offset() + offset as usize, "the last tensor is padded too");

    // and writing what was read is a fixed point
    assert_eq!(GgufWriter::from_gguf(&g).to_bytes().unwrap(), bytes);
}

#[test]
fn version_2_reads_the_same() {
    let mut bytes = common::sample_gguf();
    bytes[4] = 2;
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.version(), 2);
    assert_eq!(g.metadata().len(), 22);
    assert_eq!(g.tensors().len(), 5);
}

#[test]
fn empty_and_minimal_files() {
    let bytes = GgufWriter::new().to_bytes().unwrap();
    assert_eq!(bytes.len(), 32, "24-byte header padded to the default alignment");
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!((g.metadata().len(), g.tensors().len(), g.alignment(), g.data_offset()), (0, 0, 32, 32));

    let data = [7u8; 3];
    let bytes = GgufWriter::new()
        .add_u32("general.alignment", 1)
        .add_tensor("a", &[1], QuantType::I8, &data[..1])
        .add_tensor("b", &[2], QuantType::I8, &data[1..])
        .to_bytes()
        .unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.tensor("b").unwrap().offset(), 1, "alignment 1 packs tensors back to back");
    assert_eq!(g.tensor("b").unwrap().bytes(), [7, 7]);
}

#[test]
fn writer_rejects_invalid_files() {
    let data = [0u8; 64];
    let fails = |w: &GgufWriter<'_>| {
        let err = w.to_bytes().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        err.to_string()
    };
    assert!(fails(GgufWriter::new().add_u32("k", 1).add_u8("k", 1)).contains("duplicate metadata key"));
    assert!(fails(GgufWriter::new().add_u32("", 1)).contains("empty"));
    assert!(fails(GgufWriter::new().add_u64("general.alignment", 32)).contains("must be a u32"));
    assert!(fails(GgufWriter::new().add_u32("general.alignment", 24)).contains("power of two"));
    assert!(fails(GgufWriter::new().add_u32("general.alignment", 0)).contains("power of two"));
    let t = |name, dims: &[u64], ty, n| {
        let mut w = GgufWriter::new();
        w.add_tensor(name, dims, ty, &data[..n]);
        w
    };
    assert!(fails(&t("x", &[], QuantType::F32, 0)).contains("1 to 4 nonzero dims"));
    assert!(fails(&t("x", &[1, 1, 1, 1, 1], QuantType::F32, 4)).contains("1 to 4 nonzero dims"));
    assert!(fails(&t("x", &[4, 0], QuantType::F32, 0)).contains("1 to 4 nonzero dims"));
    assert!(fails(&t("x", &[4], QuantType::F32, 12)).contains("has 12 bytes, its shape needs 16"));
    assert!(fails(&t("x", &[16], QuantType::Q8_0, 0)).contains("whole number"));
    assert!(fails(&t("x", &[u64::MAX, 2], QuantType::F32, 0)).contains("overflows"));
    let mut w = t("x", &[4], QuantType::F32, 16);
    w.add_tensor("x", &[4], QuantType::F32, &data[..16]);
    assert!(fails(&w).contains("duplicate tensor name"));
    let mut deep = ArrayBuf::scalars(&[1u8]);
    for _ in 0..8 {
        deep = ArrayBuf::arrays([deep]);
    }
    assert!(fails(GgufWriter::new().add_array("k", deep)).contains("nested 9 deep"));
}

#[test]
fn values_display_for_humans() {
    let bytes = common::sample_gguf();
    let g = Gguf::parse(&bytes).unwrap();
    let show = |k: &str| g.get(k).unwrap().to_string();
    assert_eq!(show("general.architecture"), "\"llama\"");
    assert_eq!(show("t.string.bytes"), r#"b"\xff\x00a""#);
    assert_eq!(show("t.i16"), "-1234");
    assert_eq!(show("t.bool"), "true");
    assert_eq!(show("tokenizer.ggml.tokens"), r#"["<s>", "</s>", "a", "b", "ab", ""]"#);
    let many: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let bytes = GgufWriter::new().add_string_array("k", &many).to_bytes().unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.get("k").unwrap().to_string(), r#"["0", "1", "2", … 100 × string]"#);
}

/// Found by the fuzzer (in the harness, which compared values with `==`): an f32 array holding a
/// NaN with a payload. Elements must come back bit for bit, by index and by iteration, and
/// survive a rewrite.
#[test]
fn fuzz_regression_nan_payload_in_f32_array() {
    let mut bytes = b"GGUF\x03\0\0\0".to_vec();
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&17u64.to_le_bytes());
    bytes.extend_from_slice(b"ge\0\0\0\0\0\0\0t.nested");
    bytes.extend_from_slice(&9u32.to_le_bytes());
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&0xffff_ff11u32.to_le_bytes());
    bytes.extend_from_slice(&[0xff; 40]);
    let g = Gguf::parse(&bytes).unwrap();
    let a = g.get_array("ge\0\0\0\0\0\0\0t.nested").unwrap();
    let bits = |v: Option<Value<'_>>| v.and_then(|v| v.as_f32()).map(f32::to_bits);
    assert_eq!(bits(a.get(0)), Some(0xffff_ff11));
    assert_eq!(bits(a.iter().last()), Some(0xffff_ff11));
    assert_eq!(a.iter_as::<f32>().unwrap().map(f32::to_bits).collect::<Vec<_>>(), [0xffff_ff11]);
    let rewritten = GgufWriter::from_gguf(&g).to_bytes().unwrap();
    let back = Gguf::parse(&rewritten).unwrap();
    assert_eq!(back.get_array("ge\0\0\0\0\0\0\0t.nested").unwrap().raw_bytes(), a.raw_bytes());
}
