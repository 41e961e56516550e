//! The activation quantizers of every SIMD tier produce **the same bytes** as the scalar spec's
//! (`f32 -> f16 / Q8_0 / Q8_1 / Q8_K`) on random values, llama.cpp's input fixture, random bit
//! patterns (NaN, Inf, subnormals) and edge blocks (zeros, -0, huge, tiny, subnormal, ±f32::MAX,
//! ±Inf, NaN at several places, exact rounding ties, equal magnitudes of both signs); mismatched
//! lengths panic as the spec's do. A tier this CPU cannot run prints SKIPPED. An exhaustive check
//! of the F16 quantizer over all 2^32 inputs is `#[ignore]`d
//! (`cargo test --release --test quantizer_parity -- --ignored`).
//! (Split from kernel_parity.rs, which checks the dot products.)

#[macro_use]
mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytemuck::Zeroable;
use common::{Rng, fixture_f32, tier_kernels};
use emberlm_quant::formats::f16::F16;
use emberlm_quant::formats::q8_0::{BlockQ8_0, Q8_0};
use emberlm_quant::formats::q8_1::{BlockQ8_1, Q8_1};
use emberlm_quant::formats::q8_k::{BlockQ8K, Q8K};
use emberlm_quant::{Format, Kernels, Tier};
use half::f16;

/// An activation quantizer of a kernel table.
trait QuantCase: Format {
    const NAME: &'static str;
    fn quantizer(k: &Kernels) -> fn(&[f32], &mut [Self::Block]);
}

impl QuantCase for F16 {
    const NAME: &'static str = "f16";
    fn quantizer(k: &Kernels) -> fn(&[f32], &mut [f16]) {
        k.quantize_f16
    }
}
impl QuantCase for Q8_0 {
    const NAME: &'static str = "q8_0";
    fn quantizer(k: &Kernels) -> fn(&[f32], &mut [BlockQ8_0]) {
        k.quantize_q8_0
    }
}
impl QuantCase for Q8_1 {
    const NAME: &'static str = "q8_1";
    fn quantizer(k: &Kernels) -> fn(&[f32], &mut [BlockQ8_1]) {
        k.quantize_q8_1
    }
}
impl QuantCase for Q8K {
    const NAME: &'static str = "q8_k";
    fn quantizer(k: &Kernels) -> fn(&[f32], &mut [BlockQ8K]) {
        k.quantize_q8_k
    }
}

/// Quantizes `x` with the scalar and the tier quantizer (into differently pre-filled outputs, so
/// that a byte left unwritten shows) and compares the bytes.
fn same_bytes<F: QuantCase>(k: &Kernels, x: &[f32], what: &str) {
    let nb = x.len() / F::ELEMS;
    let mut want = vec![F::Block::zeroed(); nb];
    let mut got = vec![F::Block::zeroed(); nb];
    bytemuck::cast_slice_mut::<F::Block, u8>(&mut got).fill(0xA5);
    F::quantizer(&Kernels::SCALAR)(x, &mut want);
    F::quantizer(k)(x, &mut got);
    let (wb, gb) = (bytemuck::cast_slice::<F::Block, u8>(&want), bytemuck::cast_slice::<F::Block, u8>(&got));
    if let Some(i) = wb.iter().zip(gb).position(|(w, g)| w != g) {
        let bs = size_of::<F::Block>();
        let b = i / bs;
        panic!(
            "{} {} quantize, {what}: byte {i} (block {b}, offset {}) is {:#04x}, scalar {:#04x}\n\
             input block: {:?}\nscalar: {:?}\ntier:   {:?}",
            F::NAME,
            k.tier,
            i % bs,
            gb[i],
            wb[i],
            &x[b * F::ELEMS..(b + 1) * F::ELEMS],
            want[b],
            got[b]
        );
    }
}

