//! Helpers shared by emberlm's integration tests: where the real models are, and how a test that
//! needs one behaves when it is absent.
use std::path::PathBuf;

/// SmolLM2-135M-Instruct Q4_1 (llama architecture, GPT-2 BPE), the default model.
pub const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Gemma 3 270M Q4_K_M (gemma3 architecture, SentencePiece).
pub const GEMMA3: &str = "gemma-3-270m-q4_k_m.gguf";

/// The model cache: `$EMBERLM_MODELS`, default `~/.cache/emberlm/models` (as scripts/fetch-models.sh).
pub fn models_dir() -> PathBuf {
    match std::env::var_os("EMBERLM_MODELS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm/models"),
    }
}

/// The path of a real model, or `None` after printing `SKIPPED` if it is absent.
///
/// # Panics
/// If the model is absent and `EMBERLM_REQUIRE_MODELS=1` (CI sets it after fetching the models),
/// so a missing model can never turn a CI run green silently.
pub fn model_path(file: &str) -> Option<PathBuf> {
    let path = models_dir().join(file);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("EMBERLM_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!("{} not found and EMBERLM_REQUIRE_MODELS=1 (run scripts/fetch-models.sh)", path.display());
    }
    println!("SKIPPED: {} not found (run scripts/fetch-models.sh)", path.display());
    None
}

/// The repository root (for committed fixtures shared across crates).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// llama2.c's stories260K (model, tokenizer, reference greedy text): `$EMBERLM_STORIES260K`, else
/// `../shared/models/stories260K` next to the repository (as the scripts and runtime tests find it).
pub fn stories260k_dir() -> PathBuf {
    std::env::var_os("EMBERLM_STORIES260K")
        .map_or_else(|| repo_root().join("../shared/models/stories260K"), PathBuf::from)
}

/// The `emberlm` arguments that convert stories260K (f32) into the GGUF file `out`.
pub fn convert_stories260k_args(out: &str) -> Vec<String> {
    let dir = stories260k_dir();
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    ["convert", "llama2c", "--model", &path("stories260K.bin"), "--tokenizer", &path("tok512.bin"), "-o", out]
        .map(String::from)
        .to_vec()
}

/// emberlm's cache for reference data: `$EMBERLM_CACHE`, default `~/.cache/emberlm`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("EMBERLM_CACHE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm"),
    }
}

/// The directory of the pinned llama.cpp's tools (its x86-64 AVX2 build, scripts/build-llama-cpp.sh):
/// `$EMBERLM_LLAMA_CPP_BIN`, default `<cache>/llama.cpp-build-avx2/bin`, if it holds every tool in
/// `tools`; else `None` after printing SKIPPED.
///
/// # Panics
/// If a tool is absent and `EMBERLM_REQUIRE_MODELS=1`.
pub fn llama_cpp_bin(tools: &[&str]) -> Option<PathBuf> {
    let dir = std::env::var_os("EMBERLM_LLAMA_CPP_BIN")
        .map_or_else(|| cache_dir().join("llama.cpp-build-avx2/bin"), PathBuf::from);
    let Some(missing) = tools.iter().find(|t| !dir.join(t).is_file()) else { return Some(dir) };
    if std::env::var("EMBERLM_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!("{} has no {missing} (run scripts/build-llama-cpp.sh)", dir.display());
    }
    println!("SKIPPED: no {missing} in {} (run scripts/build-llama-cpp.sh)", dir.display());
    None
}

/// Where scripts/make-kl-bases.sh puts llama.cpp's KL bases: `$EMBERLM_KL_DIR`, default
/// `<cache>/kl`.
pub fn kl_dir() -> PathBuf {
    std::env::var_os("EMBERLM_KL_DIR").map_or_else(|| cache_dir().join("kl"), PathBuf::from)
}

/// A KL base file, or `None` after printing SKIPPED.
///
/// # Panics
/// If it is absent and `EMBERLM_REQUIRE_MODELS=1`.
pub fn kl_base(name: &str) -> Option<PathBuf> {
    let p = kl_dir().join(name);
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("EMBERLM_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!("{} missing and EMBERLM_REQUIRE_MODELS=1 (run scripts/make-kl-bases.sh)", p.display());
    }
    println!("SKIPPED: {} not found (run scripts/make-kl-bases.sh)", p.display());
    None
}

/// Judge an `emberlm perplexity --kl-divergence --json` result the way llama.cpp judges its own
/// quantizations, against issue 3's bar: at least 3 000 positions at context `ctx`, mean KLD
/// <= 0.008, same top >= 94 %, PPL within 1 % of the base's. Prints the numbers under `label`.
pub fn assert_kl_bar(label: &str, ctx: u32, json: &[u8]) {
    let j: serde_json::Value = serde_json::from_slice(json).expect("perplexity --json output");
    let num = |v: &serde_json::Value| v.as_f64().expect("a number in perplexity's JSON");
    let kld = num(&j["kld"]["value"]);
    let same_top = num(&j["same_top"]["value"]);
    let ratio = num(&j["ppl_ratio"]["value"]);
    println!(
        "{label} -c {ctx}: {} positions, PPL ours {:.4} llama.cpp {:.4} (ratio {ratio:.4}), mean KLD \
         {kld:.6}, 99% KLD {:.5}, same top {:.2} %",
        j["count"],
        num(&j["ppl"]["value"]),
        num(&j["ppl_base"]["value"]),
        num(&j["kld_percentiles"]["99"]),
        100.0 * same_top
    );
    assert_eq!(j["n_ctx"].as_u64(), Some(u64::from(ctx)));
    assert!(j["count"].as_u64().unwrap_or(0) >= 3000, "too few positions compared");
    assert!(kld <= 0.008, "mean KLD {kld} > 0.008");
    assert!(same_top >= 0.94, "same top {same_top} < 94 %");
    assert!((ratio - 1.0).abs() <= 0.01, "PPL ratio {ratio} not within 1 %");
}

/// Stricter than [`assert_kl_bar`]: our logits are llama.cpp's bit for bit, so the mean KLD is
/// the base file's floor (it stores log-probabilities in 16 bits: identical logits give
/// |KLD| ~ 1e-6) and the top token is the same everywhere but on exact ties of the 16-bit values.
pub fn assert_kl_exact(label: &str, ctx: u32, json: &[u8]) {
    assert_kl_bar(label, ctx, json);
    let j: serde_json::Value = serde_json::from_slice(json).expect("perplexity --json output");
    let kld = j["kld"]["value"].as_f64().expect("kld");
    let same_top = j["same_top"]["value"].as_f64().expect("same_top");
    assert!(kld.abs() <= 1e-5, "{label} -c {ctx}: mean KLD {kld}: not llama.cpp's logits");
    assert!(same_top >= 0.999, "{label} -c {ctx}: same top {same_top} < 99.9 %: not llama.cpp's logits");
}
