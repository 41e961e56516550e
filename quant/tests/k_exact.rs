//! Every tier's `q4_K` / `q6_K` products and the `q8_K` quantizers give **the same bits** as the
//! scalar spec (llama.cpp's x86-64 AVX2 arithmetic, see `k_llama_x86.rs`), on any input: random
//! bytes (any `i8`, -128 included; `bsums` that do not match `qs`), random finite scales of every
//! magnitude, blocks quantized from random values; every row count around the 8-row tiles and
//! several activation-row counts and output strides for the multi-row kernels. A dropped or extra
//! rounding (an FMA split into a multiply and an add, a different summation order) changes the
//! last bits of most of these values.
//!
//! A tier this CPU cannot run prints `SKIPPED: ...` and returns.

#[macro_use]
mod common;

use bytemuck::Zeroable;
use common::{Rng, assert_same_bits, tier_kernels};
use emberlm_quant::formats::q4_k::{BlockQ4K, Q4K};
use emberlm_quant::formats::q6_k::{BlockQ6K, Q6K};
use emberlm_quant::formats::q8_k::{BlockQ8K, Q8K};
use emberlm_quant::kernels::{DotFn, GemmFn, gemm_by_dot};
use emberlm_quant::{Format, Kernels, Tier};
use half::f16;

fn any_f16(rng: &mut Rng) -> f16 {
    loop {
        let h = f16::from_bits(rng.next_u64() as u16);
        if h.is_finite() {
            return h;
        }
    }
}

fn scale_f16(rng: &mut Rng) -> f16 {
    if rng.below(4) == 0 { any_f16(rng) } else { rng.scale_f16() }
}

fn random_q4k(rng: &mut Rng) -> BlockQ4K {
    let mut b: BlockQ4K = rng.block();
    b.d = scale_f16(rng);
    b.dmin = scale_f16(rng);
    b
}

fn random_q6k(rng: &mut Rng) -> BlockQ6K {
    let mut b: BlockQ6K = rng.block();
    b.d = scale_f16(rng);
    b
}

fn random_q8k(rng: &mut Rng) -> BlockQ8K {
    let mut b: BlockQ8K = rng.block();
    b.d = if rng.below(4) == 0 { rng.wide(-30, 30) } else { rng.scale() };
    if rng.below(2) == 0 {
        // consistent bsums, as the quantizers write them
        for (s, g) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = g.iter().map(|&q| q as i16).sum();
        }
    }
    b
}

fn quantized<F: Format>(rng: &mut Rng, n: usize) -> Vec<F::Block> {
    let x = rng.values(n * F::ELEMS);
    let mut out = vec![F::Block::zeroed(); n];
    F::quantize(&x, &mut out);
    out
}

fn weights<F: Format>(rng: &mut Rng, n: usize, random: fn(&mut Rng) -> F::Block) -> Vec<F::Block> {
    if rng.below(2) == 0 { (0..n).map(|_| random(rng)).collect() } else { quantized::<F>(rng, n) }
}

fn acts(rng: &mut Rng, n: usize) -> Vec<BlockQ8K> {
    if rng.below(2) == 0 { (0..n).map(|_| random_q8k(rng)).collect() } else { quantized::<Q8K>(rng, n) }
}

/// Activations whose `bsums` are the sums of their quants, as every `q8_K` block the quantizers
/// make: a kernel may then take either for the other (the tiled `q6_K` kernel forms its exact
/// integer sums with `bsums`, llama.cpp's tiled kernel and the spec from the quants).
fn consistent_acts(rng: &mut Rng, n: usize) -> Vec<BlockQ8K> {
    let mut a = acts(rng, n);
    for b in &mut a {
        for (s, g) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = g.iter().map(|&q| q as i16).sum();
        }
    }
    a
}

