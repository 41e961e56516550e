//! Bit-exact parity of every tier's vector `exp` kernels (`Kernels::softmax_exp`,
//! `Kernels::swiglu`) with their spec, [`emberlm_quant::vexp`], on every row length (whole
//! chunks of 8 and every remainder) and on inputs across the whole f32 range (the slow paths
//! of `ggml_v_expf` past |n| > 126 and > 192, infinities, `-inf` masks). A tier the CPU (or
//! build) cannot run prints `SKIPPED`.

mod common;

use common::{Rng, supported_tiers};
use emberlm_quant::vexp;

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Inputs: unit values, wide magnitudes of both signs (overflow, underflow, subnormal results),
/// and some `-inf` (masked positions) and `+inf`.
fn row(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.below(10) {
            0 => f32::NEG_INFINITY,
            1 => rng.wide(-10, 8),
            2 => rng.unit() * 200.0,
            3 => -(rng.below(4000) as f32) * 0.05,
            _ => rng.unit() * 12.0,
        })
        .collect()
}

#[test]
fn softmax_exp_is_bit_identical_on_every_tier() {
    let tiers = supported_tiers("vexp_parity");
    let mut rng = Rng::new(0x5EED_0E4F);
    for n in (0..70).chain([255, 256, 257, 1024, 2048]) {
        for _ in 0..8 {
            let x = row(&mut rng, n);
            let max =
                if rng.below(2) == 0 { 0.0 } else { x.iter().copied().fold(f32::NEG_INFINITY, f32::max) };
            let mut want = x.clone();
            let ws = vexp::softmax_exp(&mut want, max);
            for k in &tiers {
                let mut got = x.clone();
                let gs = (k.softmax_exp)(&mut got, max);
                assert!(
                    ws.to_bits() == gs.to_bits() || (ws.is_nan() && gs.is_nan()),
                    "n={n} tier {}: sum",
                    k.tier
                );
                for i in 0..n {
                    assert!(
                        same(want[i], got[i]),
                        "n={n} i={i} x={} tier {}: {} vs {}",
                        x[i],
                        k.tier,
                        want[i],
                        got[i]
                    );
                }
            }
        }
    }
}

#[test]
fn v_expf_is_bit_identical_on_every_tier_over_a_sweep_of_f32() {
    // Every 997th f32 bit pattern (4.3 million values), 8 at a time through softmax_exp (max 0).
    let tiers = supported_tiers("vexp_parity");
    let mut x: Vec<f32> = (0..=u32::MAX / 997).map(|i| f32::from_bits(i * 997)).collect();
    x.truncate(x.len() / 8 * 8);
    let mut want = x.clone();
    for v in want.iter_mut() {
        *v = vexp::v_expf(*v);
    }
    for k in &tiers {
        for (c, w) in x.chunks(1 << 16).zip(want.chunks(1 << 16)) {
            let mut got = c.to_vec();
            (k.softmax_exp)(&mut got, 0.0);
            for i in 0..c.len() {
                assert!(
                    same(w[i], got[i]),
                    "x={:e} ({:#x}) tier {}: {} vs {}",
                    c[i],
                    c[i].to_bits(),
                    k.tier,
                    w[i],
                    got[i]
                );
            }
        }
    }
}

#[test]
fn swiglu_is_bit_identical_on_every_tier() {
    let tiers = supported_tiers("vexp_parity");
    let mut rng = Rng::new(0x5EED_5110);
    for n in (0..70).chain([1536, 2048 + 3]) {
        for _ in 0..8 {
            let g = row(&mut rng, n);
            let u: Vec<f32> = (0..n).map(|_| rng.unit() * 4.0).collect();
            let mut want = g.clone();
            vexp::swiglu(&mut want, &u);
            for k in &tiers {
                let mut got = g.clone();
                (k.swiglu)(&mut got, &u);
                for i in 0..n {
                    assert!(
                        same(want[i], got[i]),
                        "n={n} i={i} g={} tier {}: {} vs {}",
                        g[i],
                        k.tier,
                        want[i],
                        got[i]
                    );
                }
            }
        }
    }
}
