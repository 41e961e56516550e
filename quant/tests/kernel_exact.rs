//! Every tier's legacy-format dot products (`Q4_0`, `Q4_1`, `Q5_0`, `Q5_1`, `Q8_0`) and every
//! multi-row product (`gemm_*`) give **the same bits** as the scalar spec, on any input.
//!
//! Why bit-identity and not a bound: a model's activations are re-quantized to 8 bits before every
//! product, so a one-ulp difference in one tier can flip a rounding and move the logits of a model
//! with massive activations (SmolLM2) by whole units. The spec is llama.cpp's x86 AVX2 arithmetic
//! (8 f32 lanes, one fused multiply-add per block and lane, one horizontal sum; see
//! `formats/legacy_lanes.rs`), which every tier reproduces operation for operation, and these
//! tests hold them to it on random blocks (random bytes, any `i8` including -128, where the x86
//! sign trick negates some products; random finite scales of every magnitude, so a dropped or
//! added rounding shows), blocks quantized from random values, every row count around the
//! 4-row tiles, 1, 2 and odd activation-row counts, and output strides.
//!
//! A tier this CPU cannot run prints `SKIPPED: ...` and returns.

mod common;

use std::io::Write;

use bytemuck::{Pod, Zeroable};
use common::{Rng, tier_kernels};
use emberlm_quant::formats::q4_0::Q4_0;
use emberlm_quant::formats::q4_1::Q4_1;
use emberlm_quant::formats::q5_0::Q5_0;
use emberlm_quant::formats::q5_1::Q5_1;
use emberlm_quant::formats::q8_0::Q8_0;
use emberlm_quant::kernels::{GemmFn, gemm_by_dot};
use emberlm_quant::{Dispatch, Format, Kernels, Tier};
use half::f16;

type ActBlock<F> = <<F as Format>::Activation as Format>::Block;

/// A finite f16 of any sign and magnitude (subnormals and zero included).
fn any_scale(rng: &mut Rng) -> f16 {
    loop {
        let h = f16::from_bits(rng.next_u64() as u16);
        if h.is_finite() {
            return h;
        }
    }
}

/// Mostly O(1), sometimes huge (the "massive activations" of real models).
fn value(rng: &mut Rng) -> f32 {
    let x = rng.unit();
    if rng.below(50) == 0 { x * 300.0 } else { x }
}

/// A block of random bytes whose leading `n_scales` f16 fields (every legacy block starts with
/// its scale, then its min / sum for the `_1` formats) are random finite values.
fn random_block<B: Pod>(rng: &mut Rng, n_scales: usize) -> B {
    let mut b = B::zeroed();
    let bytes = bytemuck::bytes_of_mut(&mut b);
    rng.fill(bytes);
    for i in 0..n_scales {
        bytes[2 * i..2 * i + 2].copy_from_slice(&any_scale(rng).to_bits().to_le_bytes());
    }
    b
}

fn quantized<F: Format>(rng: &mut Rng, n_blocks: usize) -> Vec<F::Block> {
    let x: Vec<f32> = (0..n_blocks * F::ELEMS).map(|_| value(rng)).collect();
    let mut out = vec![F::Block::zeroed(); n_blocks];
    F::quantize(&x, &mut out);
    out
}

/// Operands of one case: weight rows and activation rows, random or quantized.
fn operands<F: Format>(
    rng: &mut Rng,
    w_scales: usize,
    a_scales: usize,
    n_w: usize,
    n_a: usize,
) -> (Vec<F::Block>, Vec<ActBlock<F>>) {
    let random = rng.below(2) == 0;
    operands_of::<F>(rng, random, w_scales, a_scales, n_w, n_a)
}

/// [`operands`] of the kind asked for: random blocks (activations with -128, almost surely, in
/// long rows) or quantized ones (no -128: what a model's activations are).
fn operands_of<F: Format>(
    rng: &mut Rng,
    random: bool,
    w_scales: usize,
    a_scales: usize,
    n_w: usize,
    n_a: usize,
) -> (Vec<F::Block>, Vec<ActBlock<F>>) {
    if random {
        let w = (0..n_w).map(|_| random_block::<F::Block>(rng, w_scales)).collect();
        let a = (0..n_a).map(|_| random_block::<ActBlock<F>>(rng, a_scales)).collect();
        (w, a)
    } else {
        (quantized::<F>(rng, n_w), quantized::<F::Activation>(rng, n_a))
    }
}

/// `(scales in a weight block, scales in an activation block)`.
fn scales<F: Format>() -> (usize, usize) {
    use emberlm_quant::QuantType as T;
    match F::TYPE {
        T::Q4_1 | T::Q5_1 => (2, 2),
        _ => (1, 1),
    }
}

fn dot_same_bits<F: Format + Dispatch>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} dot bits", F::TYPE)) else { return };
    let (ws, as_) = scales::<F>();
    let mut rng = Rng::new(u64::from(F::TYPE.id()) << 8 | tier as u64);
    for nb in [0, 1, 2, 3, 7, 18, 48, 64] {
        for round in 0..40 {
            let (w, a) = operands::<F>(&mut rng, ws, as_, nb, nb);
            let want = F::dot(&Kernels::SCALAR)(&w, &a);
            let got = F::dot(k)(&w, &a);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{} {tier} dot, {nb} blocks, round {round}: got {got:e}, spec {want:e}",
                F::TYPE
            );
        }
    }
}

