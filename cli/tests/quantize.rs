//! `emberlm quantize` on stories260K (converted from llama2.c): the Q8_0 output loads with our
//! reader, keeps every metadata key, sets general.file_type, keeps norms in f32, and greedy
//! generation stays close to the F32 model's. Also the Q4_K fallback rules (64-value rows).
use std::path::{Path, PathBuf};
use std::process::Command;

use emberlm::models::{MappedFile, QuantType, Value};

fn emberlm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emberlm"))
}

fn stories_dir() -> Option<PathBuf> {
    let d = emberlm_tests::repo_root().join("../shared/models/stories260K");
    if d.join("stories260K.bin").is_file() {
        return Some(d);
    }
    if std::env::var("EMBERLM_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!("{} not found and EMBERLM_REQUIRE_MODELS=1", d.display());
    }
    println!("SKIPPED: {} not found", d.display());
    None
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emberlm-quantize-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn convert(dir: &Path, stories: &Path) -> PathBuf {
    let f32_path = dir.join("stories260K-f32.gguf");
    run_ok(
        emberlm()
            .args(["convert", "llama2c", "--model"])
            .arg(stories.join("stories260K.bin"))
            .arg("--tokenizer")
            .arg(stories.join("tok512.bin"))
            .arg("-o")
            .arg(&f32_path),
    );
    f32_path
}

fn greedy(model: &Path) -> String {
    run_ok(emberlm().arg("run").arg("-m").arg(model).args([
        "-p",
        "Once upon a time",
        "--temp",
        "0",
        "-n",
        "60",
    ]))
}

#[test]
fn q8_0_round_trip_keeps_metadata_and_output() {
    let Some(stories) = stories_dir() else { return };
    let dir = tmpdir("q8");
    let src = convert(&dir, &stories);
    let q8 = dir.join("stories260K-q8_0.gguf");
    run_ok(emberlm().arg("quantize").arg(&src).arg(&q8).args(["Q8_0", "--quiet"]));

    let (fa, fb) = (MappedFile::open(&src).unwrap(), MappedFile::open(&q8).unwrap());
    let (a, b) = (fa.gguf().unwrap(), fb.gguf().unwrap());
    // Every metadata key of the source is kept, with the same value, except the file type.
    for e in a.metadata() {
        if e.key == "general.file_type" {
            continue;
        }
        let v = b.get(e.key).unwrap_or_else(|| panic!("{} lost", e.key));
        assert_eq!(format!("{:?}", e.value), format!("{v:?}"), "{} changed", e.key);
    }
    assert_eq!(b.get("general.file_type").and_then(|v| v.as_u32()), Some(7));
    assert!(matches!(b.get("general.quantization_version"), Some(Value::U32(2))));
    assert_eq!(a.tensors().len(), b.tensors().len());
    let mut n_q8 = 0;
    for t in b.tensors() {
        let orig = a.tensor(t.name()).unwrap();
        assert_eq!(t.dims(), orig.dims(), "{}", t.name());
        if t.dims().len() == 1 || t.name().contains("_norm") {
            assert_eq!(t.ty(), QuantType::F32, "{} must stay f32", t.name());
            assert_eq!(t.bytes(), orig.bytes(), "{} must be copied", t.name());
        } else if t.dims()[0].is_multiple_of(32) {
            assert_eq!(t.ty(), QuantType::Q8_0, "{}", t.name());
            n_q8 += 1;
        } else {
            // hidden_dim 172 is not a whole number of 32-value blocks: F16, as llama.cpp.
            assert_eq!(t.ty(), QuantType::F16, "{}", t.name());
        }
    }
    assert!(n_q8 >= 6 * 5, "only {n_q8} Q8_0 tensors");

    // Greedy output stays close: the same first words, most of the text in common.
    let (ga, gb) = (greedy(&src), greedy(&q8));
    let common = ga.chars().zip(gb.chars()).take_while(|(x, y)| x == y).count();
    assert!(common >= 60, "greedy outputs diverge after {common} chars:\n f32: {ga}\n q8_0: {gb}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn k_quants_fall_back_on_short_rows_like_llama_cpp() {
    let Some(stories) = stories_dir() else { return };
    let dir = tmpdir("q4k");
    let src = convert(&dir, &stories);
    let out = dir.join("stories260K-q4_k.gguf");
    let log = emberlm().arg("quantize").arg(&src).arg(&out).arg("Q4_K_M").output().unwrap();
    assert!(log.status.success(), "{}", String::from_utf8_lossy(&log.stderr));
    assert!(log.stdout.is_empty(), "progress and summary go to stderr, never stdout");
    let f = MappedFile::open(&out).unwrap();
    let g = f.gguf().unwrap();
    assert_eq!(g.get("general.file_type").and_then(|v| v.as_u32()), Some(15));
    let tied = g.find_tensor("output.weight").is_none();
    for t in g.tensors() {
        let want = if t.dims().len() == 1 {
            QuantType::F32
        } else if t.name() == "output.weight" || (t.name() == "token_embd.weight" && tied) {
            QuantType::Q8_0 // the output tensor: Q6_K, but 64-value rows are not a whole block
        } else if !t.dims()[0].is_multiple_of(32) {
            QuantType::F16 // ffn_down: 172-value rows fit no block type
        } else if t.name().contains("attn_v") {
            QuantType::Q8_0 // Q6_K for some layers in Q4_K_M, falling back to Q8_0; or Q5_0
        } else {
            QuantType::Q5_0 // Q4_K falls back to Q5_0
        };
        if t.name().contains("attn_v") {
            assert!(matches!(t.ty(), QuantType::Q8_0 | QuantType::Q5_0), "{}: {:?}", t.name(), t.ty());
        } else {
            assert_eq!(t.ty(), want, "{}", t.name());
        }
    }
    // Our reader and runtime load it and it generates.
    assert!(!greedy(&out).trim().is_empty());
    // Bad input: a clear error, not a panic.
    let bad = emberlm().arg("quantize").arg(&src).arg(dir.join("x.gguf")).arg("Q9_9").output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown quantization type"));
    let _ = std::fs::remove_dir_all(&dir);
}
