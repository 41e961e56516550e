//! Shared helpers of the forward-pass tests: the stories260K files, converted GGUFs held in
//! aligned memory, greedy decoding exactly as llama2.c's `run.c` does it.
#![allow(dead_code)]

use std::path::PathBuf;

use emberlm::convert::llama2c::{self, WeightType};
use emberlm::models::Gguf;
use emberlm::tokenizer::Tokenizer;
use emberlm::{Model, Session, SessionOptions};

/// `$EMBERLM_STORIES260K`, else `../shared/models/stories260K` next to the repository.
pub fn stories_dir() -> PathBuf {
    std::env::var_os("EMBERLM_STORIES260K").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/models/stories260K"))
    })
}

pub fn read_stories(name: &str) -> Vec<u8> {
    let p = stories_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set EMBERLM_STORIES260K to the directory holding the stories260K files)",
            p.display()
        )
    })
}

/// Bytes in 8-byte-aligned storage, as an mmap'd file would be (block views need alignment).
pub struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self { words, len: bytes.len() }
    }

    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }
}

/// stories260K converted to GGUF with weights of type `ty`.
pub fn stories_gguf(ty: WeightType) -> Aligned {
    let bytes =
        llama2c::convert(&read_stories("stories260K.bin"), &read_stories("tok512.bin"), ty).expect("convert");
    Aligned::new(&bytes)
}

/// llama2.c's `sample_argmax`: the first index of the maximum.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// llama2.c's `generate` with temperature 0: the prompt (BOS first) counts towards `steps`
/// forward passes; stops early if BOS is produced. Returns every token after BOS.
pub fn greedy(session: &mut Session<'_, '_>, prompt: &[u32], steps: usize) -> Vec<u32> {
    let mut out: Vec<u32> = prompt[1..].to_vec();
    let mut next = argmax(session.prefill(prompt).expect("prefill"));
    let mut pos = prompt.len();
    loop {
        if next == 1 {
            break;
        }
        out.push(next);
        if pos >= steps {
            break;
        }
        next = argmax(session.decode_step(next).expect("decode"));
        pos += 1;
    }
    out
}

/// llama2.c's `decode` + `safe_printf` over the GGUF vocabulary (`▁` is a space): a piece after
/// BOS loses its leading space, `<0xNN>` is the raw byte, unprintable single bytes are dropped.
pub fn run_c_text(tok: &Tokenizer, tokens: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = 1u32;
    for &t in tokens {
        let text = tok.vocab().token_text(t).expect("token id");
        let mut piece = String::from_utf8_lossy(text).replace('\u{2581}', " ").into_bytes();
        if prev == 1 && piece.first() == Some(&b' ') {
            piece.remove(0);
        }
        if let Some(hex) = piece.strip_prefix(b"<0x").and_then(|r| r.strip_suffix(b">"))
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
        {
            piece = vec![b];
        }
        let printable = |b: u8| b.is_ascii_graphic() || b == b' ' || (b'\t'..=b'\r').contains(&b);
        if piece.len() != 1 || printable(piece[0]) {
            out.extend_from_slice(&piece);
        }
        prev = t;
    }
    out
}

/// Parse, bind and tokenize: the model, its tokenizer, and the prompt's tokens (BOS first).
pub fn load<'a>(gguf: &Gguf<'a>) -> (Model<'a>, Tokenizer) {
    let model = Model::from_gguf(gguf).expect("bind model");
    let tok = Tokenizer::from_gguf(gguf).expect("tokenizer");
    (model, tok)
}

pub fn session<'m, 'a>(model: &'m Model<'a>, opts: SessionOptions) -> Session<'m, 'a> {
    Session::new(model, opts).expect("session")
}

/// The SmolLM2 GGUF from `$EMBERLM_MODELS` (default `~/.cache/emberlm/models`), or `None` after
/// printing SKIPPED; absent with `EMBERLM_REQUIRE_MODELS=1` is a failure (as in emberlm-tests,
/// which this crate does not depend on).
#[allow(dead_code)] // not every test file uses it
pub fn smollm2() -> Option<PathBuf> {
    real_model("SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// A real model's GGUF `name`, as [`smollm2`].
#[allow(dead_code)] // not every test file uses it
pub fn real_model(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("EMBERLM_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm/models")
    });
    let p = dir.join(name);
    if p.is_file() {
        return Some(p);
    }
    assert!(std::env::var("EMBERLM_REQUIRE_MODELS").as_deref() != Ok("1"), "{} is missing", p.display());
    println!("SKIPPED: {} not found", p.display());
    None
}
