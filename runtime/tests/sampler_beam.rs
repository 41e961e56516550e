//! Beam search on synthetic models whose best sequence is known by enumeration.

use emberlm::sampler::{BeamError, BeamModel, BeamParams, PrefixModel, beam_search};

const EOS: u32 = 0;

fn ln(p: &[f64]) -> Vec<f32> {
    p.iter().map(|&x| if x == 0.0 { f32::NEG_INFINITY } else { x.ln() as f32 }).collect()
}

/// A fixed transition table over {EOS, a, b, c}: the next-token distribution depends on the
/// last token only (start row for the empty prefix).
fn table(prefix: &[u32]) -> Vec<f32> {
    match prefix.last() {
        None => ln(&[0.0, 0.5, 0.4, 0.1]),        // a is the greedy choice
        Some(1) => ln(&[0.1, 0.3, 0.3, 0.3]),     // after a: flat
        Some(2) => ln(&[0.9, 0.05, 0.03, 0.02]),  // after b: almost surely EOS
        Some(_) => ln(&[0.25, 0.25, 0.25, 0.25]), // after c
    }
}

fn greedy(max: usize) -> Vec<u32> {
    let mut seq = Vec::new();
    for _ in 0..max {
        let l = table(&seq);
        let t = (0..l.len()).fold(0, |b, i| if l[i] > l[b] { i } else { b }) as u32;
        seq.push(t);
        if t == EOS {
            break;
        }
    }
    seq
}

#[test]
fn beam_finds_the_better_sequence_greedy_misses() {
    // greedy: a (0.5) then a flat 0.3 -> p(a, x) = 0.15 at best; beam: b EOS = 0.4 * 0.9 = 0.36
    assert_eq!(greedy(2), vec![1, 1]);
    let mut m = PrefixModel::new(|p: &[u32], out: &mut Vec<f32>| {
        *out = table(p);
        Ok::<(), ()>(())
    });
    let params = BeamParams { width: 2, max_tokens: 2, length_penalty: 0.0, eos: vec![EOS] };
    let r = beam_search(&mut m, &table(&[]), &params).unwrap();
    let best = r.best().unwrap();
    assert_eq!(best.tokens, vec![2, EOS]);
    assert!(best.finished);
    assert!((best.sum_logprob - 0.36f64.ln()).abs() < 1e-6);

    // width 1 is greedy search
    let params1 = BeamParams { width: 1, ..params.clone() };
    let r1 = beam_search(
        &mut PrefixModel::new(|p: &[u32], out: &mut Vec<f32>| {
            *out = table(p);
            Ok::<(), ()>(())
        }),
        &table(&[]),
        &params1,
    )
    .unwrap();
    assert_eq!(r1.best().unwrap().tokens, vec![1, 1]);
}

/// A model whose logits depend on the whole prefix (a hash of it), so a beam stepped in the
/// wrong slot, or a slot not copied, produces different scores. It keeps its own per-slot
/// histories like a KV cache and counts copies.
struct HashModel {
    slots: Vec<Vec<u32>>,
    copies: usize,
}

fn hash_logits(prefix: &[u32]) -> Vec<f32> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &t in prefix {
        h = (h ^ t as u64).wrapping_mul(0x100_0000_01b3);
    }
    (0..4u64)
        .map(|i| {
            let x = (h ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let v = ((x >> 40) as f32) / (1u64 << 24) as f32 * 4.0 - 2.0;
            // EOS gets likelier with length
            if i == 0 { v - 1.5 + prefix.len() as f32 * 0.5 } else { v }
        })
        .collect()
}

impl BeamModel for HashModel {
    type Error = String;
    fn step(&mut self, slot: usize, token: u32, logits: &mut Vec<f32>) -> Result<(), String> {
        let s = self.slots.get_mut(slot).ok_or("slot out of range")?;
        s.push(token);
        *logits = hash_logits(s);
        Ok(())
    }
    fn copy_slot(&mut self, src: usize, dst: usize) -> Result<(), String> {
        if src == dst {
            return Err("copy onto itself".into());
        }
        let v = self.slots.get(src).ok_or("src out of range")?.clone();
        *self.slots.get_mut(dst).ok_or("dst out of range")? = v;
        self.copies += 1;
        Ok(())
    }
}

