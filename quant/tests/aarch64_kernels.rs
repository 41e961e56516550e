//! The aarch64 kernels' stronger claim, which `kernel_parity.rs` (a bound for every tier) does not
//! check: the integer formats whose kernels evaluate the spec's float expression in the spec's
//! order are **bit-identical** to [`Kernels::SCALAR`] on any input, not only on exact-arithmetic
//! ones. That is every legacy format and `q2_K` on both the `neon` and `dotprod` tiers, and
//! `q3_K q4_K q5_K q6_K` on the `neon` tier (which keeps the spec's 8 integer lanes); see
//! `quant/src/kernels/aarch64/mod.rs`.
//!
//! Inputs: random bytes with finite random scales (as the fixtures), llama.cpp's random fixture
//! blocks, extreme blocks (every quant at its largest magnitude against `-128` activations, which
//! bounds the i16 partial sums the kernels rely on), at 1..=40 blocks. A tier this CPU cannot run
//! prints `SKIPPED` and checks nothing.

mod common;

use std::io::Write;

use bytemuck::Pod;
use common::fixture_blocks;
use emberlm_quant::formats::q2_k::{BlockQ2K, Q2K};
use emberlm_quant::formats::q3_k::{BlockQ3K, Q3K};
use emberlm_quant::formats::q4_0::{BlockQ4_0, Q4_0};
use emberlm_quant::formats::q4_1::{BlockQ4_1, Q4_1};
use emberlm_quant::formats::q4_k::{BlockQ4K, Q4K};
use emberlm_quant::formats::q5_0::{BlockQ5_0, Q5_0};
use emberlm_quant::formats::q5_1::{BlockQ5_1, Q5_1};
use emberlm_quant::formats::q5_k::{BlockQ5K, Q5K};
use emberlm_quant::formats::q6_k::{BlockQ6K, Q6K};
use emberlm_quant::formats::q8_0::{BlockQ8_0, Q8_0};
use emberlm_quant::formats::q8_1::BlockQ8_1;
use emberlm_quant::formats::q8_k::BlockQ8K;
use emberlm_quant::{Dispatch, Format, Kernels, Tier};
use half::f16;

type ActBlock<F> = <<F as Format>::Activation as Format>::Block;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn block<B: Pod>(&mut self) -> B {
        let mut b = B::zeroed();
        for byte in bytemuck::bytes_of_mut(&mut b) {
            *byte = self.next() as u8;
        }
        b
    }
    /// 1/8 exactly 0, else ±2^[-10, 3) with a random mantissa (the fixtures' scales).
    fn scale(&mut self) -> f32 {
        let r = self.next();
        if r % 8 == 0 {
            return 0.0;
        }
        let sign = if (r >> 3) & 1 == 0 { 1.0 } else { -1.0 };
        let exp = ((r >> 4) % 13) as i32 - 10;
        sign * 2f32.powi(exp) * (1.0 + ((r >> 20) & 0x7f_ffff) as f32 / (1u32 << 23) as f32)
    }
    fn scale_f16(&mut self) -> f16 {
        f16::from_f32(self.scale())
    }
}

/// A weight format with its random and extreme blocks, and its activation's.
trait Case: Dispatch {
    const NAME: &'static str;
    fn random(rng: &mut Rng) -> Self::Block;
    fn random_act(rng: &mut Rng) -> ActBlock<Self>;
    /// Every quant at its largest magnitude (its scales random).
    fn extreme(rng: &mut Rng) -> Self::Block;
    /// Every activation quant `-128`.
    fn extreme_act(rng: &mut Rng) -> ActBlock<Self>;
    fn fixture_act() -> Vec<ActBlock<Self>>;
}

fn q8_0_act(rng: &mut Rng, q: Option<i8>) -> BlockQ8_0 {
    let b = BlockQ8_0 { d: rng.scale_f16(), ..rng.block() };
    match q {
        Some(q) => BlockQ8_0 { qs: [q; 32], ..b },
        None => b,
    }
}

fn q8_1_act(rng: &mut Rng, q: Option<i8>) -> BlockQ8_1 {
    let b = BlockQ8_1 { d: rng.scale_f16(), s: rng.scale_f16(), ..rng.block() };
    match q {
        Some(q) => BlockQ8_1 { qs: [q; 32], ..b },
        None => b,
    }
}

fn q8_k_act(rng: &mut Rng, q: Option<i8>) -> BlockQ8K {
    let b = BlockQ8K { d: rng.scale(), ..rng.block() };
    match q {
        // bsums consistent with qs, as the quantizer writes them
        Some(q) => BlockQ8K { qs: [q; 256], bsums: [16 * i16::from(q); 16], ..b },
        None => b,
    }
}

