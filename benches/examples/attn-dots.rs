//! Throughput of the f16 attention dots of one decoded token (`ggml_vec_dot_f16`, llama.cpp's
//! single-token path) at Gemma 3 270M's shape: a KV head of 256 values shared by its 4 query heads
//! (all on one thread) or 2 of them, scores against `n` keys (`VecDot`) and the output against the
//! `n`-long transposed value rows (`VecDotPadded`), for n = 512 (a sliding-window layer) and 4096.
//! In multiply-adds per second, best of many repetitions.
//!
//!     cargo run --release -p emberlm-benches --example attn-dots

use std::time::Instant;

use emberlm_quant::Kernels;
use emberlm_quant::lanes::DotOrder;
use half::f16;

fn values(n: usize, seed: u64) -> Vec<f16> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            f16::from_f32((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        })
        .collect()
}

fn time(mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..200 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let k = Kernels::best();
    let hd = 256;
    for (nq, n) in [(2, 512usize), (2, 4096), (4, 512), (4, 4096)] {
        let keys = values(n * hd, 1);
        let q = values(nq * hd, 2);
        let vt = values(hd * n, 3);
        let p = values(nq * n, 4);
        let mut out = vec![0f32; nq * n.max(hd)];
        let macs = (n * hd * nq) as f64;
        let tk = time(|| (k.lanes_dot_f16_rows)(&keys, hd, &q, nq, DotOrder::VecDot, &mut out[..nq * n]));
        let tv = time(|| (k.lanes_dot_f16_rows)(&vt, n, &p, nq, DotOrder::VecDotPadded, &mut out[..nq * hd]));
        // cold: a different layer's keys and values each time, 64 MiB in all (more than the L3)
        let sets = (64 << 20) / (4 * n * hd);
        let kc: Vec<Vec<f16>> = (0..sets).map(|i| values(n * hd, 10 + i as u64)).collect();
        let vc: Vec<Vec<f16>> = (0..sets).map(|i| values(n * hd, 1000 + i as u64)).collect();
        let (mut ik, mut iv) = (0, 0);
        let tkc = time(|| {
            ik = (ik + 1) % sets;
            (k.lanes_dot_f16_rows)(&kc[ik], hd, &q, nq, DotOrder::VecDot, &mut out[..nq * n])
        });
        let tvc = time(|| {
            iv = (iv + 1) % sets;
            (k.lanes_dot_f16_rows)(&vc[iv], n, &p, nq, DotOrder::VecDotPadded, &mut out[..nq * hd])
        });
        println!(
            "{} {nq} heads, n={n}: scores {:.1} GMAC/s hot, {:.1} cold ({:.1} us); values {:.1} hot, {:.1} cold ({:.1} us)",
            k.tier,
            macs / tk / 1e9,
            macs / tkc / 1e9,
            tkc * 1e6,
            macs / tv / 1e9,
            macs / tvc / 1e9,
            tvc * 1e6,
        );
    }
}
