//! stories260K end to end: llama2.c checkpoint -> GGUF (our converter) -> our forward pass,
//! against llama2.c's own greedy output (the reference file is llama2.c's, not ours).

mod support;

use emberlm::SessionOptions;
use emberlm::convert::llama2c::WeightType;
use emberlm::models::Gguf;
use support::{argmax, greedy, load, read_stories, run_c_text, session, stories_gguf};

const PROMPT: &str = "Once upon a time";
const STEPS: usize = 200;

fn prompt_tokens(tok: &emberlm::tokenizer::Tokenizer) -> Vec<u32> {
    let tokens = tok.encode(PROMPT, true, false).expect("encode");
    assert_eq!(tokens.first(), Some(&1), "BOS first, as llama2.c's encode(bos=1)");
    tokens
}

#[test]
fn f32_greedy_matches_llama2c_byte_for_byte() {
    let file = stories_gguf(WeightType::F32);
    let gguf = Gguf::parse(file.bytes()).unwrap();
    let (model, tok) = load(&gguf);
    let prompt = prompt_tokens(&tok);
    let mut s = session(&model, SessionOptions { n_ctx: 512, ..Default::default() });
    let tokens = greedy(&mut s, &prompt, STEPS);
    let mut text = run_c_text(&tok, &tokens);
    text.push(b'\n'); // run.c's printf("\n") after the loop
    let expected = read_stories("greedy-once-upon-a-time.txt");
    assert_eq!(
        String::from_utf8_lossy(&text),
        String::from_utf8_lossy(&expected),
        "greedy output differs from llama2.c's"
    );
    assert_eq!(text, expected);
    assert_eq!(s.n_past(), STEPS, "200 forward passes, the prompt included");
}

#[test]
fn f32_kv_cache_gives_the_same_text() {
    let file = stories_gguf(WeightType::F32);
    let gguf = Gguf::parse(file.bytes()).unwrap();
    let (model, tok) = load(&gguf);
    let prompt = prompt_tokens(&tok);
    let opts = SessionOptions { n_ctx: 256, kv_type: emberlm::KvType::F32, ..Default::default() };
    let mut s = session(&model, opts);
    let mut text = run_c_text(&tok, &greedy(&mut s, &prompt, STEPS));
    text.push(b'\n');
    assert_eq!(text, read_stories("greedy-once-upon-a-time.txt"));
}

/// Q8_0 against f32, teacher-forced on the f32 model's greedy sequence (how llama.cpp judges a
/// quantization): the top token must agree at almost every position and the mean KL divergence
/// of the next-token distributions must be small. Also reports the free-running greedy text.
#[test]
fn q8_0_tracks_f32() {
    let f32_file = stories_gguf(WeightType::F32);
    let q8_file = stories_gguf(WeightType::Q8_0);
    let (g32, g8) = (Gguf::parse(f32_file.bytes()).unwrap(), Gguf::parse(q8_file.bytes()).unwrap());
    let ((m32, tok), (m8, _)) = (load(&g32), load(&g8));
    let prompt = prompt_tokens(&tok);
    let opts = SessionOptions { n_ctx: 512, ..Default::default() };

    let mut s32 = session(&m32, opts);
    let reference = greedy(&mut s32, &prompt, STEPS);
    let mut seq = vec![1u32];
    seq.extend_from_slice(&reference);

    let (mut a, mut b) = (session(&m32, opts), session(&m8, opts));
    let (mut same_top, mut kl_sum, mut kl_max) = (0usize, 0f64, 0f64);
    for &t in &seq[..seq.len() - 1] {
        let p = softmax(a.decode_step(t).unwrap());
        let q = softmax(b.decode_step(t).unwrap());
        let kl: f64 = p.iter().zip(&q).map(|(&p, &q)| if p > 0.0 { p * (p / q).ln() } else { 0.0 }).sum();
        kl_sum += kl;
        kl_max = kl_max.max(kl);
        same_top += usize::from(argmax_f64(&p) == argmax_f64(&q));
    }
    let n = seq.len() - 1;
    let same = same_top as f64 / n as f64;
    let kl_mean = kl_sum / n as f64;

    let mut s8 = session(&m8, opts);
    let q8_tokens = greedy(&mut s8, &prompt, STEPS);
    let common = reference.iter().zip(&q8_tokens).take_while(|(x, y)| x == y).count();
    let mut q8_text = run_c_text(&tok, &q8_tokens);
    q8_text.push(b'\n');
    let ref_text = read_stories("greedy-once-upon-a-time.txt");
    let common_bytes = ref_text.iter().zip(&q8_text).take_while(|(x, y)| x == y).count();
    println!(
        "q8_0 vs f32, teacher-forced over {n} positions: same top {:.1}%, mean KL {kl_mean:.6}, max KL {kl_max:.6}",
        same * 100.0
    );
    println!(
        "q8_0 free-running greedy: first {common} of {} tokens and {common_bytes} of {} bytes equal llama2.c's; text:\n{}",
        reference.len(),
        ref_text.len(),
        String::from_utf8_lossy(&q8_text)
    );
    assert!(same >= 0.95, "same-top rate {same}");
    assert!(kl_mean < 0.01, "mean KL {kl_mean}");
}

fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn argmax_f64(p: &[f64]) -> usize {
    let l: Vec<f32> = p.iter().map(|&v| v as f32).collect();
    argmax(&l) as usize
}
