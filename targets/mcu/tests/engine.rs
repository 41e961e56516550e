//! The MCU engine on the host, with stories260K: output identical to the path `emberlm run`
//! takes (and, with f32 weights, to llama2.c's own greedy output), nothing allocated per token,
//! and the serial chat transcript over an in-memory port.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;

use emberlm::convert::llama2c::{self, WeightType};
use emberlm::models::Gguf;
use emberlm::sampler::{SamplerChain, SamplerParams};
use emberlm::tokenizer::{DecodeOptions, Tokenizer};
use emberlm::{Model, Session, SessionOptions};
use emberlm_mcu::clock::NoClock;
use emberlm_mcu::{Engine, EngineOptions, SerialChat};

struct Counting;

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts this thread's calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn calls() -> usize {
    CALLS.with(Cell::get)
}

fn stories(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("EMBERLM_STORIES260K").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models/stories260K"))
    });
    std::fs::read(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e} (set EMBERLM_STORIES260K)", dir.display()))
}

/// GGUF bytes in 8-byte-aligned storage.
fn gguf(ty: WeightType) -> Vec<u64> {
    let b = llama2c::convert(&stories("stories260K.bin"), &stories("tok512.bin"), ty).unwrap();
    let mut w = vec![0u64; b.len().div_ceil(8)];
    for (i, &x) in b.iter().enumerate() {
        w[i / 8] |= u64::from(x) << (8 * (i % 8));
    }
    // Trailing padding bytes are zero and past the file: GGUF ignores them.
    w
}

fn as_bytes(w: &[u64]) -> &[u8] {
    // SAFETY: u64 storage viewed as its bytes (u8 has no alignment or validity requirement).
    unsafe { std::slice::from_raw_parts(w.as_ptr().cast::<u8>(), w.len() * 8) }
}

/// What `emberlm run -p PROMPT -n N --temp 0` prints after the prompt: a session with the
/// runtime's default batch, the greedy chain and the runtime's stream decoder.
fn host_reference(bytes: &[u8], prompt: &str, n: usize, n_ctx: usize) -> String {
    let g = Gguf::parse(bytes).unwrap();
    let model = Model::from_gguf(&g).unwrap();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let mut s = Session::new(&model, SessionOptions { n_ctx, ..Default::default() }).unwrap();
    let ids = tok.encode(prompt, true, true).unwrap();
    let mut sampler = SamplerChain::from_params(&SamplerParams::greedy());
    let mut logits = s.prefill(&ids).unwrap().to_vec();
    let mut dec = tok.stream_decoder(DecodeOptions { remove_special: false, unparse_special: false });
    let mut out = String::new();
    for i in 0..n {
        let next = sampler.sample(&logits).unwrap();
        if tok.vocab().is_eog(next) {
            break;
        }
        out += &dec.push(next).unwrap();
        if i + 1 == n {
            break;
        }
        logits = s.decode_step(next).unwrap().to_vec();
    }
    out + &dec.finish()
}

fn mcu_generate(bytes: &[u8], prompt: &str, n: usize, opts: &EngineOptions) -> (String, usize) {
    let engine = Engine::open(bytes, opts).unwrap();
    let mut generator = engine.generator().unwrap();
    // Warm the output buffer so that its growth is not counted.
    let mut out = Port { input: Vec::new(), pos: 0, output: Vec::with_capacity(4096) };
    let before = calls();
    let stats = generator.generate(prompt, n, &mut out, &NoClock).unwrap();
    let during = calls() - before;
    // What tokenizing the prompt alone costs (the only allocations allowed after init).
    let before = calls();
    drop(engine.tokenizer().encode(prompt, true, true).unwrap());
    let encode = calls() - before;
    assert_eq!(during, encode, "generate allocated {during} times, prompt encoding alone {encode}");
    assert!(stats.tokens <= n && stats.prompt_tokens > 1);
    (String::from_utf8(out.output).unwrap(), stats.tokens)
}

#[test]
fn q8_0_story_matches_the_cli_path_and_allocates_nothing_per_token() {
    let file = gguf(WeightType::Q8_0);
    let bytes = as_bytes(&file);
    for prompt in ["Once upon a time", "Tom and Lily"] {
        let want = host_reference(bytes, prompt, 100, 256);
        for n_batch in [1, 4, 64] {
            let opts = EngineOptions { n_batch, ..EngineOptions::default() };
            let (got, n) = mcu_generate(bytes, prompt, 100, &opts);
            assert_eq!(got, want, "prompt {prompt:?}, n_batch {n_batch}");
            assert_eq!(n, 100);
        }
    }
}

#[test]
fn f32_story_matches_llama2c() {
    let file = gguf(WeightType::F32);
    let want = String::from_utf8(stories("greedy-once-upon-a-time.txt")).unwrap();
    let opts = EngineOptions { kv_type: emberlm::KvType::F32, ..EngineOptions::default() };
    let (got, _) = mcu_generate(as_bytes(&file), "Once upon a time", 60, &opts);
    let full = format!("Once upon a time{got}");
    assert!(want.starts_with(&full), "llama2.c: {want:?}\nmcu:      {full:?}");
    assert!(got.len() > 150);
}

/// An in-memory serial port: reads from a script, records what is written.
struct Port {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
}

impl embedded_io::ErrorType for Port {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.input.len() - self.pos).min(3);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl embedded_io::Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn serial_chat_answers_each_line_in_a_fresh_context() {
    let file = gguf(WeightType::Q8_0);
    let bytes = as_bytes(&file);
    let engine = Engine::open(bytes, &EngineOptions::default()).unwrap();
    let mut generator = engine.generator().unwrap();
    let long = "x".repeat(40);
    let mut input = format!("Once upon a time\r\nTom and Lily\n{long}\n").into_bytes();
    input.extend_from_slice(b"\xff\nOnce upon a time\n\nignored\n");
    let port = Port { input, pos: 0, output: Vec::new() };
    let mut chat: SerialChat<Port, 32> = SerialChat::new(port);
    let totals = chat.run(&mut generator, 30, &NoClock).unwrap();
    assert_eq!((totals.turns, totals.tokens), (3, 90));
    let out = String::from_utf8_lossy(&chat.into_inner().output).into_owned();
    let a = host_reference(bytes, "Once upon a time", 30, 256);
    let b = host_reference(bytes, "Tom and Lily", 30, 256);
    let want = format!(
        "emberlm serial chat (context 256): one prompt per line, an empty line ends\n\
         > Once upon a time{a}\n[30 tokens]\n\
         > Tom and Lily{b}\n[30 tokens]\n\
         > \n[error: the line is longer than 32 bytes]\n\
         > [error: the line is not UTF-8]\n\
         > Once upon a time{a}\n[30 tokens]\n\
         > \nbye\n"
    );
    assert_eq!(out, want);
}
