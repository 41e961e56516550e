//! The tokenizer against llama.cpp:
//! 1. llama.cpp's own tokenizer test data (`models/ggml-vocab-*.gguf` + `.inp`/`.out`), run as
//!    its `tests/test-tokenizer-0.cpp` does (`common_tokenize(ctx, text, add_special = false,
//!    parse_special = false)`);
//! 2. `fixtures/tokenizer/mixed.txt` against ids produced by llama.cpp's `llama-tokenize` with
//!    SmolLM2's and Gemma 3's vocabularies (see `fixtures/tokenizer/README.md`);
//! 3. detokenization round trips, whole and streamed.
//!
//! llama.cpp's directory comes from `LLAMA_CPP_DIR` (default `/work/llama.cpp` when present),
//! models from `EMBERLM_MODELS` (default `~/.cache/emberlm/models`). Missing inputs make a test
//! print SKIPPED, or fail when `EMBERLM_REQUIRE_MODELS=1`.

use std::path::{Path, PathBuf};

use emberlm::models::MappedFile;
use emberlm::tokenizer::{DecodeOptions, Tokenizer, TokenizerError};

fn require_models() -> bool {
    std::env::var("EMBERLM_REQUIRE_MODELS").is_ok_and(|v| v == "1")
}

fn skip(what: &str) {
    assert!(!require_models(), "EMBERLM_REQUIRE_MODELS=1 but {what}");
    println!("SKIPPED: {what}");
}

fn llama_cpp_dir() -> Option<PathBuf> {
    let dir =
        std::env::var_os("LLAMA_CPP_DIR").map_or_else(|| PathBuf::from("/work/llama.cpp"), PathBuf::from);
    Some(dir).filter(|d| d.join("models").is_dir())
}

fn models_dir() -> PathBuf {
    match std::env::var_os("EMBERLM_MODELS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm/models"),
    }
}

/// The GGUF's `tokenizer.ggml.model` and the tokenizer built from it.
fn load(path: &Path) -> (String, Result<Tokenizer, TokenizerError>) {
    let file = MappedFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let gguf = file.gguf().unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let model =
        gguf.get("tokenizer.ggml.model").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    (model, Tokenizer::from_gguf(&gguf))
}

/// test-tokenizer-0's `read_tests`: inputs separated by "\n__ggml_vocab_test__\n", one line of
/// ids per input.
fn read_cases(inp: &Path, out: &Path) -> Vec<(String, Vec<u32>)> {
    let raw = std::fs::read_to_string(inp).unwrap();
    let sep = "\n__ggml_vocab_test__\n";
    let mut texts = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        match raw[pos..].find(sep) {
            None => {
                texts.push(raw[pos..].to_owned());
                break;
            }
            Some(n) => {
                texts.push(raw[pos..pos + n].to_owned());
                pos += n + sep.len();
            }
        }
    }
    let outs: Vec<Vec<u32>> = std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|t| t.parse().unwrap()).collect())
        .collect();
    assert_eq!(texts.len(), outs.len(), "{}: input and output case counts differ", inp.display());
    texts.into_iter().zip(outs).collect()
}

#[test]
fn llama_cpp_vocab_test_data() {
    let Some(dir) = llama_cpp_dir() else {
        return skip("llama.cpp source not found (set LLAMA_CPP_DIR)");
    };
    let models = dir.join("models");
    let mut vocabs: Vec<PathBuf> = std::fs::read_dir(&models)
        .unwrap_or_else(|e| panic!("{}: {e}", models.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("ggml-vocab-") && name.ends_with(".gguf")
        })
        .collect();
    vocabs.sort();
    let mut failures = Vec::new();
    let mut claimed = 0;
    for path in vocabs {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let inp = PathBuf::from(format!("{}.inp", path.display()));
        let out = PathBuf::from(format!("{}.out", path.display()));
        if !inp.exists() || !out.exists() {
            println!("vocab {name}: SKIPPED (no .inp/.out test data)");
            continue;
        }
        let (model, tok) = load(&path);
        if model != "gpt2" && model != "llama" {
            println!("vocab {name}: SKIPPED (tokenizer model '{model}' is out of scope: not BPE/SPM)");
            continue;
        }
        claimed += 1;
        let tok = match tok {
            Ok(t) => t,
            Err(e) => {
                println!("vocab {name}: FAILED to build: {e}");
                failures.push(name);
                continue;
            }
        };
        let cases = read_cases(&inp, &out);
        let mut passed = 0;
        for (text, want) in &cases {
            let got = tok.encode(text, false, false).unwrap();
            if &got == want {
                passed += 1;
            } else if cases.len() - passed <= 1_000 {
                println!("  {name} mismatch for {text:?}\n    want {want:?}\n    got  {got:?}");
            }
        }
        println!("vocab {name}: {passed}/{} cases passed", cases.len());
        if passed != cases.len() {
            failures.push(name);
        }
    }
    assert!(claimed > 0, "no BPE/SPM vocabularies with test data found in {}", models.display());
    assert!(failures.is_empty(), "vocabularies with failures: {failures:?}");
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tokenizer");

fn ids_line(l: &str) -> Vec<u32> {
    l.split_whitespace().map(|t| t.parse().unwrap()).collect()
}

fn mixed_text() -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join("mixed.txt")).unwrap()
}

