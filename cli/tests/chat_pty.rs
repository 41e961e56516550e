//! `emberlm chat` as a person uses it, in a pseudo-terminal: three turns, Ctrl-C in the middle of
//! a reply, `/save`, `/reset` and `/load`; assertions on what the screen shows.
use std::time::Duration;

use expectrl::{Eof, Regex, Session};

#[test]
fn three_turns_with_ctrl_c_save_and_load() {
    let Some(model) = emberlm_tests::model_path(emberlm_tests::SMOLLM2) else { return };
    let dir = std::env::temp_dir().join(format!("emberlm-chat-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("talk.chat");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_emberlm"));
    cmd.arg("chat").arg("-m").arg(&model).args(["--temp", "0", "-c", "1024", "-n", "120"]);
    cmd.env("EMBERLM_HISTORY", dir.join("history"));
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(120)));

    p.expect("commands: /reset").unwrap();
    p.expect("> ").unwrap();
    // Turn 1: a short answer, streamed, then the stats line.
    p.send_line("Hi").unwrap();
    p.expect("How can I").unwrap();
    p.expect(Regex(r"\[eog \| prefill \d+ tokens \(0 reused\)")).unwrap();
    p.expect("> ").unwrap();

    // Turn 2: a long reply, stopped with Ctrl-C once some text has shown.
    p.send_line("Write a very long story about a dragon who learns to cook.").unwrap();
    // Wait for reply text, not the echo of the line just typed: Ctrl-C sent while the line editor
    // still has the terminal raw would be a key press at the prompt, not an interrupt.
    p.expect(Regex(r"cook\.[^\n]*\n[^>]*?[A-Za-z]+ [A-Za-z]+ [A-Za-z]+")).unwrap();
    p.send(expectrl::ControlCode::EndOfText).unwrap();
    p.expect("[interrupted]").unwrap();
    let m = p.expect(Regex(r"\[interrupted \| prefill \d+ tokens \((\d+) reused\)")).unwrap();
    let reused: usize = std::str::from_utf8(m.get(1).unwrap()).unwrap().parse().unwrap();
    assert!(reused > 0, "turn 2 must reuse turn 1's cache");
    p.expect("> ").unwrap();

    // Save, forget, load: the conversation (with the interrupted reply) comes back.
    p.send_line(format!("/save {}", saved.display())).unwrap();
    p.expect(Regex(r"saved the session to .* \(4 messages, \d+ tokens\)")).unwrap();
    p.send_line("/reset").unwrap();
    p.expect("[conversation reset]").unwrap();
    p.send_line(format!("/load {}", saved.display())).unwrap();
    let m = p.expect(Regex(r"loaded .*: 4 messages, (\d+) tokens in the context")).unwrap();
    let n: usize = std::str::from_utf8(m.get(1).unwrap()).unwrap().parse().unwrap();
    assert!(n > 20, "{n} tokens loaded");

    // Turn 3 continues on the loaded KV cache: most of the prompt is reused, not prefilled.
    p.send_line("What was my first question?").unwrap();
    let m = p.expect(Regex(r"\[(eog|length|context_full) \| prefill (\d+) tokens \((\d+) reused\)")).unwrap();
    let prefilled: usize = std::str::from_utf8(m.get(2).unwrap()).unwrap().parse().unwrap();
    let reused: usize = std::str::from_utf8(m.get(3).unwrap()).unwrap().parse().unwrap();
    assert!(reused >= n - 5 && prefilled < reused, "prefilled {prefilled}, reused {reused}, loaded {n}");
    p.expect("> ").unwrap();
    p.send_line("/exit").unwrap();
    p.expect(Eof).unwrap();
    assert!(dir.join("history").is_file(), "the line history is saved");
    let _ = std::fs::remove_dir_all(&dir);
}
