//! Throughput of the multi-row (`gemm`) kernels of the best tier this CPU runs (or
//! `EMBERLM_TIER`'s), at the shapes of SmolLM2-135M and Gemma 3 270M: decoding (one token;
//! weights hot in L2, then cold from memory (the 33 MB set is about the size of this machine's
//! L3, so partly cached), in GB/s of weights read; Gemma's output projection also on 2 threads)
//! and a batch of 64 tokens (in multiply-adds per second). The best of many repetitions, so that
//! a noisy machine shows what the kernel can do; the tile shapes in
//! `quant/src/kernels/x86_64/avx2/gemm.rs` were chosen with it.
//!
//!     cargo run --release -p emberlm-benches --example gemm-throughput

use std::time::Instant;

use bytemuck::Zeroable;
use emberlm_quant::formats::{q4_1::Q4_1, q4_k::Q4K, q5_0::Q5_0, q6_k::Q6K, q8_0::Q8_0};
use emberlm_quant::kernels::GemmFn;
use emberlm_quant::{Dispatch, Format, Kernels};

/// Deterministic values in [-0.5, 0.5).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn quantize<F: Format>(x: &[f32]) -> Vec<F::Block> {
    let mut b = vec![F::Block::zeroed(); x.len() / F::ELEMS];
    F::quantize(x, &mut b);
    b
}

/// One token against `mats` matrices of `rows x cols` in turn (more than the caches hold when
/// `mats` is large): GB/s of weights.
fn decode<F: Dispatch>(name: &str, k: &Kernels, rows: usize, cols: usize, mats: usize) {
    let Some(gemm) = F::gemm(k) else { return println!("{name}: no multi-row kernel on {}", k.tier) };
    decode_with::<F>(name, gemm, rows, cols, mats);
}

/// [`decode`] with a given multi-row kernel (the `q4_K` repacked-order gemv has its own entry).
fn decode_with<F: Dispatch>(name: &str, gemm: GemmFn<F>, rows: usize, cols: usize, mats: usize) {
    let w: Vec<Vec<F::Block>> =
        (0..mats).map(|m| quantize::<F>(&values(rows * cols, m as u64 + 7))).collect();
    let a = quantize::<F::Activation>(&values(cols, 3));
    let mut out = vec![0f32; rows];
    let bytes = (rows * cols / F::ELEMS * size_of::<F::Block>() * mats) as f64;
    let reps = (20e6 / bytes).ceil() as usize;
    let mut best = f64::MAX;
    for _ in 0..40 {
        let t = Instant::now();
        for _ in 0..reps {
            for m in &w {
                gemm(m, &a, cols / F::ELEMS, &mut out, rows);
            }
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    println!("{name} decode {rows}x{cols} x{mats} ({:.1} MB): {:.2} GB/s", bytes / 1e6, bytes / best / 1e9);
}

/// `toks` tokens against one `rows x cols` matrix: multiply-adds per second.
fn batch<F: Dispatch>(name: &str, k: &Kernels, rows: usize, cols: usize, toks: usize) {
    let Some(gemm) = F::gemm(k) else { return println!("{name}: no multi-row kernel on {}", k.tier) };
    let w = quantize::<F>(&values(rows * cols, 7));
    let a = quantize::<F::Activation>(&values(cols * toks, 3));
    let mut out = vec![0f32; rows * toks];
    let mut best = f64::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        gemm(&w, &a, cols / F::ELEMS, &mut out, rows);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{name} batch {rows}x{cols} x {toks} tokens: {:.1} GMAC/s",
        (rows * cols * toks) as f64 / best / 1e9
    );
}

/// [`decode`] of one matrix with its rows split between 2 threads.
fn decode2<F: Dispatch>(name: &str, k: &Kernels, rows: usize, cols: usize)
where
    F::Block: Sync,
    <F::Activation as Format>::Block: Sync,
{
    let Some(gemm) = F::gemm(k) else { return };
    let w = quantize::<F>(&values(rows * cols, 7));
    let a = quantize::<F::Activation>(&values(cols, 3));
    let mut out = vec![0f32; rows];
    let bytes = (rows * cols / F::ELEMS * size_of::<F::Block>()) as f64;
    let rb = cols / F::ELEMS;
    let mut best = f64::MAX;
    for _ in 0..10 {
        let t = Instant::now();
        let (w0, w1) = w.split_at(rows / 2 * rb);
        let (o0, o1) = out.split_at_mut(rows / 2);
        std::thread::scope(|s| {
            s.spawn(|| gemm(w1, &a, rb, o1, rows - rows / 2));
            gemm(w0, &a, rb, o0, rows / 2);
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{name} decode {rows}x{cols}, 2 threads: {:.2} GB/s", bytes / best / 1e9);
}

fn main() -> Result<(), String> {
    let k = Kernels::from_env().map_err(|e| e.to_string())?;
    println!("tier {}", k.tier);
    decode::<Q4_1>("q4_1", k, 576, 576, 1);
    decode::<Q4_1>("q4_1", k, 1536, 576, 60);
    decode::<Q5_0>("q5_0", k, 2048, 640, 1);
    decode::<Q8_0>("q8_0", k, 576, 576, 1);
    if let Some(gemv) = k.gemm_q4_k_gemv {
        decode_with::<Q4K>("q4_K gemv", gemv, 640, 2048, 1);
        decode_with::<Q4K>("q4_K gemv", gemv, 640, 2048, 30);
    }
    decode::<Q6K>("q6_K", k, 640, 2048, 1);
    decode::<Q6K>("q6_K", k, 640, 2048, 30);
    decode::<Q5_0>("q5_0", k, 2048, 640, 30);
    decode::<Q8_0>("q8_0", k, 262_144, 640, 1);
    decode2::<Q8_0>("q8_0", k, 262_144, 640);
    batch::<Q4_1>("q4_1", k, 1536, 576, 64);
    batch::<Q5_0>("q5_0", k, 2048, 640, 64);
    batch::<Q8_0>("q8_0", k, 576, 576, 64);
    Ok(())
}