/// 256-value edge blocks (a whole number of blocks for every quantized format).
fn edge_blocks() -> Vec<(&'static str, Vec<f32>)> {
    let mut rng = Rng::new(0xed6e);
    let small = |rng: &mut Rng| -> Vec<f32> { (0..256).map(|_| rng.unit()).collect() };
    let mut cases: Vec<(&'static str, Vec<f32>)> = vec![
        ("zeros", vec![0.0; 256]),
        ("negative zeros", vec![-0.0; 256]),
        ("zeros and negative zeros", (0..256).map(|i| if i % 3 == 0 { -0.0 } else { 0.0 }).collect()),
        ("all f32::MAX", vec![f32::MAX; 256]),
        ("all -f32::MAX", vec![-f32::MAX; 256]),
        ("±f32::MAX", (0..256).map(|i| if i % 2 == 0 { f32::MAX } else { -f32::MAX }).collect()),
        ("all tiny subnormal", vec![1e-45; 256]),
        ("subnormals", (0..256).map(|i| f32::from_bits(i as u32 * 7919 % 0x007f_ffff) * 1.0).collect()),
        ("MIN_POSITIVE", (0..256).map(|i| f32::MIN_POSITIVE * (i % 5) as f32).collect()),
        ("constant", vec![0.7321; 256]),
        ("negative constant", vec![-3.25; 256]),
    ];
    let mut huge = small(&mut rng);
    huge[100] = 1e30;
    cases.push(("one huge among small", huge));
    let mut max_among = small(&mut rng);
    max_among[7] = -f32::MAX;
    max_among[200] = f32::MAX;
    cases.push(("±max among small", max_among));
    let mut tiny = small(&mut rng);
    tiny.iter_mut().for_each(|v| *v *= 1e-38);
    cases.push(("tiny", tiny));
    // amax = 127 so d = 1 and id = 1: every value below is an exact rounding tie x.5
    let ties: Vec<f32> = (0..256).map(|i| if i % 32 == 0 { 127.0 } else { (i % 32) as f32 - 16.5 }).collect();
    cases.push(("ties", ties));
    let neg_ties: Vec<f32> =
        (0..256).map(|i| if i % 32 == 5 { -127.0 } else { 0.5 - (i % 7) as f32 }).collect();
    cases.push(("negative ties", neg_ties));
    // the largest magnitude occurs with both signs: the first one sets q8_K's scale
    let mut both = small(&mut rng);
    both[3] = -5.0;
    both[9] = 5.0;
    both[250] = -5.0;
    cases.push(("equal magnitudes, negative first", both.clone()));
    both[3] = 5.0;
    cases.push(("equal magnitudes, positive first", both));
    for (name, pos) in
        [("NaN first", 0usize), ("NaN middle", 77), ("NaN last of a 32-block", 31), ("NaN last", 255)]
    {
        let mut v = small(&mut rng);
        v[pos] = f32::NAN;
        cases.push((name, v));
    }
    let mut nans = small(&mut rng);
    nans[12] = f32::from_bits(0x7fa0_0001); // signalling NaN with a payload
    nans[40] = f32::from_bits(0xffc1_2345); // negative quiet NaN with a payload
    cases.push(("NaN payloads", nans));
    cases.push(("all NaN", vec![f32::NAN; 256]));
    for (name, inf) in [("+Inf", f32::INFINITY), ("-Inf", f32::NEG_INFINITY)] {
        let mut v = small(&mut rng);
        v[33] = inf;
        cases.push((name, v));
    }
    let mut both_inf = small(&mut rng);
    both_inf[1] = f32::NEG_INFINITY;
    both_inf[2] = f32::INFINITY;
    cases.push(("±Inf", both_inf));
    cases
}

