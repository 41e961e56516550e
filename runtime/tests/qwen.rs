//! qwen2 (Q/K/V biases) and qwen3 (per-head q/k norms, head size != n_embd / n_head) against
//! llama.cpp: tiny random-weight f32 GGUFs and llama.cpp's logits at every position of a fixed
//! token sequence, both made by `runtime/tests/fixtures/qwen/gen.py` (gguf PyPI package for the
//! files, libllama through logits.cpp for the logits: CPU, flash attention off, f16 KV cache).
//!
//! Stated tolerance: every logit within 2e-3 + 1e-3·|logit| of llama.cpp's. Both sides compute
//! in f32 with an f16 cache; only summation orders differ (llama.cpp's SIMD dots vs ours).

use std::path::PathBuf;

use emberlm::models::{Gguf, MappedFile};
use emberlm::{Model, Session, SessionOptions};

const TOKENS: [u32; 16] = [1, 17, 42, 5, 63, 8, 8, 30, 2, 51, 12, 40, 7, 33, 60, 21];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/qwen").join(name)
}

fn check(arch: &str) {
    let file = MappedFile::open(fixture(&format!("{arch}.gguf"))).unwrap();
    let gguf = Gguf::parse(file.bytes()).unwrap();
    let model = Model::from_gguf(&gguf).unwrap();
    assert_eq!(model.config().arch.name(), arch);
    let n_vocab = model.config().n_vocab;
    let expected: Vec<Vec<f32>> = std::fs::read_to_string(fixture(&format!("{arch}.logits.txt")))
        .unwrap()
        .lines()
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(expected.len(), TOKENS.len());

    // Batched prefill (all positions at once) and token-by-token decoding.
    let opts = SessionOptions { n_ctx: 64, ..Default::default() };
    let mut s = Session::new(&model, opts).unwrap();
    let mut batched = vec![0f32; TOKENS.len() * n_vocab];
    s.prefill_logits(&TOKENS, 0, &mut batched).unwrap();
    let mut s = Session::new(&model, opts).unwrap();
    let stepwise: Vec<f32> = TOKENS.iter().flat_map(|&t| s.decode_step(t).unwrap().to_vec()).collect();

    let mut worst = 0f32;
    for (name, ours) in [("batched", &batched), ("stepwise", &stepwise)] {
        for (pos, (row, want)) in ours.chunks_exact(n_vocab).zip(&expected).enumerate() {
            assert_eq!(want.len(), n_vocab);
            for (i, (&a, &b)) in row.iter().zip(want).enumerate() {
                let d = (a - b).abs();
                worst = worst.max(d);
                assert!(
                    d <= 2e-3 + 1e-3 * b.abs(),
                    "{arch} {name} pos {pos} logit {i}: ours {a}, llama.cpp {b}"
                );
            }
        }
    }
    println!("{arch}: {} positions x {n_vocab} logits, max |ours - llama.cpp| = {worst:e}", TOKENS.len());
}

#[test]
fn qwen2_matches_llama_cpp() {
    check("qwen2");
}

#[test]
fn qwen3_matches_llama_cpp() {
    check("qwen3");
}
