//! `emberlm run --beams N`: width 1 prints exactly what greedy sampling prints, width 4 prints
//! the best hypothesis of the library's beam search, deterministically; bad flags are errors.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use emberlm::models::MappedFile;
use emberlm::sampler::{BeamParams, beam_search_session};
use emberlm::tokenizer::{DecodeOptions, Tokenizer};
use emberlm::{Model, Session, SessionOptions};

fn emberlm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emberlm")).args(args).output().expect("run emberlm")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout")
}

/// stories260K converted by `emberlm convert` (f32) into a per-test file.
fn stories(tag: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("emberlm-beams-{tag}-{}.gguf", std::process::id()));
    let args = emberlm_tests::convert_stories260k_args(out.to_str().unwrap());
    ok(&emberlm(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    out
}

/// What `run --beams width` must print: the prompt and the library's best hypothesis.
fn library_beams(model_path: &Path, prompt: &str, width: usize, n: usize, alpha: f64) -> String {
    let file = MappedFile::open(model_path).unwrap();
    let gguf = file.gguf().unwrap();
    let model = Model::from_gguf(&gguf).unwrap();
    let tok = Tokenizer::from_gguf(&gguf).unwrap();
    let ids = tok.encode(prompt, true, true).unwrap();
    let mut s = Session::new(&model, SessionOptions { n_ctx: ids.len() + n, ..Default::default() }).unwrap();
    let eos = (0..tok.vocab().len() as u32).filter(|&t| tok.vocab().is_eog(t)).collect();
    let p = BeamParams { width, max_tokens: n, length_penalty: alpha, eos };
    let r = beam_search_session(&mut s, &ids, &p).unwrap();
    let best: Vec<u32> =
        r.best().unwrap().tokens.iter().copied().filter(|&t| !tok.vocab().is_eog(t)).collect();
    let mut d = tok.stream_decoder(DecodeOptions { remove_special: false, unparse_special: false });
    let mut text = prompt.to_string();
    for t in best {
        text.push_str(d.push_text(t).unwrap());
    }
    text.push_str(d.finish_text());
    text + "\n"
}

#[test]
fn stories260k_beams() {
    let m = stories("s");
    let m_str = m.to_str().unwrap();
    let prompt = "Once upon a time";
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "-m", m_str, "-p", prompt, "-n", "48"];
        a.extend_from_slice(extra);
        emberlm(&a)
    };
    let greedy = ok(&run(&["--temp", "0"]));
    let b1 = run(&["--beams", "1"]);
    assert_eq!(ok(&b1), greedy, "--beams 1 is greedy decoding");
    let b4 = run(&["--beams", "4"]);
    let out4 = ok(&b4);
    let err4 = String::from_utf8_lossy(&b4.stderr);
    assert!(err4.contains("beam search: 4 beams, length penalty 1,"), "{err4}");
    assert!(out4.starts_with(prompt) && out4.len() > prompt.len() + 20, "{out4:?}");
    assert_eq!(out4, library_beams(&m, prompt, 4, 48, 1.0), "the CLI prints the library's best hypothesis");
    assert_eq!(ok(&run(&["--beams", "4"])), out4, "deterministic");
    let short = ok(&run(&["--beams", "4", "--length-penalty", "0"]));
    assert_eq!(short, library_beams(&m, prompt, 4, 48, 0.0));
    println!("greedy: {greedy}beam-4: {out4}beam-4, alpha 0: {short}");

    // bad requests: clear errors, no panic
    let e = run(&["--beams", "0"]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("--beams must be at least 1"));
    let e = emberlm(&["run", "-m", m_str, "-p", prompt, "--length-penalty", "2"]);
    assert!(!e.status.success(), "--length-penalty needs --beams");
    let e = emberlm(&["run", "-m", m_str, "-p", prompt, "--beams", "2", "-c", "8", "-n", "64"]);
    let out = ok(&e);
    assert!(String::from_utf8_lossy(&e.stderr).contains("context of 8 tokens is full"), "{out}");
    let _ = std::fs::remove_file(&m);
}

#[test]
fn smollm2_beams() {
    let Some(m) = emberlm_tests::model_path(emberlm_tests::SMOLLM2) else { return };
    let m_str = m.to_str().unwrap();
    let prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "-m", m_str, "-p", prompt, "-n", "20"];
        a.extend_from_slice(extra);
        emberlm(&a)
    };
    assert_eq!(ok(&run(&["--beams", "1"])), ok(&run(&["--temp", "0"])), "--beams 1 is greedy decoding");
    let out = ok(&run(&["--beams", "4"]));
    println!("{out}");
    assert!(out.contains("Paris"), "{out}");
    assert_eq!(out, library_beams(&m, prompt, 4, 20, 1.0));
}

/// The sampler flags `run` and `chat` share (one clap struct): the new llama.cpp ones work and a
/// bias for a token outside the vocabulary is a clear error.
#[test]
fn shared_sampler_flags() {
    let m = stories("flags");
    let m_str = m.to_str().unwrap();
    let prompt = "Once upon a time";
    let greedy = ok(&emberlm(&["run", "-m", m_str, "-p", prompt, "-n", "8", "--temp", "0"]));
    assert!(greedy.starts_with("Once upon a time,"), "{greedy:?}");
    let file = MappedFile::open(&m).unwrap();
    let tok = Tokenizer::from_gguf(&file.gguf().unwrap()).unwrap();
    let comma = *tok.encode(",", false, false).unwrap().last().unwrap();
    let ban = format!("{comma}-inf");
    let banned = ok(&emberlm(&["run", "-m", m_str, "-p", prompt, "-n", "8", "--temp", "0", "-l", &ban]));
    assert!(banned.starts_with(prompt) && !banned.starts_with("Once upon a time,"), "{banned:?}");
    let e = emberlm(&["run", "-m", m_str, "-p", prompt, "-n", "8", "--logit-bias", "100000+1"]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("outside the vocabulary"));
    let e = emberlm(&["run", "-m", m_str, "-p", prompt, "-l", "5"]);
    assert!(!e.status.success(), "malformed --logit-bias");
    // seeded sampling with the extra samplers is reproducible
    let args = ["run", "-m", m_str, "-p", prompt, "-n", "24", "--seed", "7", "--typical", "0.9"];
    let a = ok(&emberlm(&[&args[..], &["--frequency-penalty", "0.5", "--presence-penalty", "0.5"]].concat()));
    let b = ok(&emberlm(&[&args[..], &["--frequency-penalty", "0.5", "--presence-penalty", "0.5"]].concat()));
    assert_eq!(a, b);
    let help = ok(&emberlm(&["chat", "--help"]));
    for flag in
        ["--temp", "--top-k", "--typical", "--logit-bias", "--repeat-penalty", "--threads", "--ctx-size"]
    {
        assert!(help.contains(flag), "chat lacks {flag}");
    }
    let _ = std::fs::remove_file(&m);
}
