//! `emberlm chat` driven by a script: pipe mode (stdin not a terminal) and `--json`.
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn chat(args: &[&str], input: &str) -> (String, String, bool) {
    let model = emberlm_tests::model_path(emberlm_tests::SMOLLM2).expect("checked by the caller");
    let mut child = Command::new(env!("CARGO_BIN_EXE_emberlm"))
        .arg("chat")
        .arg("-m")
        .arg(model)
        .args(["--temp", "0"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.success())
}

fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn pipe_mode_answers_each_line() {
    if emberlm_tests::model_path(emberlm_tests::SMOLLM2).is_none() {
        return;
    }
    let (out, err, ok) = chat(&["-c", "512", "-n", "24"], "What is 2+2?\nAnd 3+3?\n");
    assert!(ok, "{err}");
    let replies: Vec<&str> = out.split('\n').filter(|l| !l.trim().is_empty()).collect();
    assert!(replies.len() >= 2, "two replies expected, got {out:?}");
    assert!(out.contains('4'), "{out}");
    assert!(!out.contains("<|im_"), "special tokens leaked: {out}");
}

#[test]
fn json_events_reuse_the_cache_and_report_errors() {
    if emberlm_tests::model_path(emberlm_tests::SMOLLM2).is_none() {
        return;
    }
    let (out, err, ok) =
        chat(&["-c", "512", "-n", "24", "--json"], "Hi\nWhat is 2+2?\n/load /nonexistent/x\n");
    assert!(ok, "{err}");
    let ev = events(&out);
    let ends: Vec<&Value> = ev.iter().filter(|e| e["event"] == "turn_end").collect();
    assert_eq!(ends.len(), 2, "{out}");
    assert!(ev.iter().any(|e| e["event"] == "token" && e["text"].is_string() && e["id"].is_u64()));
    // The concatenated token texts are the reply.
    let first: String = ev
        .iter()
        .take_while(|e| e["event"] != "turn_end")
        .filter(|e| e["event"] == "token")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(first, ends[0]["text"].as_str().unwrap());
    let s1 = &ends[0]["stats"];
    let s2 = &ends[1]["stats"];
    assert_eq!(s1["reused_tokens"], 0);
    // Turn 2 reuses turn 1's tokens from the cache and prefills only the new part.
    assert!(s2["reused_tokens"].as_u64().unwrap() >= s1["prompt_tokens"].as_u64().unwrap(), "{s2}");
    assert!(s2["prefilled_tokens"].as_u64().unwrap() < 30, "{s2}");
    let e = ev.iter().find(|e| e["event"] == "error").expect("an error event");
    assert!(e["message"].as_str().unwrap().contains("/nonexistent/x"));
}

#[test]
fn full_context_drops_old_turns_and_stop_strings_cut() {
    if emberlm_tests::model_path(emberlm_tests::SMOLLM2).is_none() {
        return;
    }
    let input = "Tell me a story.\nTell me another story.\nOne more please.\nAnd a last one.\n";
    let (out, err, ok) = chat(&["-c", "128", "--json"], input);
    assert!(ok, "{err}");
    let ev = events(&out);
    assert_eq!(ev.iter().filter(|e| e["event"] == "turn_end").count(), 4, "{out}");
    assert!(ev.iter().any(|e| e["event"] == "turn_end" && e["reason"] == "context_full"), "{out}");
    assert!(
        ev.iter().any(|e| e["event"] == "info" && e["message"].as_str().unwrap().contains("dropped")),
        "{out}"
    );
    // Stop strings: cut the greedy reply at a word it contains.
    let (out, _, _) = chat(&["-c", "256", "-n", "30", "--json"], "Tell me a story.\n");
    let full = events(&out).into_iter().find(|e| e["event"] == "turn_end").unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    let word: String = full.split_whitespace().nth(3).expect("a few words").to_string();
    let (out, _, _) = chat(&["-c", "256", "-n", "30", "--json", "--stop", &word], "Tell me a story.\n");
    let end = events(&out).into_iter().find(|e| e["event"] == "turn_end").unwrap();
    assert_eq!(end["reason"], "stop", "{end}");
    let cut = end["text"].as_str().unwrap();
    assert!(full.starts_with(cut) && !cut.contains(&word), "{cut:?} vs {full:?}");
}

#[test]
fn saved_session_continues_exactly_in_a_new_process() {
    if emberlm_tests::model_path(emberlm_tests::SMOLLM2).is_none() {
        return;
    }
    let file = std::env::temp_dir().join(format!("emberlm-chat-pipe-{}.chat", std::process::id()));
    let f = file.display();
    let args = ["-c", "512", "-n", "24", "--json"];
    let (a, err, ok) = chat(&args, &format!("Hi\n/save {f}\nWhat is 2+2?\n"));
    assert!(ok, "{err}");
    // A new process that did not run "Hi" gets the same KV cache from the file: the greedy reply
    // and the tokens prefilled are those of the process that ran it.
    let (b, err, ok) = chat(&args, &format!("/load {f}\nWhat is 2+2?\n"));
    assert!(ok, "{err}");
    let last = |out: &str| events(out).into_iter().rfind(|e| e["event"] == "turn_end").unwrap();
    let (ea, eb) = (last(&a), last(&b));
    assert_eq!(ea["text"], eb["text"]);
    assert_eq!(ea["stats"]["reused_tokens"], eb["stats"]["reused_tokens"]);
    assert_eq!(ea["stats"]["prefilled_tokens"], eb["stats"]["prefilled_tokens"]);
    assert!(eb["stats"]["reused_tokens"].as_u64().unwrap() > 20, "{eb}");
    // A damaged file is refused with an error event, and the chat goes on.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 7]).unwrap();
    let (c, _, ok) = chat(&args, &format!("/load {f}\nHi\n"));
    assert!(ok);
    let ev = events(&c);
    assert!(ev.iter().any(|e| e["event"] == "error"), "{c}");
    assert!(ev.iter().any(|e| e["event"] == "turn_end"), "{c}");
    let _ = std::fs::remove_file(&file);
}
