//! `emberlm quantize` against llama.cpp's own `llama-quantize` (the pinned build of
//! scripts/build-llama-cpp.sh): the same source quantized by both must give the same GGUF, every
//! metadata value, tensor type and tensor byte equal (llama.cpp orders the keys differently:
//! order is not compared), and llama.cpp must load and run our output.
use std::path::Path;
use std::process::{Command, Output};

use emberlm::models::{Gguf, MappedFile, Value};

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn emberlm(args: &[&str]) -> String {
    ok(Command::new(env!("CARGO_BIN_EXE_emberlm")).args(args).output().unwrap(), "emberlm")
}

fn tmp(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

/// A metadata value comparable across files (arrays by element type and raw bytes).
fn canon(v: &Value<'_>) -> String {
    match v {
        Value::Array(a) => format!("array {:?} x{} {:?}", a.elem_type(), a.len(), a.raw_bytes()),
        other => format!("{other:?}"),
    }
}

/// Same metadata (as a map), same tensors in the same order with the same types and bytes.
fn assert_same_gguf(ours: &str, theirs: &str) {
    let (fa, fb) = (MappedFile::open(Path::new(ours)).unwrap(), MappedFile::open(Path::new(theirs)).unwrap());
    let (a, b): (Gguf<'_>, Gguf<'_>) = (fa.gguf().unwrap(), fb.gguf().unwrap());
    let mut ka: Vec<(&str, String)> = a.metadata().iter().map(|e| (e.key, canon(&e.value))).collect();
    let mut kb: Vec<(&str, String)> = b.metadata().iter().map(|e| (e.key, canon(&e.value))).collect();
    ka.sort();
    kb.sort();
    for (x, y) in ka.iter().zip(&kb) {
        assert_eq!(x, y, "{ours}: metadata differs from llama-quantize's");
    }
    assert_eq!(ka.len(), kb.len(), "{ours}: metadata key count");
    assert_eq!(a.tensors().len(), b.tensors().len());
    for (x, y) in a.tensors().iter().zip(b.tensors()) {
        assert_eq!((x.name(), x.dims(), x.ty()), (y.name(), y.dims(), y.ty()), "{ours}");
        assert!(x.bytes() == y.bytes(), "{ours}: tensor {} ({:?}) bytes differ", x.name(), x.ty());
    }
}

/// llama-perplexity's running estimates `[k]ppl`. Its log is written by a thread that may not
/// flush the last lines, or any line, before the process exits (seen in CI on this tiny model,
/// whose whole run takes 50 ms), so only the estimates present are returned, and a run that
/// printed none (but exited successfully) is repeated, up to 8 times.
fn llama_ppl(bin: &Path, model: &str, text: &str, ctx: &str) -> Vec<(usize, f64)> {
    let mut last = String::new();
    for _ in 0..8 {
        let out = ok(
            Command::new(bin.join("llama-perplexity"))
                .args(["-m", model, "-f", text, "-c", ctx, "-t", "1", "--chunks", "4"])
                .output()
                .unwrap(),
            "llama-perplexity",
        );
        // one estimate per chunk: under load llama.cpp's logger has printed a chunk's twice
        let est: Vec<(usize, f64)> = out
            .split('[')
            .filter_map(|p| {
                let (k, rest) = p.split_once(']')?;
                let v = rest.split(',').next()?;
                Some((k.parse().ok()?, v.trim().parse().ok()?))
            })
            .collect::<std::collections::BTreeMap<usize, f64>>()
            .into_iter()
            .collect();
        if !est.is_empty() {
            return est;
        }
        last = out;
    }
    panic!("no estimate from llama-perplexity in 8 runs: {last}");
}

#[test]
fn stories260k_quantized_by_both_is_identical_and_llama_cpp_runs_ours() {
    let Some(bin) = emberlm_tests::llama_cpp_bin(&["llama-quantize", "llama-perplexity"]) else { return };
    let shared = emberlm_tests::stories260k_dir();
    let dir = std::env::temp_dir().join(format!("emberlm-q-llama-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = tmp(&dir, "f32.gguf");
    let args = emberlm_tests::convert_stories260k_args(&src);
    emberlm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let text = tmp(&dir, "text.txt");
    let story = std::fs::read_to_string(shared.join("greedy-once-upon-a-time.txt")).unwrap();
    std::fs::write(&text, story.repeat(12)).unwrap();
    for ty in ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K_M", "Q5_K_M", "Q6_K"] {
        let (ours, theirs) = (tmp(&dir, &format!("ours-{ty}.gguf")), tmp(&dir, &format!("ref-{ty}.gguf")));
        emberlm(&["quantize", &src, &ours, ty, "--quiet"]);
        ok(
            Command::new(bin.join("llama-quantize")).args([&src, &theirs, ty]).output().unwrap(),
            "llama-quantize",
        );
        assert_same_gguf(&ours, &theirs);
        let (p_ours, p_ref) = (llama_ppl(&bin, &ours, &text, "128"), llama_ppl(&bin, &theirs, &text, "128"));
        println!("{ty}: identical to llama-quantize's; llama-perplexity {p_ours:?} (ours) vs {p_ref:?}");
        for ((k, a), (j, b)) in p_ours.iter().zip(&p_ref) {
            assert_eq!((k, a), (j, b), "{ty}: llama.cpp's perplexity on ours and on its own");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// SmolLM2's rows of 1536 (ffn_down) are whole 256-value super-blocks: the K-quant kernels run.
/// The source is the Q4_1 model (requantized by both, llama-quantize with --allow-requantize).
#[test]
fn smollm2_requantized_by_both_is_identical() {
    let Some(bin) = emberlm_tests::llama_cpp_bin(&["llama-quantize", "llama-perplexity"]) else { return };
    let Some(model) = emberlm_tests::model_path(emberlm_tests::SMOLLM2) else { return };
    let src = model.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("emberlm-q-llama-sm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ty in ["Q8_0", "Q4_K_M"] {
        let (ours, theirs) = (tmp(&dir, &format!("ours-{ty}.gguf")), tmp(&dir, &format!("ref-{ty}.gguf")));
        emberlm(&["quantize", src, &ours, ty, "--quiet"]);
        let o =
            Command::new(bin.join("llama-quantize")).args(["--allow-requantize", src, &theirs, ty]).output();
        ok(o.unwrap(), "llama-quantize");
        assert_same_gguf(&ours, &theirs);
        println!("SmolLM2 -> {ty}: identical to llama-quantize's (metadata, types, bytes)");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