macro_rules! legacy_act {
    (Q8_0) => {
        fn random_act(rng: &mut Rng) -> BlockQ8_0 {
            q8_0_act(rng, None)
        }
        fn extreme_act(rng: &mut Rng) -> BlockQ8_0 {
            q8_0_act(rng, Some(-128))
        }
        fn fixture_act() -> Vec<BlockQ8_0> {
            fixture_blocks("q8_0.rand")
        }
    };
    (Q8_1) => {
        fn random_act(rng: &mut Rng) -> BlockQ8_1 {
            q8_1_act(rng, None)
        }
        fn extreme_act(rng: &mut Rng) -> BlockQ8_1 {
            q8_1_act(rng, Some(-128))
        }
        fn fixture_act() -> Vec<BlockQ8_1> {
            fixture_blocks("q8_1.rand")
        }
    };
    (Q8K) => {
        fn random_act(rng: &mut Rng) -> BlockQ8K {
            q8_k_act(rng, None)
        }
        fn extreme_act(rng: &mut Rng) -> BlockQ8K {
            q8_k_act(rng, Some(-128))
        }
        fn fixture_act() -> Vec<BlockQ8K> {
            fixture_blocks("q8_k.rand")
        }
    };
}

impl Case for Q4_0 {
    const NAME: &'static str = "q4_0";
    fn random(rng: &mut Rng) -> BlockQ4_0 {
        BlockQ4_0 { d: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ4_0 {
        BlockQ4_0 { d: rng.scale_f16(), qs: [0; 16] } // every code -8
    }
    legacy_act!(Q8_0);
}

impl Case for Q4_1 {
    const NAME: &'static str = "q4_1";
    fn random(rng: &mut Rng) -> BlockQ4_1 {
        BlockQ4_1 { d: rng.scale_f16(), m: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ4_1 {
        BlockQ4_1 { d: rng.scale_f16(), m: rng.scale_f16(), qs: [0xFF; 16] }
    }
    legacy_act!(Q8_1);
}

impl Case for Q5_0 {
    const NAME: &'static str = "q5_0";
    fn random(rng: &mut Rng) -> BlockQ5_0 {
        BlockQ5_0 { d: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ5_0 {
        BlockQ5_0 { d: rng.scale_f16(), qh: [0; 4], qs: [0; 16] } // every code -16
    }
    legacy_act!(Q8_0);
}

impl Case for Q5_1 {
    const NAME: &'static str = "q5_1";
    fn random(rng: &mut Rng) -> BlockQ5_1 {
        BlockQ5_1 { d: rng.scale_f16(), m: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ5_1 {
        BlockQ5_1 { d: rng.scale_f16(), m: rng.scale_f16(), qh: [0xFF; 4], qs: [0xFF; 16] }
    }
    legacy_act!(Q8_1);
}

impl Case for Q8_0 {
    const NAME: &'static str = "q8_0";
    fn random(rng: &mut Rng) -> BlockQ8_0 {
        q8_0_act(rng, None)
    }
    fn extreme(rng: &mut Rng) -> BlockQ8_0 {
        q8_0_act(rng, Some(-128))
    }
    legacy_act!(Q8_0);
}

impl Case for Q2K {
    const NAME: &'static str = "q2_k";
    fn random(rng: &mut Rng) -> BlockQ2K {
        BlockQ2K { d: rng.scale_f16(), dmin: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ2K {
        BlockQ2K { scales: [0xFF; 16], qs: [0xFF; 64], d: rng.scale_f16(), dmin: rng.scale_f16() }
    }
    legacy_act!(Q8K);
}

impl Case for Q3K {
    const NAME: &'static str = "q3_k";
    fn random(rng: &mut Rng) -> BlockQ3K {
        BlockQ3K { d: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ3K {
        // every quant -4, every scale -32
        BlockQ3K { hmask: [0; 32], qs: [0; 64], scales: [0; 12], d: rng.scale_f16() }
    }
    legacy_act!(Q8K);
}

impl Case for Q4K {
    const NAME: &'static str = "q4_k";
    fn random(rng: &mut Rng) -> BlockQ4K {
        BlockQ4K { d: rng.scale_f16(), dmin: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ4K {
        BlockQ4K { d: rng.scale_f16(), dmin: rng.scale_f16(), scales: [0xFF; 12], qs: [0xFF; 128] }
    }
    legacy_act!(Q8K);
}

impl Case for Q5K {
    const NAME: &'static str = "q5_k";
    fn random(rng: &mut Rng) -> BlockQ5K {
        BlockQ5K { d: rng.scale_f16(), dmin: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ5K {
        BlockQ5K {
            d: rng.scale_f16(),
            dmin: rng.scale_f16(),
            scales: [0xFF; 12],
            qh: [0xFF; 32],
            qs: [0xFF; 128],
        }
    }
    legacy_act!(Q8K);
}

impl Case for Q6K {
    const NAME: &'static str = "q6_k";
    fn random(rng: &mut Rng) -> BlockQ6K {
        BlockQ6K { d: rng.scale_f16(), ..rng.block() }
    }
    fn extreme(rng: &mut Rng) -> BlockQ6K {
        // every quant -32, every scale -128
        BlockQ6K { ql: [0; 128], qh: [0; 64], scales: [-128; 16], d: rng.scale_f16() }
    }
    legacy_act!(Q8K);
}

fn same_bits(got: f32, want: f32) -> bool {
    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
}

fn check<F: Case>(k: &Kernels, w: &[F::Block], a: &[ActBlock<F>], what: &str) {
    let want = F::dot(&Kernels::SCALAR)(w, a);
    let got = F::dot(k)(w, a);
    assert!(
        same_bits(got, want),
        "{} {} dot, {what}, {} blocks: got {got:e} ({:#010x}), scalar {want:e} ({:#010x})",
        F::NAME,
        k.tier,
        w.len(),
        got.to_bits(),
        want.to_bits()
    );
}

fn bit_identical<F: Case>(tier: Tier) {
    let Some(k) = Kernels::for_tier(tier) else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: tier {tier} not supported on this CPU ({} bit-identical)",
            F::NAME
        );
        return;
    };
    let mut rng = Rng(0xa64 ^ u64::from(F::TYPE.id()) << 40);
    for nb in 1..=40 {
        let w: Vec<F::Block> = (0..nb).map(|_| F::random(&mut rng)).collect();
        let a: Vec<ActBlock<F>> = (0..nb).map(|_| F::random_act(&mut rng)).collect();
        check::<F>(k, &w, &a, "random blocks");
        let we: Vec<F::Block> = (0..nb).map(|_| F::extreme(&mut rng)).collect();
        let ae: Vec<ActBlock<F>> = (0..nb).map(|_| F::extreme_act(&mut rng)).collect();
        check::<F>(k, &we, &ae, "extreme blocks");
        check::<F>(k, &we, &a, "extreme weights, random activations");
    }
    let wf: Vec<F::Block> = fixture_blocks(&format!("{}.rand", F::NAME));
    let af = F::fixture_act();
    let n = wf.len().min(af.len());
    check::<F>(k, &wf[..n], &af[..n], "fixture blocks");
    for start in 0..n.min(8) {
        check::<F>(k, &wf[start..n], &af[start..n], "fixture blocks, offset");
    }
}

macro_rules! bit_identical_tests {
    ($($name:ident: $F:ty => [$($tier:ident),*]),* $(,)?) => {$(
        mod $name {
            use super::*;
            $(
                #[test]
                #[allow(non_snake_case)]
                fn $tier() {
                    bit_identical::<$F>(Tier::$tier)
                }
            )*
        }
    )*};
}

bit_identical_tests! {
    q4_0: Q4_0 => [Neon, Dotprod],
    q4_1: Q4_1 => [Neon, Dotprod],
    q5_0: Q5_0 => [Neon, Dotprod],
    q5_1: Q5_1 => [Neon, Dotprod],
    q8_0: Q8_0 => [Neon, Dotprod],
    q2_k: Q2K => [Neon, Dotprod],
    q3_k: Q3K => [Neon],
    q4_k: Q4K => [Neon],
    q5_k: Q5K => [Neon],
    q6_k: Q6K => [Neon],
}

/// On aarch64 the NEON tier is always available (it is the baseline) and dotprod exactly when the
/// CPU reports it: the tables are wired into `Kernels::for_tier` and `best`.
#[cfg(all(target_arch = "aarch64", feature = "std"))]
#[test]
fn aarch64_tiers_are_wired() {
    assert_eq!(Kernels::for_tier(Tier::Neon).map(|k| k.tier), Some(Tier::Neon));
    let dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
    assert_eq!(Kernels::for_tier(Tier::Dotprod).map(|k| k.tier), dotprod.then_some(Tier::Dotprod));
    assert_eq!(Kernels::best().tier, if dotprod { Tier::Dotprod } else { Tier::Neon });
    if !dotprod {
        let _ = writeln!(std::io::stderr(), "SKIPPED: tier dotprod not supported on this CPU (wiring)");
    }
}