/// `dot` and `gemm` of `tier` against the spec's `spec` on many operand shapes.
fn check<F: Format<Activation = Q8K>>(
    what: &str,
    spec: DotFn<F>,
    dot: DotFn<F>,
    gemm: Option<GemmFn<F>>,
    random: fn(&mut Rng) -> F::Block,
    seed: u64,
    acts: fn(&mut Rng, usize) -> Vec<BlockQ8K>,
) {
    let mut rng = Rng::new(seed);
    for case in 0..300 {
        let nb = 1 + rng.below(5) as usize;
        let w = weights::<F>(&mut rng, nb, random);
        let a = acts(&mut rng, nb);
        let (g, s) = (dot(&w, &a), spec(&w, &a));
        assert_same_bits(&[g], &[s], &format!("{what}: dot case {case} ({nb} blocks)"));
    }
    let Some(gemm) = gemm else { return };
    for case in 0..60 {
        let nb = 1 + rng.below(4) as usize;
        let rows = [1, 3, 7, 8, 9, 15, 16, 17, 24][rng.below(9) as usize];
        let toks = [1, 2, 5, 9, 16, 17, 33][rng.below(7) as usize];
        let stride = rows + rng.below(3) as usize;
        let w = weights::<F>(&mut rng, rows * nb, random);
        let a = acts(&mut rng, toks * nb);
        let mut want = vec![0.0; toks * stride];
        gemm_by_dot::<F>(spec, &w, &a, nb, &mut want, stride);
        let mut got = vec![0.0; toks * stride];
        gemm(&w, &a, nb, &mut got, stride);
        assert_same_bits(
            &got,
            &want,
            &format!("{what}: gemm case {case} ({rows} rows, {toks} tokens, {nb} blocks)"),
        );
    }
}

fn run(tier: Tier) {
    let Some(k) = tier_kernels(tier, "k_exact") else { return };
    let t = k.tier;
    check::<Q4K>(&format!("{t} q4_K vec_dot"), Q4K::vec_dot, k.dot_q4_k, k.gemm_q4_k, random_q4k, 1, acts);
    check::<Q4K>(
        &format!("{t} q4_K gemv"),
        Q4K::dot_gemv,
        k.dot_q4_k_gemv,
        k.gemm_q4_k_gemv,
        random_q4k,
        2,
        acts,
    );
    check::<Q4K>(
        &format!("{t} q4_K gemm"),
        Q4K::dot_gemm,
        k.dot_q4_k_gemm,
        k.gemm_q4_k_gemm,
        random_q4k,
        3,
        acts,
    );
    check::<Q6K>(&format!("{t} q6_K"), Q6K::vec_dot, k.dot_q6_k, k.gemm_q6_k, random_q6k, 4, acts);
    check::<Q6K>(
        &format!("{t} q6_K tiled"),
        Q6K::dot_tiled,
        k.dot_q6_k_tiled,
        k.gemm_q6_k_tiled,
        random_q6k,
        6,
        consistent_acts,
    );

    let mut rng = Rng::new(5);
    for case in 0..200 {
        let nb = 1 + rng.below(3) as usize;
        let mut x = rng.values(nb * 256);
        if case % 2 == 0 {
            // ties of magnitude, -amax first or +amax first
            for b in 0..nb {
                let amax = x[b * 256..][..256].iter().fold(0f32, |m, v| m.max(v.abs())) * 1.25;
                let (i, j) = (rng.below(256) as usize, rng.below(256) as usize);
                let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
                x[b * 256 + i] = sign * amax;
                x[b * 256 + j] = -sign * amax;
            }
        }
        if case % 7 == 0 {
            x[..256].fill(0.0);
        }
        if case % 5 == 0 {
            x[7] = f32::NAN;
        }
        for (name, spec, got) in [
            ("quantize_q8_k", Q8K::quantize as fn(&[f32], &mut [BlockQ8K]), k.quantize_q8_k),
            ("quantize_q8_k_4rows", Q8K::quantize_4rows, k.quantize_q8_k_4rows),
        ] {
            let mut want = vec![BlockQ8K::zeroed(); nb];
            spec(&x, &mut want);
            let mut out = vec![BlockQ8K::zeroed(); nb];
            got(&x, &mut out);
            let same =
                bytemuck::cast_slice::<BlockQ8K, u8>(&out) == bytemuck::cast_slice::<BlockQ8K, u8>(&want);
            assert!(same, "{t} {name}: case {case} differs from the spec");
        }
    }
}

#[test]
fn scalar_gemm_helpers_are_the_spec() {
    // the scalar table has no multi-row kernels: every product is one spec dot per value
    let k = Kernels::SCALAR;
    assert!(k.gemm_q4_k.is_none() && k.gemm_q6_k.is_none());
    assert!(k.gemm_q4_k_gemv.is_none() && k.gemm_q4_k_gemm.is_none());
}

tier_tests!(run);
