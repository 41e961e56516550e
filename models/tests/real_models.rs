//! The real models, read by emberlm and by the reference reader (gguf-py): identical listings;
//! and write(read(file)) reproduces the file.
//!
//! Models come from `$EMBERLM_MODELS` (default `~/.cache/emberlm/models`); absent models are
//! skipped unless `EMBERLM_REQUIRE_MODELS=1`.

mod common;

use std::fmt::Write as _;

use emberlm_models::{Gguf, GgufWriter, MappedFile, QuantType, Value, ValueType};
use emberlm_quant::formats::{f32::F32, q4_1::Q4_1, q8_0::Q8_0};
use sha2::{Digest, Sha256};

/// The listing format of `tests/reference/dump_gguf.py` (see its docstring), from our reader.
fn listing(g: &Gguf<'_>) -> String {
    let mut out = String::new();
    writeln!(out, "version {}", g.version()).unwrap();
    writeln!(out, "alignment {}", g.alignment()).unwrap();
    writeln!(out, "data_offset {}", g.data_offset()).unwrap();
    writeln!(out, "metadata {}", g.metadata().len()).unwrap();
    writeln!(out, "tensors {}", g.tensors().len()).unwrap();
    for e in g.metadata() {
        let value = match e.value {
            Value::Array(a) => {
                let items: Vec<String> = a.iter().map(|v| fmt_scalar(&v)).collect();
                let v = if items.len() <= 16 {
                    format!("[{}]", items.join(", "))
                } else {
                    let h = Sha256::digest(items.join("\n").as_bytes());
                    format!("len={} sha256={}", items.len(), hex(&h))
                };
                format!("array[{}] {v}", a.elem_type())
            }
            v => format!("{} {}", v.value_type(), fmt_scalar(&v)),
        };
        writeln!(out, "kv {} {value}", e.key).unwrap();
    }
    for t in g.tensors() {
        let shape: Vec<String> = t.dims().iter().map(u64::to_string).collect();
        writeln!(
            out,
            "tensor {} shape=[{}] type={} offset={} n_elements={} n_bytes={}",
            t.name(),
            shape.join(", "),
            t.ty().name().to_ascii_uppercase(),
            t.file_offset(),
            t.n_elements(),
            t.bytes().len()
        )
        .unwrap();
    }
    out
}

fn fmt_scalar(v: &Value<'_>) -> String {
    match *v {
        Value::String(b) => {
            let mut s = String::from("\"");
            for &c in b {
                match c {
                    b'\\' => s.push_str("\\\\"),
                    b'"' => s.push_str("\\\""),
                    0x20..=0x7e => s.push(c as char),
                    _ => write!(s, "\\x{c:02x}").unwrap(),
                }
            }
            s.push('"');
            s
        }
        Value::F32(x) => format!("0x{:08x}", x.to_bits()),
        Value::F64(x) => format!("0x{:016x}", x.to_bits()),
        Value::Array(_) => panic!("nested arrays are not part of the listing format"),
        v => v.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_listing(model: &str, reference: &str) {
    let Some(path) = common::model_path(model) else { return };
    let file = MappedFile::open(&path).unwrap();
    let g = file.gguf().unwrap();
    let expected: String =
        reference.lines().filter(|l| !l.starts_with('#')).flat_map(|l| [l, "\n"]).collect();
    let ours = listing(&g);
    if ours != expected {
        for (i, (a, b)) in ours.lines().zip(expected.lines()).enumerate() {
            assert_eq!(a, b, "first difference at listing line {}", i + 1);
        }
        assert_eq!(ours.lines().count(), expected.lines().count(), "listing lengths differ");
    }
}

#[test]
fn smollm2_listing_matches_gguf_py() {
    check_listing(common::SMOLLM2, include_str!("reference/smollm2.listing.txt"));
}

#[test]
fn gemma3_listing_matches_gguf_py() {
    check_listing(common::GEMMA3, include_str!("reference/gemma3.listing.txt"));
}

/// Writing what was read reproduces the whole file byte for byte: the writer mirrors the format
/// (header, metadata encoding, directory, offsets, padding).
fn check_rewrite(model: &str) {
    let Some(path) = common::model_path(model) else { return };
    let file = MappedFile::open(&path).unwrap();
    let g = file.gguf().unwrap();
    let out = GgufWriter::from_gguf(&g).to_bytes().unwrap();
    let header = g.data_offset();
    assert_eq!(out[..header], file.bytes()[..header], "header and tensor directory differ");
    assert_eq!(out.len(), file.bytes().len());
    assert!(out == file.bytes(), "tensor data differs");
}

#[test]
fn smollm2_rewrite_is_byte_identical() {
    check_rewrite(common::SMOLLM2);
}

#[test]
fn gemma3_rewrite_is_byte_identical() {
    check_rewrite(common::GEMMA3);
}

#[test]
fn smollm2_accessors_and_block_views() {
    let Some(path) = common::model_path(common::SMOLLM2) else { return };
    let file = MappedFile::open(&path).unwrap();
    let g = file.gguf().unwrap();
    assert_eq!(g.architecture().unwrap(), "llama");
    assert_eq!(g.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(g.get_u64("llama.context_length").unwrap(), 8192, "u32 accepted as u64");
    assert_eq!(g.get_f32("llama.attention.layer_norm_rms_epsilon").unwrap(), 1e-5);
    assert!(!g.get_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert!(g.get_str("tokenizer.chat_template").unwrap().contains("<|im_start|>"));
    let tokens = g.get_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.elem_type(), ValueType::String);
    assert_eq!(tokens.len(), 49152);
    assert_eq!(tokens.strings().unwrap().count(), 49152);
    assert_eq!(tokens.get(1).and_then(|v| v.as_str()), Some("<|im_start|>"));
    let types: Vec<i32> =
        g.get_array("tokenizer.ggml.token_type").unwrap().iter_as::<i32>().unwrap().collect();
    assert_eq!(types.len(), 49152);
    assert!(matches!(
        g.get_u32("general.architecture"),
        Err(emberlm_models::GgufError::WrongType { expected: ValueType::U32, found: ValueType::String, .. })
    ));
    assert!(matches!(g.get_u32("llama.nope"), Err(emberlm_models::GgufError::MissingKey { .. })));

    let embd = g.tensor("token_embd.weight").unwrap();
    assert_eq!((embd.ty(), embd.dims()), (QuantType::Q8_0, &[576u64, 49152][..]));
    assert_eq!(embd.blocks::<Q8_0>().unwrap().len(), 576 * 49152 / 32);
    assert!(embd.blocks::<Q4_1>().is_err());
    let q = g.tensor("blk.0.attn_q.weight").unwrap();
    assert_eq!(q.blocks::<Q4_1>().unwrap().len(), 576 * 576 / 32);
    let norm = g.tensor("blk.0.attn_norm.weight").unwrap().blocks::<F32>().unwrap();
    assert_eq!(norm.len(), 576);
    assert!(norm.iter().all(|x| x.is_finite()));
    // the directory is in file order, contiguous, each tensor aligned
    let mut end = g.data_offset();
    for t in g.tensors() {
        assert_eq!(t.file_offset(), end.next_multiple_of(32));
        end = t.file_offset() + t.bytes().len();
    }
    assert_eq!(end, file.bytes().len());
}