fn log_softmax(l: &[f32]) -> Vec<f64> {
    let m = l.iter().cloned().fold(f64::NEG_INFINITY, |a, b| a.max(b as f64));
    let s: f64 = l.iter().map(|&x| (x as f64 - m).exp()).sum();
    l.iter().map(|&x| x as f64 - m - s.ln()).collect()
}

/// Best (score, tokens) over every sequence that ends with EOS within `max` tokens or reaches
/// `max` tokens, by exhaustive enumeration.
fn brute_force(prefix: &mut Vec<u32>, sum: f64, max: usize, alpha: f64, best: &mut (f64, Vec<u32>)) {
    let lp = log_softmax(&hash_logits(prefix));
    for t in 0..4u32 {
        let s = sum + lp[t as usize];
        prefix.push(t);
        let len = prefix.len();
        if t == EOS || len == max {
            let score = s / (len as f64).powf(alpha);
            if score > best.0 {
                *best = (score, prefix.clone());
            }
        } else {
            brute_force(prefix, s, max, alpha, best);
        }
        prefix.pop();
    }
}

#[test]
fn wide_beam_equals_exhaustive_search() {
    for alpha in [0.0, 0.6, 1.0, 2.0] {
        let max = 5;
        let mut best = (f64::NEG_INFINITY, Vec::new());
        brute_force(&mut Vec::new(), 0.0, max, alpha, &mut best);
        // 4 * 3^4 proposals at most per step: a width of 400 never prunes anything
        let width = 400;
        let mut m = HashModel { slots: vec![Vec::new(); width], copies: 0 };
        let params = BeamParams { width, max_tokens: max, length_penalty: alpha, eos: vec![EOS] };
        let r = beam_search(&mut m, &hash_logits(&[]), &params).unwrap();
        let got = r.best().unwrap();
        assert_eq!(got.tokens, best.1, "alpha {alpha}");
        assert!((got.score - best.0).abs() < 1e-9, "alpha {alpha}: {} vs {}", got.score, best.0);
        assert_eq!(r.copies, m.copies);
        // hypotheses come best first
        assert!(r.hypotheses.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn narrow_beam_uses_its_slots_consistently() {
    // A narrow beam prunes, so compare it with the same search run on a cache-less model that
    // recomputes from each beam's full prefix: any slot mix-up would change the logits.
    for width in [2usize, 3, 5] {
        for alpha in [0.0, 1.0] {
            let params = BeamParams { width, max_tokens: 8, length_penalty: alpha, eos: vec![EOS] };
            let mut slotted = HashModel { slots: vec![Vec::new(); width], copies: 0 };
            let a = beam_search(&mut slotted, &hash_logits(&[]), &params).unwrap();
            let mut pm = PrefixModel::new(|p: &[u32], out: &mut Vec<f32>| {
                *out = hash_logits(p);
                Ok::<(), ()>(())
            });
            let b = beam_search(&mut pm, &hash_logits(&[]), &params).unwrap();
            assert_eq!(a.hypotheses, b.hypotheses, "width {width} alpha {alpha}");
            // at most width slots, and copies only for extra children
            assert!(slotted.slots.len() == width);
            assert!(a.copies <= a.steps);
            for h in &a.hypotheses {
                let mut sum = 0.0;
                for i in 0..h.tokens.len() {
                    sum += log_softmax(&hash_logits(&h.tokens[..i]))[h.tokens[i] as usize];
                }
                assert!((sum - h.sum_logprob).abs() < 1e-9);
                assert_eq!(h.finished, h.tokens.last() == Some(&EOS));
            }
        }
    }
}

#[test]
fn beam_errors() {
    let mut m = HashModel { slots: vec![Vec::new(); 2], copies: 0 };
    let p = BeamParams { width: 0, max_tokens: 3, length_penalty: 1.0, eos: vec![EOS] };
    assert_eq!(beam_search(&mut m, &[0.0, 1.0], &p), Err(BeamError::ZeroWidth));
    let p = BeamParams { width: 2, ..p };
    assert_eq!(beam_search(&mut m, &[], &p), Err(BeamError::EmptyLogits));
    assert_eq!(beam_search(&mut m, &[f32::NAN, f32::NAN], &p), Err(BeamError::NonFinite));
    // a model error surfaces: too few slots for the width
    let mut small = HashModel { slots: vec![Vec::new(); 1], copies: 0 };
    let r = beam_search(&mut small, &hash_logits(&[]), &BeamParams { width: 3, ..p });
    assert!(matches!(r, Err(BeamError::Model(_))));
}
