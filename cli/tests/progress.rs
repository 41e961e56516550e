//! Progress bars: drawn on stderr in a terminal, absent when stderr is a pipe and with
//! `--quiet` (so scripts, logs and the other tests see no progress noise).
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use expectrl::{Eof, Session};

fn emberlm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emberlm")).args(args).output().expect("run emberlm")
}

struct Files {
    dir: PathBuf,
    convert_args: Vec<String>,
    gguf: String,
    text: String,
}

/// The llama2c conversion of stories260K and a text of ~2000 tokens for it.
fn files(tag: &str) -> Files {
    let shared = emberlm_tests::repo_root().join("../shared/models/stories260K");
    let dir = std::env::temp_dir().join(format!("emberlm-progress-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gguf = dir.join("s.gguf").to_str().unwrap().to_string();
    let convert_args = vec![
        "convert".into(),
        "llama2c".into(),
        "--model".into(),
        shared.join("stories260K.bin").to_str().unwrap().into(),
        "--tokenizer".into(),
        shared.join("tok512.bin").to_str().unwrap().into(),
        "-o".into(),
        gguf.clone(),
    ];
    let story = std::fs::read_to_string(shared.join("greedy-once-upon-a-time.txt")).unwrap();
    let text = dir.join("text.txt").to_str().unwrap().to_string();
    std::fs::write(&text, story.repeat(12)).unwrap();
    Files { dir, convert_args, gguf, text }
}

/// Terminal control output a progress bar draws with (indicatif clears and redraws lines).
fn has_progress_noise(s: &str) -> bool {
    s.contains('\r') || s.contains('\x1b') || s.contains("[===") || s.contains("eta ")
}

#[test]
fn pipes_and_quiet_show_no_progress() {
    let f = files("pipe");
    let conv: Vec<&str> = f.convert_args.iter().map(String::as_str).collect();
    for quiet in [false, true] {
        let mut args = conv.clone();
        if quiet {
            args.push("--quiet");
        }
        let o = emberlm(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(out.starts_with("wrote ") && !has_progress_noise(&out), "{out:?}");
        assert!(!has_progress_noise(&err), "convert stderr (quiet {quiet}): {err:?}");

        let mut args = vec!["perplexity", "-m", &f.gguf, "-f", &f.text, "-c", "128"];
        if quiet {
            args.push("--quiet");
        }
        let o = emberlm(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(out.starts_with("Final estimate: PPL = "), "{out:?}");
        assert!(
            !has_progress_noise(&out) && !has_progress_noise(&err),
            "perplexity (quiet {quiet}): {err:?}"
        );
        if quiet {
            assert!(err.is_empty(), "--quiet leaves only the results: {err:?}");
        } else {
            assert!(err.contains("[1]") && err.contains("windows of 128 tokens"), "{err:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&f.dir);
}

/// Everything a command prints in a pseudo-terminal (stdout and stderr both go to it).
fn in_terminal(args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emberlm"));
    cmd.args(args);
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(120)));
    let seen = p.expect(Eof).expect("the command ends");
    String::from_utf8_lossy(seen.as_bytes()).into_owned()
}

#[test]
fn a_terminal_shows_progress_unless_quiet() {
    let f = files("tty");
    let conv: Vec<&str> = f.convert_args.iter().map(String::as_str).collect();
    assert!(in_terminal(&conv).contains("wrote "));
    // enough windows that the bar is drawn (indicatif draws at most 20 times a second)
    let ppl = ["perplexity", "-m", &f.gguf, "-f", &f.text, "-c", "64", "-b", "8"];
    let shown = in_terminal(&ppl);
    assert!(shown.contains("Final estimate: PPL = "), "{shown:?}");
    assert!(has_progress_noise(&shown) && shown.contains("PPL "), "a terminal shows the bar: {shown:?}");
    assert!(!shown.contains("[1]"), "the bar replaces the per-window lines: {shown:?}");
    let mut quiet = ppl.to_vec();
    quiet.push("--quiet");
    let shown = in_terminal(&quiet);
    assert!(shown.contains("Final estimate: PPL = "), "{shown:?}");
    assert!(!has_progress_noise(&shown.replace("\r\n", "\n")), "--quiet draws nothing: {shown:?}");
    let _ = std::fs::remove_dir_all(&f.dir);
}
