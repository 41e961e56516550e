//! Chat templates rendered by minijinja against Hugging Face `transformers`' renderings
//! (`runtime/tests/fixtures/chat/expected.json`, made by `fixtures/chat/make.py`), and template
//! resolution from the real GGUF files (from `EMBERLM_MODELS`, default
//! `~/.cache/emberlm/models`; missing models print SKIPPED, or fail with
//! `EMBERLM_REQUIRE_MODELS=1`).

use std::path::PathBuf;

use emberlm::chat::{ChatError, ChatTemplate, Message, TemplateOrigin};
use emberlm::models::MappedFile;
use serde_json::Value as Json;

fn fixture() -> Json {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chat/expected.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("read fixture")).expect("parse fixture")
}

fn messages(v: &Json) -> Vec<Message> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| Message::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect()
}

fn template_for(fx: &Json, name: &str) -> ChatTemplate {
    let t = match fx["embedded_templates"].get(name) {
        Some(src) => ChatTemplate::new(src.as_str().unwrap()).unwrap(),
        None => ChatTemplate::named(name).unwrap(),
    };
    let sp = &fx["special_tokens"][name];
    t.with_special_tokens(sp["bos_token"].as_str(), sp["eos_token"].as_str())
        .with_time(fx["time"].as_i64().unwrap())
        .unwrap()
}

#[test]
fn renders_byte_identical_to_transformers() {
    let fx = fixture();
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 100, "fixture too small");
    let mut failures = Vec::new();
    let mut templates_seen = std::collections::BTreeSet::new();
    for c in cases {
        let name = c["template"].as_str().unwrap();
        templates_seen.insert(name.to_owned());
        let conv = c["conversation"].as_str().unwrap();
        let add_gen = c["add_generation_prompt"].as_bool().unwrap();
        let t = template_for(&fx, name);
        let got = t.render(&messages(&fx["conversations"][conv]), add_gen);
        match (c.get("expected").and_then(Json::as_str), c.get("error").and_then(Json::as_str), got) {
            (Some(want), _, Ok(got)) if got == want => {}
            (None, Some(err), Err(ChatError::Render(msg))) if msg.contains(err) => {}
            (want, err, got) => failures.push(format!(
                "{name} / {conv} / add_gen={add_gen}:\n  want {want:?} (error {err:?})\n  got  {got:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    // every built-in template is covered
    for n in ChatTemplate::names() {
        assert!(templates_seen.contains(n), "built-in template {n} has no fixture");
    }
}

#[test]
fn builtin_sources_are_the_fixture_sources() {
    // the fixture script reads the same files the crate embeds
    for n in ChatTemplate::names() {
        let p = format!("{}/src/chat/templates/{n}.jinja", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(ChatTemplate::named(n).unwrap().source(), std::fs::read_to_string(p).unwrap());
    }
}

#[test]
fn names_errors_and_custom_sources() {
    let e = ChatTemplate::named("nope").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("nope") && msg.contains("chatml") && msg.contains("gemma"), "{msg}");
    assert!(matches!(ChatTemplate::named("Gemma3").unwrap().origin(), TemplateOrigin::Named("gemma")));
    let t = ChatTemplate::named_or_source("{{ messages[0].content | upper }}").unwrap();
    assert_eq!(t.render(&[Message::user("hi")], false).unwrap(), "HI");
    assert!(matches!(ChatTemplate::new("{% for %}"), Err(ChatError::Syntax(_))));
    // python string methods and loop controls (pycompat, loop_controls)
    let t = ChatTemplate::new(
        "{% for m in messages %}{% if m.content.startswith('skip') %}{% continue %}{% endif %}\
         {{ m.content.strip().split(',')[0] }}|{% endfor %}",
    )
    .unwrap();
    let out =
        t.render(&[Message::user(" a,b "), Message::user("skip me"), Message::user("c")], false).unwrap();
    assert_eq!(out, "a|c|");
    // HF's tojson: no HTML escaping, Python separators, indent
    let t =
        ChatTemplate::new("{{ messages[0] | tojson }} {{ {'a': [1, 2.5, none, true]} | tojson(indent=2) }}")
            .unwrap();
    assert_eq!(
        t.render(&[Message::user("<é>")], false).unwrap(),
        "{\"role\": \"user\", \"content\": \"<é>\"} {\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}"
    );
}

fn require_models() -> bool {
    std::env::var("EMBERLM_REQUIRE_MODELS").is_ok_and(|v| v == "1")
}

fn model(name: &str) -> Option<MappedFile> {
    let dir = std::env::var_os("EMBERLM_MODELS").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm/models"),
        PathBuf::from,
    );
    let p = dir.join(name);
    if !p.exists() {
        assert!(!require_models(), "EMBERLM_REQUIRE_MODELS=1 but {} is missing", p.display());
        println!("SKIPPED: {} not found (set EMBERLM_MODELS)", p.display());
        return None;
    }
    Some(MappedFile::open(&p).unwrap())
}

#[test]
fn smollm2_embedded_template() {
    let Some(f) = model("SmolLM2-135M-Instruct.Q4_1.gguf") else { return };
    let g = f.gguf().unwrap();
    let fx = fixture();
    let t = ChatTemplate::from_gguf(&g, None).unwrap();
    assert_eq!(t.origin(), &TemplateOrigin::Embedded);
    assert!(t.notice().is_none());
    assert_eq!(t.source(), fx["embedded_templates"]["smollm2-gguf"].as_str().unwrap());
    assert_eq!((t.bos_token(), t.eos_token()), (Some("<|im_start|>"), Some("<|im_end|>")));
    let conv = messages(&fx["conversations"]["no_system"]);
    let want = fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["template"] == "smollm2-gguf"
                && c["conversation"] == "no_system"
                && c["add_generation_prompt"] == true
        })
        .unwrap()["expected"]
        .as_str()
        .unwrap();
    assert_eq!(t.render(&conv, true).unwrap(), want);
    // SmolLM2's tokenizer adds no BOS: the prompt is the rendering
    assert_eq!(t.render_prompt(&conv, true).unwrap(), want);
    // --chat-template overrides the embedded one
    let o = ChatTemplate::from_gguf(&g, Some("qwen2")).unwrap();
    assert_eq!(o.origin(), &TemplateOrigin::Named("qwen2"));
}

#[test]
fn gemma3_without_template_falls_back_with_a_notice() {
    let Some(f) = model("gemma-3-270m-q4_k_m.gguf") else { return };
    let g = f.gguf().unwrap();
    let t = ChatTemplate::from_gguf(&g, None).unwrap();
    assert_eq!(t.origin(), &TemplateOrigin::Fallback("chatml"));
    let notice = t.notice().expect("a notice for the fallback");
    assert!(notice.contains("no chat template") && notice.contains("--chat-template gemma"), "{notice}");

    let t = ChatTemplate::from_gguf(&g, Some("gemma")).unwrap();
    assert_eq!((t.bos_token(), t.eos_token()), (Some("<bos>"), Some("<eos>")));
    let conv = [Message::system("Be brief."), Message::user("Hi")];
    let full = t.render(&conv, true).unwrap();
    assert_eq!(full, "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
    // Gemma's tokenizer adds BOS itself: the prompt text drops the template's <bos>
    assert_eq!(t.render_prompt(&conv, true).unwrap(), &full["<bos>".len()..]);
}
