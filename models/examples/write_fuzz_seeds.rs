//! Write seed inputs for the `gguf_reader` fuzz target (fuzz/):
//!
//!     cargo run -p emberlm-models --example write_fuzz_seeds -- fuzz/corpus/gguf_reader
//!
//! Seeds: small valid GGUFs made with the writer (the test sample with every value type, and
//! variants of it), and the first 64 KiB of each real model found in `$EMBERLM_MODELS`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use emberlm_models::{Gguf, GgufWriter, QuantType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: write_fuzz_seeds OUT_DIR")?);
    std::fs::create_dir_all(&dir)?;
    let data = common::sample_data();
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();

    let sample = common::sample_writer(&data).to_bytes()?;
    let mut v2 = sample.clone();
    v2[4] = 2;
    seeds.push(("sample_v3.gguf".into(), sample));
    seeds.push(("sample_v2.gguf".into(), v2));
    seeds.push(("empty.gguf".into(), GgufWriter::new().to_bytes()?));
    seeds.push((
        "one_tensor.gguf".into(),
        GgufWriter::new()
            .add_string("general.architecture", "llama")
            .add_tensor("w", &[4, 2], QuantType::F32, &data[..32])
            .to_bytes()?,
    ));
    seeds.push((
        "align_1.gguf".into(),
        GgufWriter::new()
            .add_u32("general.alignment", 1)
            .add_tensor("a", &[1], QuantType::I8, &data[..1])
            .add_tensor("b", &[3], QuantType::F16, &data[..6])
            .to_bytes()?,
    ));
    for (name, file) in [("smollm2", common::SMOLLM2), ("gemma3", common::GEMMA3)] {
        let Some(path) = common::model_path(file) else { continue };
        let bytes = std::fs::read(&path)?;
        let head = bytes[..bytes.len().min(64 * 1024)].to_vec();
        assert!(Gguf::parse(&head).is_err(), "a truncated header does not parse");
        seeds.push((format!("{name}_head64k.gguf"), head));
    }
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(name), bytes)?;
        println!("{} ({} bytes)", dir.join(name).display(), bytes.len());
    }
    Ok(())
}
