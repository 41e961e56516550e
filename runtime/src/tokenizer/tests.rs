//! Unit tests on small plain-data vocabularies (the llama.cpp comparisons live in
//! `runtime/tests/tokenizer_llama_cpp.rs`).

use alloc::string::String;
use alloc::vec::Vec;

use super::unicode::{byte_to_cpt, push_utf8};
use super::*;

/// GPT-2 byte-level form of a string.
fn gpt2(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in s.as_bytes() {
        push_utf8(byte_to_cpt(b), &mut out);
    }
    out
}

fn bpe_vocab(pre: &str) -> Tokenizer {
    let mut b = VocabBuilder::new("gpt2", Some(pre)).unwrap();
    // all 256 single bytes, then merged tokens
    for byte in 0..=255u8 {
        let mut t = Vec::new();
        push_utf8(byte_to_cpt(byte), &mut t);
        b.push_token(&t, 0.0, Some(1));
    }
    for t in ["he", "ll", "llo", "hello", " w", " wo", "rl", " worl", " world"] {
        b.push_token(&gpt2(t), 0.0, Some(1));
    }
    b.push_token(b"<|im_start|>", 0.0, Some(3));
    b.push_token(b"<ud>", 0.0, Some(4));
    for m in ["h e", "l l", "ll o", "he llo", "Ġ w", "Ġw o", "r l", "Ġwo rl", "Ġworl d"] {
        b.push_merge(m.as_bytes());
    }
    b.set_special(Special::Bos, 256 + 9);
    Tokenizer::new(b.build().unwrap())
}

fn ids_of(t: &Tokenizer, pieces: &[&str]) -> Vec<u32> {
    pieces.iter().map(|p| t.vocab().text_to_token(&gpt2(p)).unwrap()).collect()
}

#[test]
fn bpe_merges_by_rank() {
    let t = bpe_vocab("gpt-2");
    let ids = t.encode("hello world", false, false).unwrap();
    assert_eq!(ids, ids_of(&t, &["hello", " world"]));
    // no merge for "x" and "!": single bytes
    let ids = t.encode("hex!", false, false).unwrap();
    assert_eq!(ids, ids_of(&t, &["he", "x", "!"]));
    let text = t.decode(&ids, DecodeOptions::default()).unwrap();
    assert_eq!(text, b"hex!");
}

#[test]
fn special_tokens_parsed_only_when_asked() {
    let t = bpe_vocab("smollm");
    let st = 256 + 9;
    let with = t.encode("<|im_start|>hello", false, true).unwrap();
    assert_eq!(with[0], st);
    assert_eq!(&with[1..], ids_of(&t, &["hello"]));
    let without = t.encode("<|im_start|>hello", false, false).unwrap();
    assert!(!without.contains(&st));
    // user-defined tokens are always split out
    let ud = t.encode("a<ud>b", false, false).unwrap();
    assert_eq!(ud, [ids_of(&t, &["a"])[0], st + 1, ids_of(&t, &["b"])[0]]);
    // add_special: gpt2 vocabularies do not add BOS unless asked
    assert_eq!(t.encode("a", true, false).unwrap(), ids_of(&t, &["a"]));
}

#[test]
fn unknown_and_unsupported_are_errors() {
    assert_eq!(
        VocabBuilder::new("gpt2", Some("no-such-pre")).unwrap_err(),
        TokenizerError::UnknownPreTokenizer("no-such-pre".into())
    );
    assert!(matches!(
        VocabBuilder::new("gpt2", Some("kimi-k2")),
        Err(TokenizerError::UnsupportedPreTokenizer(_))
    ));
    assert!(matches!(VocabBuilder::new("bert", None), Err(TokenizerError::UnsupportedModel(_))));
    assert!(matches!(VocabBuilder::new("foo", None), Err(TokenizerError::UnknownModel(_))));
    assert_eq!(VocabBuilder::new("llama", None).unwrap().build().unwrap_err(), TokenizerError::EmptyVocab);
    let t = bpe_vocab("gpt-2");
    assert_eq!(t.token_to_piece(100_000).unwrap_err(), TokenizerError::TokenOutOfRange(100_000));
    let mut b = VocabBuilder::new("gpt2", Some("gpt-2")).unwrap();
    b.push_token(b"a", 0.0, None);
    b.push_token(b"a", 0.0, None);
    assert_eq!(b.build().unwrap_err(), TokenizerError::DuplicateToken(1));
}

