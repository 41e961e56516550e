//! `emberlm info` on the real models, checked against the `gguf` PyPI package's reading of the same
//! files (the listings committed in models/tests/reference/), and on broken files.
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

use emberlm_tests::{GEMMA3, SMOLLM2, model_path, repo_root};
use serde_json::Value;

fn emberlm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emberlm")).args(args).output().expect("run emberlm")
}

/// What gguf-py says about a model: its `kv` lines (key -> value text) and the sum of its tensors'
/// element counts.
struct Listing {
    kv: HashMap<String, String>,
    n_params: u64,
    n_tensors: usize,
}

fn listing(name: &str) -> Listing {
    let text =
        std::fs::read_to_string(repo_root().join("models/tests/reference").join(name)).expect("listing");
    let mut kv = HashMap::new();
    let (mut n_params, mut n_tensors) = (0, 0);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("kv ") {
            let mut parts = rest.splitn(3, ' ');
            let (key, _ty, value) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            kv.insert(key.to_string(), value.to_string());
        } else if let Some(rest) = line.strip_prefix("tensor ") {
            let n = rest.split(' ').find_map(|f| f.strip_prefix("n_elements=")).expect("n_elements");
            n_params += n.parse::<u64>().unwrap();
            n_tensors += 1;
        }
    }
    Listing { kv, n_params, n_tensors }
}

fn info_json(model: &Path, ctx: &str) -> Value {
    let out = emberlm(&["info", "-m", model.to_str().unwrap(), "-c", ctx, "--json"]);
    assert!(out.status.success(), "info failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("info --json prints one JSON object")
}

fn kv_u64(l: &Listing, key: &str) -> u64 {
    l.kv[key].parse().unwrap_or_else(|_| panic!("{key} = {}", l.kv[key]))
}

#[test]
fn info_on_smollm2_agrees_with_gguf_py() {
    let Some(model) = model_path(SMOLLM2) else { return };
    let l = listing("smollm2.listing.txt");
    let j = info_json(&model, "2048");
    assert_eq!(j["architecture"], "llama");
    assert_eq!(format!("\"{}\"", j["name"].as_str().unwrap()), l.kv["general.name"]);
    assert_eq!(j["n_tensors"].as_u64().unwrap() as usize, l.n_tensors);
    assert_eq!(j["n_params"].as_u64().unwrap(), l.n_params);
    assert_eq!(j["n_embd"].as_u64().unwrap(), kv_u64(&l, "llama.embedding_length"));
    assert_eq!(j["n_layer"].as_u64().unwrap(), kv_u64(&l, "llama.block_count"));
    assert_eq!(j["n_ctx_train"].as_u64().unwrap(), kv_u64(&l, "llama.context_length"));
    assert_eq!(j["n_vocab"].as_u64().unwrap(), kv_u64(&l, "llama.vocab_size"));
    assert_eq!(j["n_ff"][0].as_u64().unwrap(), kv_u64(&l, "llama.feed_forward_length"));
    assert_eq!(j["n_head"][0].as_u64().unwrap(), kv_u64(&l, "llama.attention.head_count"));
    assert_eq!(j["n_head_kv"][0].as_u64().unwrap(), kv_u64(&l, "llama.attention.head_count_kv"));
    // The output projection is tied to token_embd in this file.
    assert_eq!(j["output_tied_to_embedding"], true);
    assert_eq!(j["file_type"].as_u64().unwrap(), kv_u64(&l, "general.file_type"));
    assert_eq!(j["file_type_name"], "Q4_1");
    // For a plain llama model the closed-form estimate (tied output counted once) is exact.
    assert_eq!(j["n_params_estimate"], j["n_params"]);
    // KV cache: 30 layers * 2048 positions * 3 kv heads * (64 + 64) * 2 bytes.
    assert_eq!(j["kv_cache"]["f16_bytes"].as_u64().unwrap(), 30 * 2048 * 3 * 128 * 2);
    assert_eq!(j["kv_cache"]["f32_bytes"].as_u64().unwrap(), 30 * 2048 * 3 * 128 * 4);
    assert_eq!(j["kv_cache"]["q8_0_bytes"].as_u64().unwrap(), 30 * 2048 * 3 * 128 * 34 / 32);
    assert_eq!(j["file_size"].as_u64().unwrap(), std::fs::metadata(&model).unwrap().len());
    let bytes: u64 = j["types"].as_object().unwrap().values().map(|t| t["bytes"].as_u64().unwrap()).sum();
    assert!(bytes < j["file_size"].as_u64().unwrap());
}

#[test]
fn info_on_gemma3_agrees_with_gguf_py() {
    let Some(model) = model_path(GEMMA3) else { return };
    let l = listing("gemma3.listing.txt");
    let j = info_json(&model, "8192");
    assert_eq!(j["architecture"], "gemma3");
    assert_eq!(j["file_type"].as_u64().unwrap(), kv_u64(&l, "general.file_type"));
    assert_eq!(j["file_type_name"], "Q4_K - Medium");
    assert_eq!(j["n_tensors"].as_u64().unwrap() as usize, l.n_tensors);
    assert_eq!(j["n_params"].as_u64().unwrap(), l.n_params);
    assert_eq!(j["n_embd"].as_u64().unwrap(), kv_u64(&l, "gemma3.embedding_length"));
    assert_eq!(j["n_layer"].as_u64().unwrap(), kv_u64(&l, "gemma3.block_count"));
    assert_eq!(j["head_dim_k"].as_u64().unwrap(), kv_u64(&l, "gemma3.attention.key_length"));
    assert_eq!(j["sliding_window"].as_u64().unwrap(), kv_u64(&l, "gemma3.attention.sliding_window"));
    assert_eq!(j["output_tied_to_embedding"], true);
    // Gemma adds q/k norms and post-norms the llama formula leaves out: close, not exact.
    let (est, exact) = (j["n_params_estimate"].as_f64().unwrap(), j["n_params"].as_f64().unwrap());
    assert!((est - exact).abs() / exact < 1e-3, "estimate {est} vs exact {exact}");
}

#[test]
fn info_text_names_the_essentials() {
    let Some(model) = model_path(SMOLLM2) else { return };
    let out = emberlm(&["info", "-m", model.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in
        ["architecture:  llama", "layers:        30", "q4_1", "q8_0", "parameters:", "kv cache:      -c 8192"]
    {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

/// A broken file gives exactly one line on stderr naming the problem, a non-zero exit, no panic.
fn assert_one_line_error(out: &Output, needle: &str) {
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1), "exit code");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line, got: {err}");
    assert!(err.starts_with("emberlm: error: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn info_on_broken_files_is_one_clear_line() {
    let dir = std::env::temp_dir().join(format!("emberlm-info-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, "hello, not a model\n").unwrap();
    assert_one_line_error(&emberlm(&["info", "-m", text.to_str().unwrap()]), "magic");

    let empty = dir.join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert_one_line_error(&emberlm(&["info", "-m", empty.to_str().unwrap()]), "empty.gguf");

    let missing = dir.join("does-not-exist.gguf");
    assert_one_line_error(&emberlm(&["info", "-m", missing.to_str().unwrap()]), "does-not-exist.gguf");

    if let Some(model) = model_path(SMOLLM2) {
        // The real header cut short: the reader names the truncation.
        let head = std::fs::read(&model).unwrap()[..100_000].to_vec();
        let cut = dir.join("truncated.gguf");
        std::fs::write(&cut, head).unwrap();
        assert_one_line_error(&emberlm(&["info", "-m", cut.to_str().unwrap()]), "truncated.gguf");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
