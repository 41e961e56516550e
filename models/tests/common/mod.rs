//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use emberlm_models::{ArrayBuf, GgufWriter, QuantType};

pub const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const GEMMA3: &str = "gemma-3-270m-q4_k_m.gguf";

/// The path of a real model in `$EMBERLM_MODELS` (default `~/.cache/emberlm/models`), or `None`
/// after printing `SKIPPED` if it is absent. With `EMBERLM_REQUIRE_MODELS=1`, absence panics.
pub fn model_path(file: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("EMBERLM_MODELS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm/models"),
    };
    let path = dir.join(file);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("EMBERLM_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!("{} not found and EMBERLM_REQUIRE_MODELS=1 (run scripts/fetch-models.sh)", path.display());
    }
    println!("SKIPPED: {} not found (run scripts/fetch-models.sh)", path.display());
    None
}

/// Tensor data for the sample file: deterministic, distinct bytes.
pub fn sample_data() -> Vec<u8> {
    (0..2048u32).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// A valid GGUF with every metadata value type, string arrays, a nested array, an empty array,
/// a non-default alignment and tensors of several types.
pub fn sample_writer(data: &[u8]) -> GgufWriter<'_> {
    let mut w = GgufWriter::new();
    w.add_string("general.architecture", "llama")
        .add_u32("general.alignment", 64)
        .add_u8("t.u8", 0xfe)
        .add_i8("t.i8", -3)
        .add_u16("t.u16", 0xbeef)
        .add_i16("t.i16", -1234)
        .add_u32("llama.block_count", 2)
        .add_i32("t.i32", -123_456)
        .add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
        .add_bool("t.bool", true)
        .add_string("t.string.utf8", "héllo\n\"x\"")
        .add_string("t.string.bytes", [0xffu8, 0, b'a'])
        .add_u64("t.u64", u64::MAX - 1)
        .add_i64("t.i64", i64::MIN)
        .add_f64("t.f64", -2.5e300)
        .add_string_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "b", "ab", ""])
        .add_scalar_array("tokenizer.ggml.scores", &[0.0f32, -1.0, -2.5, 3.25, f32::MIN_POSITIVE, -0.0])
        .add_scalar_array("tokenizer.ggml.token_type", &[3i32, 3, 1, 1, 1, 2])
        .add_scalar_array("t.bools", &[true, false, true])
        .add_scalar_array("t.u64s", &[1u64, u64::MAX])
        .add_scalar_array::<u16>("t.empty", &[])
        .add_array(
            "t.nested",
            ArrayBuf::arrays([
                ArrayBuf::scalars(&[1u8, 2, 3]),
                ArrayBuf::strings(["x", "yz"]),
                ArrayBuf::arrays([ArrayBuf::scalars(&[-1i64])]),
            ]),
        );
    w.add_tensor("token_embd.weight", &[32, 2], QuantType::Q8_0, &data[0..68])
        .add_tensor("blk.0.attn_norm.weight", &[8], QuantType::F32, &data[100..132])
        .add_tensor("blk.0.ffn_up.weight", &[256, 1, 2], QuantType::Q4K, &data[200..488])
        .add_tensor("blk.0.ffn_down.weight", &[64, 1, 1, 1], QuantType::F16, &data[500..628])
        .add_tensor("blk.0.attn_q.weight", &[32], QuantType::Q4_1, &data[700..720]);
    w
}

pub fn sample_gguf() -> Vec<u8> {
    sample_writer(&sample_data()).to_bytes().expect("the sample is valid")
}