/// `(fixture name, GGUF file)` of the real models.
const REAL: [(&str, &str); 2] =
    [("smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"), ("gemma3", "gemma-3-270m-q4_k_m.gguf")];

fn real_tokenizer(file: &str) -> Option<Tokenizer> {
    let path = models_dir().join(file);
    if !path.exists() {
        skip(&format!("{} not found (set EMBERLM_MODELS)", path.display()));
        return None;
    }
    Some(load(&path).1.unwrap_or_else(|e| panic!("{file}: {e}")))
}

#[test]
fn mixed_text_matches_llama_tokenize() {
    let text = mixed_text();
    let lines: Vec<&str> = text.split('\n').filter(|l| !l.is_empty()).collect();
    let mut failed = Vec::new();
    for (name, file) in REAL {
        let Some(tok) = real_tokenizer(file) else { continue };
        // llama-tokenize adds BOS exactly when the model asks for it (add_special = add_bos)
        let add_special = tok.vocab().add_bos();
        for parse in [true, false] {
            let mode = if parse { "parse-special" } else { "no-parse-special" };
            let whole =
                std::fs::read_to_string(Path::new(FIXTURES).join(format!("{name}.{mode}.ids"))).unwrap();
            let want = ids_line(&whole);
            let got = tok.encode(&text, add_special, parse).unwrap();
            let whole_ok = got == want;
            if !whole_ok {
                let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
                println!(
                    "  {name} {mode}: first difference at token {at}: want {:?} got {:?}",
                    &want[at..(at + 8).min(want.len())],
                    &got[at..(at + 8).min(got.len())]
                );
            }
            let per_line =
                std::fs::read_to_string(Path::new(FIXTURES).join(format!("{name}.{mode}.lines"))).unwrap();
            let want_lines: Vec<Vec<u32>> = per_line.lines().map(ids_line).collect();
            assert_eq!(want_lines.len(), lines.len(), "{name}.{mode}.lines is stale: run make.sh");
            let mut ok = 0;
            for (line, want) in lines.iter().zip(&want_lines) {
                let got = tok.encode(line, add_special, parse).unwrap();
                if &got == want {
                    ok += 1;
                } else {
                    println!("  {name} {mode} line {line:?}\n    want {want:?}\n    got  {got:?}");
                }
            }
            println!(
                "mixed {name} {mode}: whole text {} ({} tokens), lines {ok}/{} passed",
                if whole_ok { "matches" } else { "DIFFERS" },
                want.len(),
                lines.len()
            );
            if !whole_ok || ok != lines.len() {
                failed.push(format!("{name} {mode}"));
            }
        }
    }
    assert!(failed.is_empty(), "mismatches: {failed:?}");
}

#[test]
fn detokenize_round_trips() {
    let text = mixed_text();
    for (name, file) in REAL {
        let Some(tok) = real_tokenizer(file) else { continue };
        let plain = DecodeOptions { remove_special: false, unparse_special: true };
        let ids = tok.encode(&text, false, false).unwrap();
        let back = tok.decode(&ids, plain).unwrap();
        assert!(back == text.as_bytes(), "{name}: decode(encode(text)) differs");

        // with BOS/EOS as the model adds them, removed again by remove_special
        let with_special = tok.encode(&text, true, false).unwrap();
        let opts = DecodeOptions { remove_special: true, unparse_special: false };
        let back = tok.decode(&with_special, opts).unwrap();
        assert!(back == text.as_bytes(), "{name}: decode(encode(text, add_special)) differs");

        for (ids, opts) in [(&ids, plain), (&with_special, opts)] {
            let mut dec = tok.stream_decoder(opts);
            let mut streamed = String::new();
            let mut split_chars = 0;
            for &id in ids.iter() {
                let piece = tok.token_to_piece(id).unwrap();
                if std::str::from_utf8(piece).is_err() {
                    split_chars += 1;
                }
                let chunk = dec.push(id).unwrap();
                assert!(!chunk.contains('\u{FFFD}'), "{name}: replacement character emitted");
                streamed.push_str(&chunk);
            }
            streamed.push_str(&dec.finish());
            assert_eq!(streamed, text, "{name}: streamed text differs");
            println!(
                "stream {name}: {} ids, {split_chars} pieces not valid UTF-8 alone, text identical",
                ids.len()
            );
            assert!(split_chars > 0, "{name}: the text should contain characters split across tokens");
        }
    }
}