fn gemm_same_bits<F: Format + Dispatch>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} gemm bits", F::TYPE)) else { return };
    let Some(gemm) = F::gemm(k) else {
        let _ = writeln!(std::io::stderr(), "{} {tier}: no multi-row kernel (one dot per value)", F::TYPE);
        return;
    };
    let (ws, as_) = scales::<F>();
    let mut rng = Rng::new(0x6e44 ^ u64::from(F::TYPE.id()) << 8 | tier as u64);
    for rb in [1, 3, 18] {
        for n_rows in [1, 2, 3, 4, 5, 7, 8, 9, 16, 21, 67] {
            for n_tok in [1, 2, 3, 4, 5, 7, 9] {
                let stride = n_rows + rng.below(3) as usize;
                let (w, a) = operands::<F>(&mut rng, ws, as_, n_rows * rb, n_tok * rb);
                gemm_is_spec::<F>(gemm, &w, &a, rb, stride, tier);
            }
        }
    }
}

/// [`gemm_same_bits`] at the shapes where the batch kernels change how they work: rows as long as
/// their scratch holds and one block longer, and more tokens than one chunk of their converted
/// activation scales (AVX2: 4096 f32, 8 per token tile and block).
fn gemm_batches_same_bits<F: Format + Dispatch>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} gemm batch bits", F::TYPE)) else { return };
    let Some(gemm) = F::gemm(k) else { return };
    let (ws, as_) = scales::<F>();
    let mut rng = Rng::new(0xba7c ^ u64::from(F::TYPE.id()) << 8 | tier as u64);
    for (rb, n_rows, n_tok) in [(128, 3, 21), (129, 2, 5), (18, 5, 130), (1, 2, 2051), (2, 4, 1030)] {
        for random in [true, false] {
            let (w, a) = operands_of::<F>(&mut rng, random, ws, as_, n_rows * rb, n_tok * rb);
            gemm_is_spec::<F>(gemm, &w, &a, rb, n_rows + 1, tier);
        }
    }
}

/// `gemm` of weight rows `w` and activation rows `a` (`rb` blocks each) with output stride
/// `stride` gives the spec's bits everywhere it writes, and writes nothing else.
fn gemm_is_spec<F: Format + Dispatch>(
    gemm: GemmFn<F>,
    w: &[F::Block],
    a: &[ActBlock<F>],
    rb: usize,
    stride: usize,
    tier: Tier,
) {
    let (n_rows, n_tok) = (w.len() / rb, a.len() / rb);
    let mut want = vec![f32::from_bits(0x7fc0_1234); n_tok * stride];
    let mut got = want.clone();
    gemm_by_dot::<F>(F::dot(&Kernels::SCALAR), w, a, rb, &mut want, stride);
    gemm(w, a, rb, &mut got, stride);
    for (i, (g, e)) in got.iter().zip(&want).enumerate() {
        assert!(
            g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
            "{} {tier} gemm: {rb} blocks/row, {n_rows} rows, {n_tok} tokens, stride {stride}: \
             out[{i}] = {g:e}, spec {e:e}",
            F::TYPE
        );
    }
}

macro_rules! exact_tests {
    ($($m:ident: $F:ty),* $(,)?) => {$(
        mod $m {
            use super::*;
            #[test]
            fn dot_avx2() { dot_same_bits::<$F>(Tier::Avx2) }
            #[test]
            fn dot_avx512vnni() { dot_same_bits::<$F>(Tier::Avx512Vnni) }
            #[test]
            fn dot_neon() { dot_same_bits::<$F>(Tier::Neon) }
            #[test]
            fn dot_dotprod() { dot_same_bits::<$F>(Tier::Dotprod) }
            #[test]
            fn gemm_avx2() { gemm_same_bits::<$F>(Tier::Avx2) }
            #[test]
            fn gemm_avx512vnni() { gemm_same_bits::<$F>(Tier::Avx512Vnni) }
            #[test]
            fn gemm_neon() { gemm_same_bits::<$F>(Tier::Neon) }
            #[test]
            fn gemm_dotprod() { gemm_same_bits::<$F>(Tier::Dotprod) }
            #[test]
            fn gemm_batches_avx2() { gemm_batches_same_bits::<$F>(Tier::Avx2) }
            #[test]
            fn gemm_batches_avx512vnni() { gemm_batches_same_bits::<$F>(Tier::Avx512Vnni) }
            #[test]
            fn gemm_batches_neon() { gemm_batches_same_bits::<$F>(Tier::Neon) }
            #[test]
            fn gemm_batches_dotprod() { gemm_batches_same_bits::<$F>(Tier::Dotprod) }
            #[test]
            fn gemm_scalar_is_none() { assert!(<$F as Dispatch>::gemm(&Kernels::SCALAR).is_none()) }
        }
    )*};
}

exact_tests! { q4_0: Q4_0, q4_1: Q4_1, q5_0: Q5_0, q5_1: Q5_1, q8_0: Q8_0 }

/// The spec's gemm is the dot per value, token-major with the stride.
#[test]
fn gemm_by_dot_layout() {
    let mut rng = Rng::new(7);
    let (w, a) = operands::<Q8_0>(&mut rng, 1, 1, 3 * 2, 2 * 2);
    let mut out = vec![-1.0f32; 2 * 5];
    gemm_by_dot::<Q8_0>(Q8_0::vec_dot, &w, &a, 2, &mut out, 5);
    for t in 0..2 {
        for r in 0..3 {
            let want = Q8_0::vec_dot(&w[r * 2..r * 2 + 2], &a[t * 2..t * 2 + 2]);
            assert_eq!(out[t * 5 + r].to_bits(), want.to_bits());
        }
        assert_eq!(&out[t * 5 + 3..t * 5 + 5], &[-1.0, -1.0]);
    }
}