/// Check 3: the same bytes as the scalar quantizer.
fn quantize_same_bytes<F: QuantCase>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} quantize", F::NAME)) else { return };
    let mut rng = Rng::new(0x9a17 ^ u64::from(F::TYPE.id()));
    let round = |n: usize| n / F::ELEMS * F::ELEMS;
    same_bytes::<F>(k, &fixture_f32("input.f32"), "llama.cpp input fixture");
    for n in [256, 512, 1536, 4096] {
        same_bytes::<F>(k, &rng.values(round(n)), "random values");
    }
    for _ in 0..16 {
        let x: Vec<f32> = (0..4096).map(|_| f32::from_bits(rng.next_u64() as u32)).collect();
        same_bytes::<F>(k, &x, "random bit patterns");
    }
    for (name, x) in edge_blocks() {
        same_bytes::<F>(k, &x, name);
    }
    if F::ELEMS == 1 {
        // tails of every length, and the f16 rounding boundaries
        for n in 0..20 {
            same_bytes::<F>(k, &rng.values(n), "short input");
        }
        let mut x = Vec::new();
        for base in [65504.0f32, 65519.0, 65520.0, 1.0, 2f32.powi(-14), 2f32.powi(-24), 2f32.powi(-25)] {
            let b = base.to_bits();
            for d in 0..16u32 {
                for v in [f32::from_bits(b.wrapping_sub(d)), f32::from_bits(b + d)] {
                    x.extend([v, -v]);
                }
            }
        }
        x.extend((0..4096u32).map(|i| f32::from_bits(0x3380_0000 + i * 0x1000))); // around 2^-24
        same_bytes::<F>(k, &x, "f16 rounding boundaries");
    }
}

/// Check 4 for quantizers: an input that does not fill the output panics.
fn quantize_wrong_lengths_panic<F: QuantCase>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} quantize wrong lengths", F::NAME)) else { return };
    let q = F::quantizer(k);
    let x = vec![1.0f32; 3 * F::ELEMS + 1];
    let mut out = [F::Block::zeroed(); 4];
    q(&x[..2 * F::ELEMS], &mut out[..2]);
    for (nx, nb) in [(2 * F::ELEMS, 3), (3 * F::ELEMS, 2), (F::ELEMS, 0), (0, 1), (3 * F::ELEMS + 1, 3)] {
        let r = catch_unwind(AssertUnwindSafe(|| q(&x[..nx], &mut out[..nb])));
        assert!(r.is_err(), "{} {tier}: quantizing {nx} values into {nb} blocks did not panic", F::NAME);
    }
}

macro_rules! quantize_parity {
    ($($m:ident: $F:ty),* $(,)?) => {$(
        mod $m {
            use super::*;
            mod same_bytes {
                use super::*;
                tier_tests!(quantize_same_bytes::<$F>);
            }
            mod wrong_lengths {
                use super::*;
                tier_tests!(quantize_wrong_lengths_panic::<$F>);
            }
        }
    )*};
}

quantize_parity! {
    quantize_f16: F16, quantize_q8_0: Q8_0, quantize_q8_1: Q8_1, quantize_q8_k: Q8K,
}

/// The F16 quantizer of every available SIMD tier on all 2^32 f32 bit patterns.
#[test]
#[ignore = "exhaustive (2^32 inputs per tier): run with --release -- --ignored"]
fn quantize_f16_exhaustive() {
    for tier in [Tier::Avx2, Tier::Neon, Tier::Dotprod] {
        let Some(k) = tier_kernels(tier, "f16 quantize exhaustive") else { continue };
        let mut x = vec![0f32; 1 << 16];
        let (mut want, mut got) = (vec![f16::ZERO; 1 << 16], vec![f16::ZERO; 1 << 16]);
        for hi in 0..1u32 << 16 {
            for (lo, v) in x.iter_mut().enumerate() {
                *v = f32::from_bits(hi << 16 | lo as u32);
            }
            (Kernels::SCALAR.quantize_f16)(&x, &mut want);
            (k.quantize_f16)(&x, &mut got);
            if let Some(i) = want.iter().zip(&got).position(|(w, g)| w.to_bits() != g.to_bits()) {
                panic!(
                    "{tier} f16 quantize of {:#010x}: {:#06x}, scalar {:#06x}",
                    x[i].to_bits(),
                    got[i].to_bits(),
                    want[i].to_bits()
                );
            }
        }
    }
}
