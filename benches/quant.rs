//! Dot-product and activation-quantizer throughput of every kernel tier this CPU runs (the
//! scalar spec and, e.g., AVX2 on x86_64 or NEON / dotprod on aarch64), at the row lengths of
//! SmolLM2-135M (hidden 576, FFN 1536). The K-quants need whole 256-value super-blocks, so they
//! run at 1536 only (a 576-wide row cannot be stored as a K-quant; llama.cpp falls back too).
//!
//! Quick run: `cargo bench -p emberlm-benches --bench quant -- --warm-up-time 1 --measurement-time 2`.
//! Medians are in `<target>/criterion/<group>/<tier>/<n>/new/estimates.json`.

use std::hint::black_box;

use bytemuck::Zeroable;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use emberlm_quant::formats::{
    bf16::BF16, f16::F16, f32::F32, q2_k::Q2K, q3_k::Q3K, q4_0::Q4_0, q4_1::Q4_1, q4_k::Q4K, q5_0::Q5_0,
    q5_1::Q5_1, q5_k::Q5K, q6_k::Q6K, q8_0::Q8_0, q8_k::Q8K,
};
use emberlm_quant::kernels::QuantizeFn;
use emberlm_quant::{Dispatch, Format, Kernels, Tier};

const LEGACY_LENGTHS: &[usize] = &[576, 1536];
const K_LENGTHS: &[usize] = &[1536];

/// Every tier this CPU can run, scalar first.
fn tiers() -> Vec<&'static Kernels> {
    Tier::ALL.into_iter().filter_map(Kernels::for_tier).collect()
}

/// Deterministic activation-like values (an LCG; gaussian-ish via a sum of uniforms).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut uniform = move || {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    (0..n).map(|_| (uniform() + uniform() + uniform()) * 2.0).collect()
}

fn quantize<F: Format>(x: &[f32]) -> Vec<F::Block> {
    let mut q = vec![F::Block::zeroed(); x.len() / F::ELEMS];
    F::quantize(x, &mut q);
    q
}

fn bench_dot<F: Dispatch>(c: &mut Criterion, name: &str, lengths: &[usize]) {
    let mut group = c.benchmark_group(format!("dot_{name}"));
    for &n in lengths {
        let w = quantize::<F>(&values(n, 1));
        let a = quantize::<F::Activation>(&values(n, 2));
        group.throughput(Throughput::Elements(n as u64));
        for k in tiers() {
            let dot = F::dot(k);
            group.bench_with_input(BenchmarkId::new(k.tier.name(), n), &n, |b, _| {
                b.iter(|| dot(black_box(&w), black_box(&a)))
            });
        }
    }
    group.finish();
}

fn dots(c: &mut Criterion) {
    bench_dot::<F32>(c, "f32", LEGACY_LENGTHS);
    bench_dot::<F16>(c, "f16", LEGACY_LENGTHS);
    bench_dot::<BF16>(c, "bf16", LEGACY_LENGTHS);
    bench_dot::<Q4_0>(c, "q4_0", LEGACY_LENGTHS);
    bench_dot::<Q4_1>(c, "q4_1", LEGACY_LENGTHS);
    bench_dot::<Q5_0>(c, "q5_0", LEGACY_LENGTHS);
    bench_dot::<Q5_1>(c, "q5_1", LEGACY_LENGTHS);
    bench_dot::<Q8_0>(c, "q8_0", LEGACY_LENGTHS);
    bench_dot::<Q2K>(c, "q2_k", K_LENGTHS);
    bench_dot::<Q3K>(c, "q3_k", K_LENGTHS);
    bench_dot::<Q4K>(c, "q4_k", K_LENGTHS);
    bench_dot::<Q5K>(c, "q5_k", K_LENGTHS);
    bench_dot::<Q6K>(c, "q6_k", K_LENGTHS);
}

fn bench_quantize<F: Format>(
    c: &mut Criterion,
    name: &str,
    lengths: &[usize],
    quantizer: fn(&Kernels) -> QuantizeFn<F>,
) {
    let mut group = c.benchmark_group(format!("quantize_{name}"));
    for &n in lengths {
        let x = values(n, 3);
        let mut out = vec![F::Block::zeroed(); n / F::ELEMS];
        group.throughput(Throughput::Elements(n as u64));
        for k in tiers() {
            let q = quantizer(k);
            group.bench_with_input(BenchmarkId::new(k.tier.name(), n), &n, |b, _| {
                b.iter(|| q(black_box(&x), black_box(&mut out)))
            });
        }
    }
    group.finish();
}

fn quantizers(c: &mut Criterion) {
    bench_quantize::<Q8_0>(c, "q8_0", LEGACY_LENGTHS, |k| k.quantize_q8_0);
    bench_quantize::<Q8K>(c, "q8_k", K_LENGTHS, |k| k.quantize_q8_k);
}

criterion_group!(benches, dots, quantizers);
criterion_main!(benches);
