//! Sessions on stories260K: batched prefill against token-by-token decoding, rewinding, context
//! overflow and bad tokens; weight binding errors; the tied-output and RoPE-factor paths.

mod support;

use emberlm::convert::llama2c::WeightType;
use emberlm::models::{ConfigError, Gguf, GgufWriter, Hparams, MappedFile, QuantType, Value};
use emberlm::tokenizer::Tokenizer;
use emberlm::{Error, KvType, Model, SessionOptions};
use support::{Aligned, read_stories, real_model, session, stories_gguf};

/// Tokens of llama2.c's reference story (a natural sequence; no output of ours involved).
fn story_tokens(gguf: &Gguf<'_>) -> Vec<u32> {
    let tok = Tokenizer::from_gguf(gguf).unwrap();
    let text = String::from_utf8(read_stories("greedy-once-upon-a-time.txt")).unwrap();
    let t = tok.encode(&text, true, false).unwrap();
    assert!(t.len() > 100);
    t
}

fn opts(n_ctx: usize, n_batch: usize, kv_type: KvType) -> SessionOptions {
    SessionOptions { n_ctx, n_batch, kv_type, ..Default::default() }
}

/// Batched prefill against token-by-token decoding.
///
/// Every output row of a batched weight product is the same `vec_dot` of the same quantized
/// activation row as in a one-token product, but attention is not batch-invariant, on purpose:
/// llama.cpp computes a batch's attention products (f16 or f32 cache) with llamafile's tinyBLAS
/// and a single token's with `ggml_vec_dot_f16`, which sum in different orders, and we reproduce
/// both (`emberlm_quant::lanes::DotOrder`). So the stated tolerance is `LOGIT_TOL` on every logit
/// (a q8_0 cache, which is batch-invariant, needs head sizes stories260K does not have).
#[test]
fn batched_prefill_against_token_by_token() {
    const LOGIT_TOL: f32 = 2e-2;
    for (wt, kv) in
        [(WeightType::F32, KvType::F16), (WeightType::Q8_0, KvType::F16), (WeightType::Q8_0, KvType::F32)]
    {
        let mut worst = 0f32;
        let mut same = |a: &[f32], b: &[f32], what: &str| {
            let max_diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            worst = worst.max(max_diff);
            assert!(max_diff <= LOGIT_TOL, "{wt:?} {kv:?}: {what} differs from decoding by {max_diff}");
        };
        let file = stories_gguf(wt);
        let gguf = Gguf::parse(file.bytes()).unwrap();
        let model = Model::from_gguf(&gguf).unwrap();
        let seq = story_tokens(&gguf);
        let n_max = 100;

        let mut step = session(&model, opts(128, 512, kv));
        let stepwise: Vec<Vec<f32>> =
            seq[..n_max].iter().map(|&t| step.decode_step(t).unwrap().to_vec()).collect();
        for n in [1, 2, 17, 64, 100] {
            for n_batch in [512, 7] {
                let mut s = session(&model, opts(128, n_batch, kv));
                let batched = s.prefill(&seq[..n]).unwrap().to_vec();
                assert_eq!(s.n_past(), n);
                same(&batched, &stepwise[n - 1], &format!("prefill of {n} tokens (batch {n_batch})"));
            }
        }
        // Logits of every position from a batch (perplexity's path) against decoding's, for an
        // output range starting inside the first chunk, at a chunk boundary and in a later chunk.
        for (first, n_batch) in [(0, 512), (50, 512), (35, 7), (49, 7), (99, 16)] {
            let mut s = session(&model, opts(128, n_batch, kv));
            let n_vocab = model.config().n_vocab;
            let mut out = vec![0f32; (n_max - first) * n_vocab];
            s.prefill_logits(&seq[..n_max], first, &mut out).unwrap();
            for (i, row) in out.chunks_exact(n_vocab).enumerate() {
                same(row, &stepwise[first + i], &format!("logits of position {}", first + i));
            }
            same(s.logits(), &stepwise[n_max - 1], "last logits");
            assert!(s.prefill_logits(&seq[..4], 4, &mut out).is_err(), "first past the input");
        }
        // Prefill then decode continues as decoding all along.
        let mut s = session(&model, opts(128, 512, kv));
        s.prefill(&seq[..40]).unwrap();
        for (i, &t) in seq[40..n_max].iter().enumerate() {
            same(s.decode_step(t).unwrap(), &stepwise[40 + i], &format!("decode step {}", 40 + i));
        }
        println!("{wt:?} {kv:?}: largest logit difference batched vs token by token {worst:e}");
    }
}