fn spm_vocab(add_space_prefix: bool) -> Tokenizer {
    let mut b = VocabBuilder::new("llama", Some("default")).unwrap();
    b.push_token(b"<unk>", 0.0, Some(2));
    b.push_token(b"<s>", 0.0, Some(3));
    b.push_token(b"</s>", 0.0, Some(3));
    for byte in 0..=255u8 {
        b.push_token(alloc::format!("<0x{byte:02X}>").as_bytes(), 0.0, Some(6));
    }
    // scores: higher merges first
    let toks = [
        ("▁", -1.0),
        ("h", -2.0),
        ("e", -2.0),
        ("l", -2.0),
        ("o", -2.0),
        ("he", -3.0),
        ("ll", -1.5),
        ("llo", -4.0),
        ("hello", -5.0),
        ("▁hello", -6.0),
    ];
    for (t, s) in toks {
        b.push_token(t.as_bytes(), s, Some(1));
    }
    b.set_add_space_prefix(add_space_prefix);
    Tokenizer::new(b.build().unwrap())
}

#[test]
fn spm_merges_and_byte_fallback() {
    let t = spm_vocab(true);
    let id = |s: &str| t.vocab().text_to_token(s.as_bytes()).unwrap();
    assert_eq!(t.encode("hello", true, false).unwrap(), [1, id("▁hello")]);
    // 'é' has no token: byte fallback <0xC3> <0xA9>
    let ids = t.encode("hé", false, false).unwrap();
    assert_eq!(ids, [id("▁"), id("h"), 3 + 0xC3, 3 + 0xA9]);
    // leading space removed on decode, restored text
    let opts = DecodeOptions { remove_special: true, unparse_special: false };
    assert_eq!(t.decode(&ids, opts).unwrap(), "hé".as_bytes());
    let with_bos = t.encode("hé", true, false).unwrap();
    assert_eq!(t.decode(&with_bos, opts).unwrap(), " hé".as_bytes());
    let t2 = spm_vocab(false);
    assert_eq!(t2.encode("hello", false, false).unwrap(), [id("hello")]);
}

#[test]
fn stream_decoder_emits_whole_characters() {
    let t = spm_vocab(false);
    // "é" = C3 A9 as two byte tokens, then an invalid lone byte, then an incomplete one
    let ids = [3 + 0xC3, 3 + 0xA9, 3 + 0xFF, 3 + 0xE2];
    let mut d = t.stream_decoder(DecodeOptions::default());
    let mut parts: Vec<String> = Vec::new();
    for &id in &ids {
        parts.push(d.push(id).unwrap());
    }
    parts.push(d.finish());
    assert_eq!(parts, ["", "é", "\u{FFFD}", "", "\u{FFFD}"]);
    let all = t.decode(&ids, DecodeOptions::default()).unwrap();
    assert_eq!(parts.concat(), String::from_utf8_lossy(&all));
}

#[test]
fn stream_decoder_matches_clean_spaces() {
    let t = bpe_vocab("gpt-2"); // gpt-2 cleans spaces on decode
    let text = "he , said ' x ' it 's ok ? yes . a 're";
    let ids = t.encode(text, false, false).unwrap();
    let whole = t.decode(&ids, DecodeOptions::default()).unwrap();
    let mut d = t.stream_decoder(DecodeOptions::default());
    let mut s = String::new();
    for &id in &ids {
        s.push_str(&d.push(id).unwrap());
    }
    s.push_str(&d.finish());
    assert_eq!(s.as_bytes(), whole.as_slice());
    assert_ne!(whole, text.as_bytes());
}
