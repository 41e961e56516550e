//! The memory plan is the whole story: a session allocates what its plan says when it is
//! created, and decoding allocates nothing at all (counted by a global allocator).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use emberlm::convert::llama2c::WeightType;
use emberlm::models::Gguf;
use emberlm::{KvType, Model, Session, SessionOptions};
use support::stories_gguf;

struct Counting;

thread_local! {
    static ALLOCS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts this thread's calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| {
            let (n, b) = c.get();
            c.set((n + 1, b + layout.size()));
        });
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| {
            let (n, b) = c.get();
            c.set((n + 1, b + new_size));
        });
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> (usize, usize) {
    ALLOCS.with(Cell::get)
}

#[test]
fn sessions_allocate_their_plan_up_front_and_nothing_per_token() {
    for (wt, kv) in [(WeightType::F32, KvType::F16), (WeightType::Q8_0, KvType::F32)] {
        let file = stories_gguf(wt);
        let gguf = Gguf::parse(file.bytes()).unwrap();
        let model = Model::from_gguf(&gguf).unwrap();
        let plan = model.memory_plan(256, 32, kv).unwrap();

        let before = allocs();
        let s = Session::with_plan(&model, plan).unwrap();
        let after = allocs();
        let bytes = after.1 - before.1;
        // Exactly the planned buffers, plus the per-layer bookkeeping vector of the cache (440
        // bytes here: the plan counts the attention scratch itself too).
        let bookkeeping = bytes - plan.total_bytes();
        assert!(
            bytes >= plan.total_bytes() && bookkeeping <= 128 * model.config().n_layer(),
            "{wt:?}: {bytes} vs {plan:?}"
        );
        drop(s);
        // With a thread pool (started with the session) the products are split across threads;
        // the calling thread still allocates nothing per token, and the workers only run
        // borrowed closures over the plan's buffers.
        let mut s = Session::with_plan_threads(&model, plan, 2).unwrap();
        assert_eq!(s.n_threads(), 2);

        let prompt: Vec<u32> = (0..100).map(|i| (i * 7 + 3) % 512).collect();
        let start = allocs();
        let mut next = 1;
        s.prefill(&prompt).unwrap();
        for _ in 0..100 {
            let l = s.decode_step(next).unwrap();
            next = l.iter().enumerate().fold(0, |b, (i, &v)| if v > l[b] { i } else { b }) as u32;
        }
        s.truncate(10).unwrap();
        s.decode_step(next).unwrap();
        assert_eq!(allocs(), start, "{wt:?}: prefill/decode/truncate allocated");
        assert!(matches!(s.prefill(&[1; 300]), Err(emberlm::Error::ContextOverflow { .. })));
    }
    let _ = SessionOptions::default();
}
