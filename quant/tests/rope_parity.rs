//! Bit-exact parity of every tier's RoPE rotation (`Kernels::rope_rotate`) with its spec,
//! [`emberlm_quant::rope::rotate`]: both pairings, every rotated length up to 70 (whole vectors
//! and every remainder) and the heads of the supported models, heads longer than the rotated
//! part (left untouched), values and angles of every magnitude. A tier the CPU (or build) cannot
//! run prints `SKIPPED`.

mod common;

use common::{Rng, supported_tiers};
use emberlm_quant::rope::{self, RopePairs};

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn rope_rotate_is_bit_identical_on_every_tier() {
    let tiers = supported_tiers("rope_parity");
    let mut rng = Rng::new(0x5EED_0A0E);
    for pairs in [RopePairs::Adjacent, RopePairs::Halves] {
        for n in (0..=70).step_by(2).chain([128, 256]) {
            for extra in [0, 1, 5] {
                for _ in 0..6 {
                    let head: Vec<f32> = (0..n + extra)
                        .map(|_| if rng.below(5) == 0 { rng.wide(-20, 20) } else { rng.unit() * 8.0 })
                        .collect();
                    // [cos, sin] of angles small and large (as far positions make them)
                    let cache: Vec<f32> = (0..n / 2)
                        .flat_map(|_| {
                            let a = rng.unit() * if rng.below(2) == 0 { 3.2 } else { 1e5 };
                            [a.cos(), a.sin()]
                        })
                        .collect();
                    let mut want = head.clone();
                    rope::rotate(pairs, &cache, &mut want);
                    for k in &tiers {
                        let mut got = head.clone();
                        (k.rope_rotate)(pairs, &cache, &mut got);
                        for i in 0..head.len() {
                            assert!(
                                same(want[i], got[i]),
                                "{pairs:?} n={n}+{extra} i={i} tier {}: {} vs {}",
                                k.tier,
                                want[i],
                                got[i]
                            );
                        }
                    }
                }
            }
        }
    }
}
