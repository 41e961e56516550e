//! Fidelity against llama.cpp, judged the way llama.cpp judges its own quantizations: teacher-forced
//! KL divergence, same-top rate and perplexity, against KL base files that llama-perplexity (the
//! pinned llama.cpp) wrote for SmolLM2-135M-Instruct Q4_1 (scripts/make-kl-bases.sh).
//!
//! Heavy (two full perplexity runs): `#[ignore]`d in the default tier; scripts/test.sh runs them in
//! release with `--ignored`. Without the base files they print SKIPPED, unless
//! EMBERLM_REQUIRE_MODELS=1 (CI), where their absence fails.
//!
//! The bar (issue 3): mean KLD <= 0.008, same top >= 94 %, PPL within 1 %. Since our kernels and
//! ops reproduce llama.cpp's x86-64 arithmetic (its AVX2 dots and quantizers, tinyBLAS, ggml's
//! vector exp, -fa off attention), SmolLM2's logits are llama.cpp's bit for bit and the test
//! asserts that too ([`emberlm_tests::assert_kl_exact`]: mean |KLD| <= 1e-5, the base file's
//! 16-bit floor; same top >= 99.9 %). Measured: KLD 0.000000 and same top 100 % at -c 512 and 256.
//! For scale, llama.cpp's own flash-attention path differs from its non-flash one by KLD 0.0031.
use std::process::Command;

use emberlm_tests::{SMOLLM2, kl_base, kl_dir, model_path};

fn emberlm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emberlm")).args(args).output().expect("run emberlm")
}

fn check(ctx: u32) {
    let Some(model) = model_path(SMOLLM2) else { return };
    let Some(kl) = kl_base(&format!("smollm2-c{ctx}.kl")) else { return };
    let out = emberlm(&[
        "perplexity",
        "-m",
        model.to_str().unwrap(),
        "--kl-divergence-base",
        kl.to_str().unwrap(),
        "--kl-divergence",
        "--json",
    ]);
    assert!(out.status.success(), "perplexity failed: {}", String::from_utf8_lossy(&out.stderr));
    emberlm_tests::assert_kl_exact("smollm2", ctx, &out.stdout);
}

#[test]
#[ignore = "heavy: scripts/test.sh runs it in release with --ignored"]
fn smollm2_matches_llama_cpp_at_ctx_512() {
    check(512);
}

#[test]
#[ignore = "heavy: scripts/test.sh runs it in release with --ignored"]
fn smollm2_matches_llama_cpp_at_ctx_256() {
    check(256);
}

/// Our tokenization of the text is llama.cpp's: the tokens in the base file are llama-perplexity's.
#[test]
#[ignore = "heavy: scripts/test.sh runs it in release with --ignored"]
fn smollm2_tokenizes_the_text_as_llama_cpp() {
    let Some(model) = model_path(SMOLLM2) else { return };
    let Some(kl) = kl_base("smollm2-c512.kl") else { return };
    let text = kl_dir().join("text.md");
    let out = emberlm(&["tokenize", "-m", model.to_str().unwrap(), "-f", text.to_str().unwrap(), "--ids"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ours: Vec<u32> = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|t| t.parse().unwrap())
        .collect();
    let bytes = std::fs::read(&kl).unwrap();
    let (n_ctx, n_chunk) = (
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
        u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize,
    );
    let theirs: Vec<u32> = bytes[20..20 + 4 * n_ctx * n_chunk]
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert!(ours.len() >= theirs.len());
    assert_eq!(&ours[..theirs.len()], theirs.as_slice(), "tokenization differs from llama.cpp's");
    println!("{} tokens identical to llama-perplexity's", theirs.len());
}

/// `emberlm convert llama2c` writes a GGUF that llama.cpp loads and runs to llama2.c's output:
/// llama-completion's greedy continuation of "Once upon a time" on our f32 stories260K GGUF holds
/// llama2.c's reference text (llama.cpp prints a leading space and keeps going after run.c's 200
/// steps, whose output ends with a newline).
///
/// llama.cpp prints the generated text through its asynchronous logger, whose queue is not
/// flushed at exit (`common_log_main` leaks the logger on purpose), so under load the last tokens
/// of its stdout can be lost. It is asked for 300 tokens, 100 past the reference's end, and run
/// again (at most 3 times) when its text is only a truncated start of the reference; any other
/// difference fails at once.
#[test]
#[ignore = "heavy: scripts/test.sh runs it in release with --ignored"]
fn llama_cpp_runs_our_stories260k_conversion_to_llama2c_text() {
    let Some(bin) = emberlm_tests::llama_cpp_bin(&["llama-completion"]) else { return };
    let shared = emberlm_tests::stories260k_dir();
    let reference = std::fs::read_to_string(shared.join("greedy-once-upon-a-time.txt")).unwrap();
    let gguf = std::env::temp_dir().join(format!("emberlm-stories-{}.gguf", std::process::id()));
    let args = emberlm_tests::convert_stories260k_args(gguf.to_str().unwrap());
    let out = emberlm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let body = reference.trim_end_matches('\n');
    let mut text = String::new();
    for attempt in 1..=3 {
        let run = Command::new(bin.join("llama-completion"))
            .args(["-m", gguf.to_str().unwrap(), "-p", "Once upon a time", "-n", "300", "--temp", "0"])
            .args(["-no-cnv", "--no-warmup", "-c", "512", "-t", "1"])
            .output()
            .expect("run llama-completion");
        assert!(run.status.success(), "llama-completion failed: {}", String::from_utf8_lossy(&run.stderr));
        text = String::from_utf8_lossy(&run.stdout).into_owned();
        let got = text.trim_start();
        if got.len() < body.len() && body.starts_with(got.trim_end()) {
            println!("llama-completion's stdout ended early (its logger's tail lost), attempt {attempt}");
            continue;
        }
        break;
    }
    std::fs::remove_file(&gguf).unwrap();
    assert!(
        text.trim_start().starts_with(body),
        "llama.cpp's text differs from llama2.c's:\n{text}\n---- reference:\n{reference}"
    );
    println!("llama.cpp's greedy text on our GGUF holds llama2.c's {} reference bytes", body.len());
}
