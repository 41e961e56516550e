//! Bit-exact parity of every tier's attention dots (`Kernels::lanes_dot_f32`,
//! `Kernels::lanes_dot_f16`, in each of llama.cpp's three orders) with their spec,
//! [`emberlm_quant::lanes`].
//!
//! Unlike the weight-format dots (equal to the spec only within a float bound), these must give
//! the **same bits** on every tier for all inputs: attention feeds activations that get quantized
//! to 8 bits, where a one-ulp difference can flip a rounding. So every check here is `to_bits`
//! equality, on random inputs of many lengths (every tail length, every 8-chunk count) and
//! magnitudes (down to f16 subnormals, up to values whose sums overflow to infinity). A tier the
//! CPU (or build) cannot run prints `SKIPPED` and returns.

mod common;

use common::{Rng, supported_tiers};
use emberlm_quant::lanes::DotOrder;
use emberlm_quant::{Kernels, Tier, lanes};

const ORDERS: [DotOrder; 3] = [DotOrder::VecDot, DotOrder::VecDotPadded, DotOrder::Tinyblas];
use half::f16;

const LENGTHS: &[usize] = &[
    0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 39, 40, 47, 48, 56, 63, 64, 65, 80, 95, 96, 100, 127,
    128, 129, 255, 256, 257, 511, 512, 1000, 2048,
];

/// A generator of one input value.
type Gen = Box<dyn Fn(&mut Rng) -> f32>;

/// The input families: (name, generator of one value).
fn families() -> Vec<(&'static str, Gen)> {
    vec![
        ("unit", Box::new(|r: &mut Rng| r.unit())),
        ("wide", Box::new(|r: &mut Rng| r.wide(-30, 12))),
        // SmolLM2-like massive activations: mostly small, a few in the thousands.
        (
            "massive",
            Box::new(|r: &mut Rng| if r.next_u64() % 61 == 0 { r.unit() * 3000.0 } else { r.unit() * 0.1 }),
        ),
        ("overflowing", Box::new(|r: &mut Rng| r.wide(100, 127))),
        ("probabilities", Box::new(|r: &mut Rng| r.wide(-40, 0).abs())),
    ]
}

fn assert_same_bits(what: &str, tier: Tier, n: usize, want: f32, got: f32) {
    assert!(
        want.to_bits() == got.to_bits() || (want.is_nan() && got.is_nan()),
        "{what} n={n} tier {tier}: spec {want:e} ({:#010x}) vs {got:e} ({:#010x})",
        want.to_bits(),
        got.to_bits()
    );
}

#[test]
fn lanes_dot_f32_is_bit_identical_on_every_tier() {
    let tiers = supported_tiers("lanes_parity");
    for (name, gen_value) in families() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
        for &n in LENGTHS {
            for _ in 0..4 {
                let x: Vec<f32> = (0..n).map(|_| gen_value(&mut rng)).collect();
                let y: Vec<f32> = (0..n).map(|_| gen_value(&mut rng)).collect();
                for o in ORDERS {
                    let want = lanes::dot_f32(&x, &y, o);
                    for k in &tiers {
                        assert_same_bits(name, k.tier, n, want, (k.lanes_dot_f32)(&x, &y, o));
                    }
                }
            }
        }
    }
}

#[test]
fn lanes_dot_f16_is_bit_identical_on_every_tier() {
    let tiers = supported_tiers("lanes_parity");
    for (name, gen_value) in families() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ name.len() as u64);
        for &n in LENGTHS {
            for _ in 0..4 {
                // f16 range: values past 65504 become infinities, tiny ones subnormals or zeros.
                let x: Vec<f16> = (0..n).map(|_| f16::from_f32(gen_value(&mut rng))).collect();
                let y: Vec<f16> = (0..n).map(|_| f16::from_f32(gen_value(&mut rng))).collect();
                for o in ORDERS {
                    let want = lanes::dot_f16(&x, &y, o);
                    for k in &tiers {
                        assert_same_bits(name, k.tier, n, want, (k.lanes_dot_f16)(&x, &y, o));
                    }
                }
            }
        }
    }
}