#[test]
fn truncate_rewinds_and_errors_leave_the_session_unchanged() {
    let file = stories_gguf(WeightType::F32);
    let gguf = Gguf::parse(file.bytes()).unwrap();
    let model = Model::from_gguf(&gguf).unwrap();
    let seq = story_tokens(&gguf);
    let mut s = session(&model, opts(64, 16, KvType::F16));

    s.prefill(&seq[..50]).unwrap();
    let first = s.decode_step(seq[50]).unwrap().to_vec();
    s.decode_step(seq[51]).unwrap();
    s.truncate(50).unwrap();
    assert_eq!(s.n_past(), 50);
    assert_eq!(s.decode_step(seq[50]).unwrap(), first.as_slice(), "rewound decoding must repeat itself");
    assert_eq!(s.truncate(52), Err(Error::TruncateBeyondEnd { n: 52, n_past: 51 }));

    // Context overflow is an error and changes nothing.
    s.prefill(&seq[51..64]).unwrap();
    assert_eq!(s.n_past(), 64);
    assert_eq!(s.decode_step(1), Err(Error::ContextOverflow { n_ctx: 64, n_past: 64, n_tokens: 1 }));
    assert_eq!(s.n_past(), 64);
    s.truncate(60).unwrap();
    assert_eq!(s.prefill(&seq[..5]), Err(Error::ContextOverflow { n_ctx: 64, n_past: 60, n_tokens: 5 }));
    assert_eq!(s.n_past(), 60);

    assert_eq!(s.decode_step(512), Err(Error::TokenOutOfRange { token: 512, n_vocab: 512 }));
    assert_eq!(s.prefill(&[]), Err(Error::EmptyInput));
    assert_eq!(s.n_past(), 60);
    let e = s.decode_step(u32::MAX).unwrap_err();
    assert!(e.to_string().contains("4294967295"), "{e}");
}

#[test]
fn memory_plan_matches_the_sizes_it_promises() {
    let file = stories_gguf(WeightType::Q8_0);
    let gguf = Gguf::parse(file.bytes()).unwrap();
    let model = Model::from_gguf(&gguf).unwrap();
    let hp = Hparams::from_gguf(&gguf).unwrap();
    for (kv, elem) in [(KvType::F16, 2), (KvType::F32, 4)] {
        let plan = model.memory_plan(512, 64, kv).unwrap();
        assert_eq!(plan.kv_bytes as u64, hp.kv_cache_bytes(512, elem));
        assert_eq!(plan.logits_bytes, 512 * 4);
        // Widest product input: n_ff = 172 values, in f16 for the f16 fallback ffn_down.
        assert!(plan.act_bytes >= 64 * 172 * 2);
        assert_eq!(plan.total_bytes(), plan.kv_bytes + plan.scratch_bytes() + plan.logits_bytes);
        assert_eq!(plan.table_bytes, 0, "stories260K's FFN is SiLU: no GELU table");
        assert_eq!(plan.total_bytes_threads(1), plan.total_bytes());
        // shared by 2+ threads: 8 heads x (8 f16 query values, 512 f32 scores, 512 f16
        // probabilities, 8 f32 outputs), plus 4 parts per thread x 8 bytes per head
        assert_eq!((plan.attn_split_bytes, plan.attn_split_bytes_per_thread), (8 * 3120, 8 * 32));
        let shared = plan.attn_split_bytes + 3 * plan.attn_split_bytes_per_thread;
        assert_eq!(plan.total_bytes_threads(3), plan.total_bytes() + 2 * plan.attn_bytes + shared);
        let s = emberlm::Session::with_plan(&model, plan).unwrap();
        assert_eq!(s.plan(), &plan);
    }
    assert!(matches!(model.memory_plan(0, 1, KvType::F16), Err(Error::InvalidOptions { .. })));
    assert!(matches!(model.memory_plan(8, 0, KvType::F16), Err(Error::InvalidOptions { .. })));
    // n_ctx 0 in the options means the training context (512 for stories260K).
    let s = session(&model, SessionOptions::default());
    assert_eq!(s.n_ctx(), 512);
}

