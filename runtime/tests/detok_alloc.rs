//! `StreamDecoder::push_text` streams the same text as `Tokenizer::decode` and, once its buffers
//! have grown, allocates nothing per token (counted by a global allocator).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use emberlm::convert::llama2c::WeightType;
use emberlm::models::{Gguf, MappedFile};
use emberlm::tokenizer::{DecodeOptions, Tokenizer};
use support::stories_gguf;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts this thread's calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

/// Stream `ids` twice through one decoder: the text must equal `decode`'s both times, and the
/// second pass (buffers already grown) must not allocate. The text is collected into a
/// pre-sized buffer so that only the decoder's own allocations are counted.
fn check(tok: &Tokenizer, ids: &[u32], opts: DecodeOptions) {
    let whole = String::from_utf8_lossy(&tok.decode(ids, opts).unwrap()).into_owned();
    let mut d = tok.stream_decoder(opts);
    let mut text = String::with_capacity(4 * whole.len() + 64);
    for pass in 0..2 {
        text.clear();
        let before = allocs();
        for &id in ids {
            text.push_str(d.push_text(id).unwrap());
        }
        text.push_str(d.finish_text());
        let n = allocs() - before;
        assert_eq!(text, whole, "pass {pass}");
        if pass == 1 {
            assert_eq!(n, 0, "{n} allocations streaming {} tokens", ids.len());
        }
    }
    // the owning API gives the same text
    let mut d = tok.stream_decoder(opts);
    let mut owned: String = ids.iter().map(|&id| d.push(id).unwrap()).collect();
    owned.push_str(&d.finish());
    assert_eq!(owned, whole);
}

#[test]
fn stories260k_sentencepiece_streams_without_allocating() {
    let file = stories_gguf(WeightType::F32);
    let gguf = Gguf::parse(file.bytes()).unwrap();
    let tok = Tokenizer::from_gguf(&gguf).unwrap();
    let ids = tok
        .encode("Once upon a time, Lily's dog saw a big red ball. \"Wow!\" she said. ü", true, false)
        .unwrap();
    for opts in [DecodeOptions::default(), DecodeOptions { remove_special: true, unparse_special: false }] {
        check(&tok, &ids, opts);
    }
}

#[test]
fn smollm2_bpe_with_clean_spaces_streams_without_allocating() {
    let dir = std::env::var_os("EMBERLM_MODELS").map_or_else(
        || {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/emberlm/models")
        },
        std::path::PathBuf::from,
    );
    let path = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.is_file() {
        assert!(
            std::env::var("EMBERLM_REQUIRE_MODELS").map_or(true, |v| v != "1"),
            "{} missing",
            path.display()
        );
        println!("SKIPPED: {} not found", path.display());
        return;
    }
    let file = MappedFile::open(&path).unwrap();
    let tok = Tokenizer::from_gguf(&file.gguf().unwrap()).unwrap();
    let text = "<|im_start|>user\nhe , said ' x ' it 's ok ? Ünïcödé 日本語 🦀<|im_end|>\n";
    let ids = tok.encode(text, true, true).unwrap();
    for opts in [DecodeOptions::default(), DecodeOptions { remove_special: true, unparse_special: false }] {
        check(&tok, &ids, opts);
    }
}