/// The many-rows products (`Kernels::lanes_dot_f16_rows`): every row and vector the spec's
/// single dot, for row counts around the kernels' tiles (3 and 4 rows), 1 to 6 vectors (the
/// query heads of a KV group) and strides wider than the rows.
#[test]
fn lanes_dot_f16_rows_is_the_dot_of_every_row_on_every_tier() {
    let tiers = supported_tiers("lanes_parity");
    for (name, gen_value) in families() {
        let mut rng = Rng(0xA076_1D64_78BD_642F ^ name.len() as u64);
        // (plus lengths around the 2048 values the AVX2 kernels widen once on the stack, and
        // longer ones, which they take one vector at a time: a long context's value rows
        // against 2 to 5 query heads, rows around the 2-row tile)
        let long = [
            (2048, 2, 3),
            (2049, 2, 3),
            (2100, 2, 2),
            (2100, 9, 3),
            (513, 9, 4),
            (1024, 8, 4),
            (1100, 17, 5),
            (4100, 3, 4),
            (600, 1, 4),
        ];
        let cases = LENGTHS.iter().filter(|&&n| n <= 257).flat_map(|&n| {
            [0, 1, 2, 3, 4, 5, 7, 8, 11].into_iter().flat_map(move |r| [1, 2, 3, 4, 6].map(|q| (n, r, q)))
        });
        for (n, n_rows, n_y) in cases.chain(long) {
            let stride = n + (rng.next_u64() % 5) as usize;
            let len = if n_rows == 0 { 0 } else { (n_rows - 1) * stride + n };
            let x: Vec<f16> = (0..len).map(|_| f16::from_f32(gen_value(&mut rng))).collect();
            let y: Vec<f16> = (0..n * n_y).map(|_| f16::from_f32(gen_value(&mut rng))).collect();
            for o in ORDERS {
                let want: Vec<f32> = (0..n_y * n_rows)
                    .map(|i| {
                        let (j, r) = (i / n_rows, i % n_rows);
                        lanes::dot_f16(&x[r * stride..r * stride + n], &y[j * n..(j + 1) * n], o)
                    })
                    .collect();
                for k in &tiers {
                    let mut got = vec![f32::NAN; n_y * n_rows];
                    (k.lanes_dot_f16_rows)(&x, stride, &y, n_y, o, &mut got);
                    for (&w, &g) in want.iter().zip(&got) {
                        assert_same_bits(name, k.tier, n, w, g);
                    }
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "too few values")]
fn lanes_dot_f16_rows_short_operand_panics() {
    let k = Kernels::best();
    let mut out = [0f32; 3];
    (k.lanes_dot_f16_rows)(&[f16::ONE; 20], 8, &[f16::ONE; 8], 1, DotOrder::Tinyblas, &mut out);
}

#[test]
#[should_panic(expected = "vectors")]
fn lanes_dot_f16_rows_uneven_vectors_panic() {
    let k = Kernels::best();
    let mut out = [0f32; 4];
    (k.lanes_dot_f16_rows)(&[f16::ONE; 64], 8, &[f16::ONE; 9], 2, DotOrder::Tinyblas, &mut out);
}

#[test]
fn lanes_dot_f16_covers_subnormals_and_extremes() {
    let tiers = supported_tiers("lanes_parity");
    // Every f16 bit pattern that is finite, paired with a rotating partner.
    let all: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).filter(|h| h.is_finite()).collect();
    for start in (0..all.len()).step_by(4096) {
        let x = &all[start..(start + 4096).min(all.len())];
        let y: Vec<f16> = x.iter().rev().copied().collect();
        for o in ORDERS {
            let want = lanes::dot_f16(x, &y, o);
            for k in &tiers {
                assert_same_bits("all-f16", k.tier, x.len(), want, (k.lanes_dot_f16)(x, &y, o));
            }
        }
    }
}

#[test]
fn lanes_dots_sum_in_the_spec_order_not_in_f64() {
    // The spec is not "the exact dot rounded": catch a tier that silently sums in f64 or in
    // order. 1e8 and -1e8 cancel in the reduction tree (lanes 0 and 16 of vec_dot, lanes 0 and
    // 0 of two tinyBLAS chunks), after the 1.0 would have been absorbed by a sequential sum.
    let mut x = vec![0f32; 32];
    x[0] = 1e8;
    x[1] = 1.0;
    x[16] = -1e8;
    let ones = vec![1f32; 32];
    for k in supported_tiers("lanes_parity") {
        for o in ORDERS {
            assert_eq!((k.lanes_dot_f32)(&x, &ones, o), 1.0, "tier {} {o:?}", k.tier);
        }
        let seq: f32 = x.iter().sum();
        assert_eq!(seq, 0.0, "the sequential sum differs, so this input tells the orders apart");
    }
}

#[test]
#[should_panic(expected = "operand lengths")]
fn lanes_dot_wrong_lengths_panic() {
    let k = Kernels::best();
    (k.lanes_dot_f32)(&[1.0; 9], &[1.0; 8], DotOrder::VecDot);
}
