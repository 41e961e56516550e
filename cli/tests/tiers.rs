//! Every kernel tier this CPU runs gives SmolLM2-135M-Instruct Q4_1 the same model (issue 4):
//! teacher-forced mean KLD between the scalar spec and each SIMD tier <= 1e-4 with the same top
//! token everywhere, and identical greedy output for 32 tokens on 3 prompts.
//!
//! The kernels keep the spec's float operations (tests/kernel_exact.rs in emberlm-quant proves
//! the bits kernel by kernel); this is the end-to-end check through the real model, whose massive
//! activations turn any one-ulp difference before an 8-bit activation quantization into a visible
//! logit change. (Identical logits still give a mean KLD of about 1e-6: the KL base stores
//! log-probabilities as 16-bit integers, as llama.cpp's does.) The aarch64 tiers (neon, dotprod)
//! are compared with x86's scalar tier by scripts/check-aarch64.sh under qemu.
//!
//! Heavy (the scalar tier is slow): `#[ignore]`d, run in release by scripts/test.sh.
use std::process::Command;

use emberlm_tests::{SMOLLM2, model_path, repo_root};
use serde_json::Value;

/// The SIMD tiers this CPU runs (the scalar one is the reference).
fn simd_tiers() -> Vec<&'static str> {
    let mut tiers = Vec::new();
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
    {
        tiers.push("avx2");
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
        {
            tiers.push("avx512vnni");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        tiers.push("neon");
        if std::arch::is_aarch64_feature_detected!("dotprod") {
            tiers.push("dotprod");
        }
    }
    for t in ["avx2", "avx512vnni", "neon", "dotprod"] {
        if !tiers.contains(&t) {
            eprintln!("SKIPPED: tier {t} not supported on this CPU (SmolLM2 tier equality)");
        }
    }
    tiers
}

fn emberlm(tier: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_emberlm"))
        .env("EMBERLM_TIER", tier)
        .args(args)
        .output()
        .expect("run emberlm");
    assert!(out.status.success(), "emberlm {args:?} ({tier}): {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
#[ignore = "heavy: scripts/test.sh runs it in release with --ignored"]
fn smollm2_kld_between_tiers() {
    let Some(model) = model_path(SMOLLM2) else { return };
    let model = model.to_str().unwrap();
    let text = repo_root().join("DEVELOPERS.md");
    let base = std::env::temp_dir().join(format!("emberlm-tiers-{}.kl", std::process::id()));
    let common =
        ["perplexity", "-m", model, "-f", text.to_str().unwrap(), "-c", "128", "--chunks", "3", "-t", "2"];
    let mut write = common.to_vec();
    write.extend(["--kl-divergence-base", base.to_str().unwrap()]);
    emberlm("scalar", &write);
    for tier in simd_tiers() {
        let mut cmp = common.to_vec();
        cmp.extend(["--kl-divergence-base", base.to_str().unwrap(), "--kl-divergence", "--json"]);
        let j: Value = serde_json::from_slice(&emberlm(tier, &cmp).stdout).unwrap();
        let kld = j["kld"]["value"].as_f64().unwrap();
        let same_top = j["same_top"]["value"].as_f64().unwrap();
        println!(
            "{tier} vs scalar: {} positions, mean KLD {kld:e}, same top {:.2} %",
            j["count"],
            100.0 * same_top
        );
        assert!(j["count"].as_u64().unwrap() >= 150, "too few positions");
        assert!(kld <= 1e-4, "{tier}: mean KLD {kld} > 1e-4");
        assert_eq!(same_top, 1.0, "{tier}: a different top token");
    }
    let _ = std::fs::remove_file(&base);
}

#[test]
#[ignore = "heavy: scripts/test.sh runs it in release with --ignored"]
fn smollm2_greedy_is_identical_on_every_tier() {
    let Some(model) = model_path(SMOLLM2) else { return };
    let model = model.to_str().unwrap();
    for prompt in ["The capital of France is", "def fibonacci(n):", "Once upon a time, a little robot"] {
        let run = |tier| {
            let out =
                emberlm(tier, &["run", "-m", model, "-p", prompt, "-n", "32", "--temp", "0", "-t", "2"]);
            String::from_utf8(out.stdout).unwrap()
        };
        let want = run("scalar");
        assert!(want.len() > prompt.len() + 32, "suspiciously short output: {want:?}");
        for tier in simd_tiers() {
            assert_eq!(run(tier), want, "{tier} vs scalar on {prompt:?}");
        }
        println!("{prompt:?}: identical on scalar and {:?}", simd_tiers());
    }
}