// ---- binding ----

type NewTensor = (String, Vec<u64>, QuantType, Vec<u8>);

/// `gguf` rewritten: metadata keys for which `keep_key` is false dropped, `set` appended;
/// tensors for which `keep_tensor` is false dropped, `add` appended.
fn rebuild(
    gguf: &Gguf<'_>,
    keep_key: impl Fn(&str) -> bool,
    set: &[(&str, Value<'_>)],
    keep_tensor: impl Fn(&str) -> bool,
    add: &[NewTensor],
) -> Aligned {
    let mut w = GgufWriter::new();
    for e in gguf.metadata().iter().filter(|e| keep_key(e.key)) {
        w.add_value(e.key, e.value);
    }
    for (k, v) in set {
        w.add_value(k, *v);
    }
    for t in gguf.tensors().iter().filter(|t| keep_tensor(t.name())) {
        w.add_tensor(t.name(), t.dims(), t.ty(), t.bytes());
    }
    for (name, dims, ty, data) in add {
        w.add_tensor(name, dims, *ty, data);
    }
    Aligned::new(&w.to_bytes().unwrap())
}

fn bind_err(file: &Aligned) -> Error {
    let g = Gguf::parse(file.bytes()).unwrap();
    Model::from_gguf(&g).expect_err("binding should fail")
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn binding_errors_name_the_tensor_or_key() {
    let file = stories_gguf(WeightType::F32);
    let g = Gguf::parse(file.bytes()).unwrap();
    let all = |_: &str| true;

    let e = bind_err(&rebuild(&g, all, &[], |n| n != "blk.3.ffn_up.weight", &[]));
    assert_eq!(e, Error::MissingTensor { name: "blk.3.ffn_up.weight".into() });
    assert!(e.to_string().contains("blk.3.ffn_up.weight"));

    let k = ("blk.0.attn_k.weight".to_string(), vec![64, 64], QuantType::F32, f32_bytes(&[0.0; 64 * 64]));
    let e = bind_err(&rebuild(&g, all, &[], |n| n != k.0, std::slice::from_ref(&k)));
    assert_eq!(e, Error::TensorShape { name: k.0.clone(), expected: vec![64, 32], found: vec![64, 64] });
    assert!(e.to_string().contains("blk.0.attn_k.weight"), "{e}");

    let norm = ("blk.2.attn_norm.weight".to_string(), vec![64], QuantType::F16, vec![0u8; 128]);
    let e = bind_err(&rebuild(&g, all, &[], |n| n != norm.0, std::slice::from_ref(&norm)));
    assert!(
        matches!(&e, Error::TensorType { name, ty: QuantType::F16, .. } if name == "blk.2.attn_norm.weight"),
        "{e}"
    );

    let q = ("blk.1.attn_q.weight".to_string(), vec![64, 64], QuantType::I32, vec![0u8; 64 * 64 * 4]);
    let e = bind_err(&rebuild(&g, all, &[], |n| n != q.0, std::slice::from_ref(&q)));
    assert!(
        matches!(&e, Error::TensorType { name, ty: QuantType::I32, .. } if name == "blk.1.attn_q.weight"),
        "{e}"
    );

    let bias = ("blk.0.attn_q.bias".to_string(), vec![64], QuantType::F32, f32_bytes(&[0.0; 64]));
    let e = bind_err(&rebuild(&g, all, &[], all, &[bias]));
    assert_eq!(e, Error::UnusedTensor { name: "blk.0.attn_q.bias".into() });

    let e = bind_err(&rebuild(
        &g,
        |k| k != "general.architecture",
        &[("general.architecture", Value::String(b"mixtral"))],
        all,
        &[],
    ));
    assert_eq!(e, Error::Config(ConfigError::UnsupportedArchitecture("mixtral".into())));
    assert!(e.to_string().contains("\"mixtral\""), "{e}");

    let eps = "llama.attention.layer_norm_rms_epsilon";
    let e = bind_err(&rebuild(&g, |k| k != eps, &[], all, &[]));
    assert!(e.to_string().contains(eps), "{e}");

    let e = bind_err(&rebuild(
        &g,
        |k| k != "llama.block_count",
        &[("llama.block_count", Value::U32(6))],
        all,
        &[],
    ));
    assert_eq!(e, Error::MissingTensor { name: "blk.5.attn_norm.weight".into() });

    let experts = [("llama.expert_count", Value::U32(4)), ("llama.expert_used_count", Value::U32(2))];
    let e = bind_err(&rebuild(&g, all, &experts, all, &[]));
    assert!(e.to_string().contains("mixture-of-experts"), "{e}");

    let yarn = [("llama.rope.scaling.type", Value::String(b"yarn"))];
    let e = bind_err(&rebuild(&g, all, &yarn, all, &[]));
    assert!(e.to_string().contains("yarn"), "{e}");
}

fn logits_of(file: &Aligned, tokens: &[u32]) -> Vec<f32> {
    let g = Gguf::parse(file.bytes()).unwrap();
    let model = Model::from_gguf(&g).unwrap();
    assert_eq!(model.config().n_vocab, 512);
    let mut s = session(&model, opts(64, 64, KvType::F16));
    s.prefill(tokens).unwrap().to_vec()
}

/// stories260K's classifier is its embedding, and the converter writes it out as
/// `output.weight` (as llama.cpp does): dropping that tensor must select the tied path and give
/// the very same logits. RoPE frequency factors of 1 change nothing; factors of 2 equal linear
/// scaling by 2 (both halve every angle exactly) and change the logits.
#[test]
fn tied_output_and_rope_factor_paths() {
    let file = stories_gguf(WeightType::F32);
    let g = Gguf::parse(file.bytes()).unwrap();
    let seq = story_tokens(&g);
    let prompt = &seq[..30];
    let base = logits_of(&file, prompt);
    let all = |_: &str| true;

    let tied = rebuild(&g, all, &[], |n| n != "output.weight", &[]);
    let tg = Gguf::parse(tied.bytes()).unwrap();
    assert!(Model::from_gguf(&tg).unwrap().config().tied_output);
    assert_eq!(logits_of(&tied, prompt), base);

    let ff = |v: f32| ("rope_freqs.weight".to_string(), vec![4], QuantType::F32, f32_bytes(&[v; 4]));
    assert_eq!(logits_of(&rebuild(&g, all, &[], all, &[ff(1.0)]), prompt), base);
    let by_factors = logits_of(&rebuild(&g, all, &[], all, &[ff(2.0)]), prompt);
    assert_ne!(by_factors, base);
    let linear = [
        ("llama.rope.scaling.type", Value::String(b"linear")),
        ("llama.rope.scaling.factor", Value::F32(2.0)),
    ];
    assert_eq!(logits_of(&rebuild(&g, all, &linear, all, &[]), prompt), by_factors);

    let wrong = ("rope_freqs.weight".to_string(), vec![8], QuantType::F32, f32_bytes(&[1.0; 8]));
    let e = bind_err(&rebuild(&g, all, &[], all, &[wrong]));
    assert!(matches!(&e, Error::TensorShape { name, .. } if name == "rope_freqs.weight"), "{e}");
}

/// The real models (when present; SKIPPED otherwise, a failure with EMBERLM_REQUIRE_MODELS=1)
/// decode with the same bits on 1 and 2 threads: each thread's two streams of weight rows in the
/// decoding tiles, the gated activation of one token in the threads' parts of gate and up (runs
/// of whole 8-row tiles; SmolLM2's SiLU, Gemma 3's GELU table), Gemma's sliding-window layers.
/// Every logit of a 12-token prefill and of 20 decoded tokens is compared.
#[test]
fn real_models_decode_the_same_bits_on_two_threads() {
    for name in ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"] {
        let Some(path) = real_model(name) else { continue };
        let file = MappedFile::open(&path).unwrap();
        let gguf = Gguf::parse(file.bytes()).unwrap();
        let model = Model::from_gguf(&gguf).unwrap();
        assert_eq!(
            model.config().layers[0].n_ff % 256,
            0,
            "{name}: the split of one token's row is not tested"
        );
        let seq: Vec<u32> = (0..32).map(|i| 1 + (i * 7919) % 5000).collect();
        let o = SessionOptions { n_ctx: 64, n_threads: 1, ..Default::default() };
        let want = prefill_then_decode(&model, &seq, 12, o);
        assert!(
            prefill_then_decode(&model, &seq, 12, SessionOptions { n_threads: 2, ..o }) == want,
            "{name}"
        );
    }
}

/// The logits of every position of `seq`: the first `n_prefill` tokens prefilled, the others
/// decoded one by one.
fn prefill_then_decode(model: &Model<'_>, seq: &[u32], n_prefill: usize, o: SessionOptions) -> Vec<f32> {
    let n_vocab = model.config().n_vocab;
    let mut s = session(model, o);
    let mut out = vec![0f32; n_prefill * n_vocab];
    s.prefill_logits(&seq[..n_prefill], 0, &mut out).unwrap();
    for &t in &seq[n_prefill..] {
        out.extend_from_slice(s.decode_step(t).unwrap());
    }
    out
}

/// Threads change nothing: a batch's products are split by output, its tokens attend in parallel
/// (each reading only the slots it may see), a decoded token's attention is split by heads, or by
/// keys and value rows from 256 visible keys on, and every value is computed by the same code as
/// on one thread. Prefill logits of every position, then decoding, on 1, 2 and 3 threads: with a
/// context that fits the batch (parallel attention) and one smaller than the prompt's batches;
/// and decoding positions 240..300 across the 256-key threshold, f16 cache (split by keys) and
/// f32 cache (which keeps the split by heads).
#[test]
fn threads_give_the_same_bits() {
    let file = stories_gguf(WeightType::Q8_0);
    let gguf = Gguf::parse(file.bytes()).unwrap();
    let model = Model::from_gguf(&gguf).unwrap();
    let story = story_tokens(&gguf);
    let long: Vec<u32> = story.iter().copied().cycle().take(300).collect();
    let cases = [
        (&story[..100], 90, SessionOptions { n_ctx: 128, n_batch: 512, kv_type: KvType::F16, n_threads: 1 }),
        (&story[..100], 90, SessionOptions { n_ctx: 128, n_batch: 32, kv_type: KvType::F16, n_threads: 1 }),
        (&long[..], 240, SessionOptions { n_ctx: 320, n_batch: 64, kv_type: KvType::F16, n_threads: 1 }),
        (&long[..], 240, SessionOptions { n_ctx: 320, n_batch: 64, kv_type: KvType::F32, n_threads: 1 }),
    ];
    for (seq, n_prefill, o) in cases {
        let want = prefill_then_decode(&model, seq, n_prefill, o);
        for n_threads in [2, 3] {
            assert!(
                prefill_then_decode(&model, seq, n_prefill, SessionOptions { n_threads, ..o }) == want,
                "{n_threads} threads, {o:?}"
            );
        }
    }
}
