//! Parity of every SIMD kernel tier with the scalar spec ([`Kernels::SCALAR`], itself proven
//! bit-exact against llama.cpp in `legacy_formats.rs` / `k_formats.rs`).
//!
//! One test per (format, tier, check), generated for every SIMD tier (`avx2`, `neon`, `dotprod`),
//! so the same file runs on x86_64 and on aarch64 (natively or under qemu). A tier this CPU (or
//! build) cannot run prints `SKIPPED: tier <t> not supported on this CPU` and returns; it never
//! passes silently otherwise. The checks:
//!
//! 1. `exact`: inputs on which every summation order gives the same float (power-of-two scales,
//!    small quants, so every partial sum is an exactly representable multiple of 2^-2 below 2^22):
//!    the tier's dot must equal the scalar one **bit for bit**. The test first asserts that the
//!    scalar result equals the exact f64 dot of the dequantized operands, proving the inputs are in
//!    that regime.
//! 2. `random`: random blocks (random bytes with finite scales), blocks quantized from random
//!    values, and llama.cpp's fixture blocks (`tests/fixtures/<fmt>.rand`, `<fmt>.q`), against
//!    random and fixture activations, at 0, 1, a few and many blocks (576 and 1536 values, the
//!    SmolLM2 row lengths, among them). Integer sums are exact in every tier, so the tiers differ
//!    from the spec only in the order and fusing of f32 operations. Bound:
//!    `|tier - scalar| <= (terms + 16) * 2^-22 * M`, where `terms` is the number of blocks (values
//!    for f32/f16/bf16) and `M` bounds the sum of the magnitudes of everything that is added:
//!    `sum |w_i| * |a_i|` over dequantized values, with the scale part of `w_i` only for formats
//!    with mins, plus `sum |m * s|` (q4_1, q5_1) or `sum |dmin * d_a| * 63 * sum |bsums|` (q2_K,
//!    q4_K, q5_K). Why: each side's result is a sum of at most `terms` rounded block terms (each
//!    with at most 3 roundings of 2^-24 relative) accumulated in at most `terms + 8` f32 additions
//!    (lanes, then the horizontal sum), so each side is within `(terms + 16) * 2^-24 * M` of the
//!    exact value; twice that bounds their difference. A wrong nibble, bit or scale shows up as an
//!    error of the order of `M` itself.
//! 3. `wrong_lengths`: mismatched operand / output lengths panic (with the scalar spec's contract).
//!
//! Plus: `EMBERLM_TIER` names parse (`Tier::from_name`), and on an x86_64 host with AVX2, FMA and
//! F16C, `Kernels::best()` is the avx2 table. The activation quantizers are checked in
//! quantizer_parity.rs, the legacy formats' bit-identity in kernel_exact.rs.

#[macro_use]
mod common;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bytemuck::Zeroable;
use common::{Rng, fixture_blocks, fixture_f32, tier_kernels};
use emberlm_quant::formats::bf16::BF16;
use emberlm_quant::formats::f16::F16;
use emberlm_quant::formats::f32::F32;
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
use emberlm_quant::formats::q8_1::{BlockQ8_1, Q8_1};
use emberlm_quant::formats::q8_k::{BlockQ8K, Q8K};
use emberlm_quant::{Dispatch, Format, Kernels, Tier};
use half::{bf16, f16};

type Act<F> = <F as Format>::Activation;
type ActBlock<F> = <Act<F> as Format>::Block;

// ---------------------------------------------------------------------------------------------
// Tiers

#[test]
fn tier_names_parse() {
    for tier in Tier::ALL {
        assert_eq!(Tier::from_name(tier.name()), Some(tier));
        assert_eq!(Tier::from_name(&format!(" {} ", tier.name().to_uppercase())), Some(tier));
        assert_eq!(tier.to_string(), tier.name());
    }
    assert_eq!(Tier::from_name("avx2"), Some(Tier::Avx2));
    assert_eq!(Tier::from_name("AVX512VNNI"), Some(Tier::Avx512Vnni));
    assert_eq!(Tier::from_name("DotProd"), Some(Tier::Dotprod));
    for bad in ["", "avx", "avx512", "sse", "neon2", "scalar,avx2"] {
        assert_eq!(Tier::from_name(bad), None, "{bad:?}");
    }
}

#[test]
fn scalar_tier_is_always_available() {
    let k = Kernels::for_tier(Tier::Scalar).expect("the scalar tier runs everywhere");
    assert_eq!(k.tier, Tier::Scalar);
}

#[test]
fn for_tier_returns_its_own_table() {
    for tier in Tier::ALL {
        match Kernels::for_tier(tier) {
            Some(k) => assert_eq!(k.tier, tier),
            None => assert!(!tier.is_supported(), "{tier} is supported but has no table"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn best_is_the_widest_x86_tier_the_host_has() {
    use std::arch::is_x86_feature_detected as has;
    let avx2 = has!("avx2") && has!("fma") && has!("f16c");
    let vnni = avx2 && has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni");
    // Fails (rather than skipping) if the build cannot see the host's features, e.g. when
    // emberlm-quant is built without `std` (then tiers are chosen at compile time).
    let want = if vnni {
        Tier::Avx512Vnni
    } else if avx2 {
        let _ = writeln!(std::io::stderr(), "SKIPPED: tier avx512vnni not supported on this CPU (best)");
        Tier::Avx2
    } else {
        let _ = writeln!(std::io::stderr(), "SKIPPED: tier avx2 not supported on this CPU (best)");
        Tier::Scalar
    };
    assert_eq!(Kernels::best().tier, want);
    assert_eq!(Tier::Avx2.is_supported(), avx2);
    assert_eq!(Tier::Avx512Vnni.is_supported(), vnni);
}

// ---------------------------------------------------------------------------------------------
// Random data

fn quantize_vec<F: Format>(x: &[f32]) -> Vec<F::Block> {
    let mut q = vec![F::Block::zeroed(); x.len() / F::ELEMS];
    F::quantize(x, &mut q);
    q
}

fn dequantize_vec<F: Format>(q: &[F::Block]) -> Vec<f32> {
    let mut y = vec![0f32; q.len() * F::ELEMS];
    F::dequantize(q, &mut y);
    y
}

/// `sum |w_i| * |a_i|` in f64.
fn abs_dot(w: &[f32], a: &[f32]) -> f64 {
    w.iter().zip(a).map(|(&w, &a)| f64::from(w).abs() * f64::from(a).abs()).sum()
}

/// `sum w_i * a_i` in f64 (exact for the `exact` inputs).
fn f64_dot(w: &[f32], a: &[f32]) -> f64 {
    w.iter().zip(a).map(|(&w, &a)| f64::from(w) * f64::from(a)).sum()
}

/// Bytes of the K-quant activation sums: `bsums[j] = sum(qs[16j..16j+16])`.
fn fix_bsums(b: &mut BlockQ8K) {
    for (s, g) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
        *s = g.iter().map(|&q| i16::from(q)).sum();
    }
}

// ---------------------------------------------------------------------------------------------
// Per-format test data

/// An activation format: random and exact-regime blocks.
trait ActCase: Format + Sized {
    /// A random block (random bytes, finite scales).
    fn random(rng: &mut Rng) -> Self::Block;
    /// A block in the exact regime (see the module docs).
    fn exact(rng: &mut Rng) -> Self::Block;
    /// llama.cpp's random fixture blocks of this activation format, if any.
    fn fixture() -> Option<Vec<Self::Block>>;
}

/// A weight format with a dot product in every kernel table.
trait Case: Dispatch<Activation: ActCase> + Sized {
    /// Fixture file stem.
    const NAME: &'static str;
    /// Block counts of the exact test (kept small enough for the exact regime).
    const EXACT_BLOCKS: &'static [usize];
    /// Block counts of the random test.
    const RANDOM_BLOCKS: &'static [usize];
    /// A random block (random bytes, finite scales).
    fn random(rng: &mut Rng) -> Self::Block;
    /// A block in the exact regime.
    fn exact(rng: &mut Rng) -> Self::Block;
    /// Weight blocks from the fixtures (`<name>.rand`, `<name>.q`), made finite if needed.
    fn fixtures() -> Vec<Vec<Self::Block>> {
        ["rand", "q"].iter().map(|kind| fixture_blocks(&format!("{}.{kind}", Self::NAME))).collect()
    }
    /// `M` of the module docs.
    fn magnitude(w: &[Self::Block], a: &[ActBlock<Self>]) -> f64 {
        abs_dot(&dequantize_vec::<Self>(w), &dequantize_vec::<Act<Self>>(a))
    }
}

const FLOAT_LENGTHS: &[usize] = &[0, 1, 7, 8, 9, 31, 32, 33, 63, 100, 576, 1536, 4099];
const LEGACY_BLOCKS: &[usize] = &[0, 1, 2, 3, 5, 18, 48, 128];
const K_BLOCKS: &[usize] = &[0, 1, 2, 3, 6, 16];

/// A small integer in -8..=8 times ±{1/2, 1, 2}.
fn exact_float(rng: &mut Rng) -> f32 {
    rng.range(-8, 8) as f32 * rng.pow2()
}

impl ActCase for F32 {
    fn random(rng: &mut Rng) -> f32 {
        rng.unit() * 2f32.powi(rng.range(-8, 8))
    }
    fn exact(rng: &mut Rng) -> f32 {
        exact_float(rng)
    }
    fn fixture() -> Option<Vec<f32>> {
        Some(fixture_f32("input.f32"))
    }
}

impl ActCase for F16 {
    fn random(rng: &mut Rng) -> f16 {
        // any finite f16 (NaN/Inf would make both results NaN/Inf; see `finite_f16`)
        finite_f16(f16::from_bits(rng.next_u64() as u16))
    }
    fn exact(rng: &mut Rng) -> f16 {
        f16::from_f32(exact_float(rng))
    }
    fn fixture() -> Option<Vec<f16>> {
        Some(fixture_blocks::<f16>("f16.rand").into_iter().map(finite_f16).collect())
    }
}

/// NaN and ±Inf replaced by 0 (the fixtures are fully random bit patterns).
fn finite_f16(h: f16) -> f16 {
    if h.is_finite() { h } else { f16::ZERO }
}

/// The exponent folded into 2^-20 .. 2^20 (so no product or sum overflows f32 and NaN/Inf
/// patterns become finite); sign and mantissa kept.
fn folded_bf16(h: bf16) -> bf16 {
    let bits = h.to_bits();
    let exp = i32::from((bits >> 7) & 0xFF);
    let folded = (127 + (exp - 127).rem_euclid(41) - 20) as u16;
    bf16::from_bits((bits & 0x807F) | (folded << 7))
}

impl ActCase for BF16 {
    fn random(rng: &mut Rng) -> bf16 {
        folded_bf16(bf16::from_bits(rng.next_u64() as u16))
    }
    fn exact(rng: &mut Rng) -> bf16 {
        bf16::from_f32(exact_float(rng))
    }
    fn fixture() -> Option<Vec<bf16>> {
        Some(fixture_blocks::<bf16>("bf16.rand").into_iter().map(folded_bf16).collect())
    }
}

impl ActCase for Q8_0 {
    fn random(rng: &mut Rng) -> BlockQ8_0 {
        BlockQ8_0 { d: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ8_0 {
        let mut b = BlockQ8_0 { d: rng.pow2_f16(), qs: [0; 32] };
        b.qs.iter_mut().for_each(|q| *q = rng.range(-8, 8) as i8);
        b
    }
    fn fixture() -> Option<Vec<BlockQ8_0>> {
        Some(fixture_blocks("q8_0.rand"))
    }
}

impl ActCase for Q8_1 {
    fn random(rng: &mut Rng) -> BlockQ8_1 {
        BlockQ8_1 { d: rng.scale_f16(), s: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ8_1 {
        let mut b = BlockQ8_1 { d: rng.pow2_f16(), s: f16::ZERO, qs: [0; 32] };
        b.qs.iter_mut().for_each(|q| *q = rng.range(-8, 8) as i8);
        let sum: i32 = b.qs.iter().map(|&q| i32::from(q)).sum();
        b.s = f16::from_f32(sum as f32 * b.d.to_f32());
        b
    }
    fn fixture() -> Option<Vec<BlockQ8_1>> {
        Some(fixture_blocks("q8_1.rand"))
    }
}

impl ActCase for Q8K {
    fn random(rng: &mut Rng) -> BlockQ8K {
        BlockQ8K { d: rng.scale(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ8K {
        let mut b = BlockQ8K { d: rng.pow2(), qs: [0; 256], bsums: [0; 16] };
        b.qs.iter_mut().for_each(|q| *q = rng.range(-2, 2) as i8);
        fix_bsums(&mut b);
        b
    }
    fn fixture() -> Option<Vec<BlockQ8K>> {
        Some(fixture_blocks("q8_k.rand"))
    }
}

impl Case for F32 {
    const NAME: &'static str = "f32";
    const EXACT_BLOCKS: &'static [usize] = FLOAT_LENGTHS;
    const RANDOM_BLOCKS: &'static [usize] = FLOAT_LENGTHS;
    fn random(rng: &mut Rng) -> f32 {
        <F32 as ActCase>::random(rng)
    }
    fn exact(rng: &mut Rng) -> f32 {
        exact_float(rng)
    }
    fn fixtures() -> Vec<Vec<f32>> {
        vec![fixture_f32("input.f32"), fixture_f32("q4_k.q.deq.f32")]
    }
}

impl Case for F16 {
    const NAME: &'static str = "f16";
    const EXACT_BLOCKS: &'static [usize] = FLOAT_LENGTHS;
    const RANDOM_BLOCKS: &'static [usize] = FLOAT_LENGTHS;
    fn random(rng: &mut Rng) -> f16 {
        <F16 as ActCase>::random(rng)
    }
    fn exact(rng: &mut Rng) -> f16 {
        <F16 as ActCase>::exact(rng)
    }
    fn fixtures() -> Vec<Vec<f16>> {
        ["rand", "q"]
            .iter()
            .map(|kind| fixture_blocks::<f16>(&format!("f16.{kind}")).into_iter().map(finite_f16).collect())
            .collect()
    }
}

impl Case for BF16 {
    const NAME: &'static str = "bf16";
    const EXACT_BLOCKS: &'static [usize] = FLOAT_LENGTHS;
    const RANDOM_BLOCKS: &'static [usize] = FLOAT_LENGTHS;
    fn random(rng: &mut Rng) -> bf16 {
        <BF16 as ActCase>::random(rng)
    }
    fn exact(rng: &mut Rng) -> bf16 {
        <BF16 as ActCase>::exact(rng)
    }
    fn fixtures() -> Vec<Vec<bf16>> {
        ["rand", "q"]
            .iter()
            .map(|kind| {
                fixture_blocks::<bf16>(&format!("bf16.{kind}")).into_iter().map(folded_bf16).collect()
            })
            .collect()
    }
}

impl Case for Q4_0 {
    const NAME: &'static str = "q4_0";
    const EXACT_BLOCKS: &'static [usize] = &[1, 2, 3, 16];
    const RANDOM_BLOCKS: &'static [usize] = LEGACY_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ4_0 {
        BlockQ4_0 { d: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ4_0 {
        BlockQ4_0 { d: rng.pow2_f16(), ..rng.block() }
    }
}

impl Case for Q5_0 {
    const NAME: &'static str = "q5_0";
    const EXACT_BLOCKS: &'static [usize] = &[1, 2, 3, 16];
    const RANDOM_BLOCKS: &'static [usize] = LEGACY_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ5_0 {
        BlockQ5_0 { d: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ5_0 {
        BlockQ5_0 { d: rng.pow2_f16(), ..rng.block() }
    }
}

impl Case for Q8_0 {
    const NAME: &'static str = "q8_0";
    const EXACT_BLOCKS: &'static [usize] = &[1, 2, 3, 16];
    const RANDOM_BLOCKS: &'static [usize] = LEGACY_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ8_0 {
        <Q8_0 as ActCase>::random(rng)
    }
    fn exact(rng: &mut Rng) -> BlockQ8_0 {
        // full-range weights (-128 included) against small activations
        BlockQ8_0 { d: rng.pow2_f16(), ..rng.block() }
    }
}

impl Case for Q4_1 {
    const NAME: &'static str = "q4_1";
    const EXACT_BLOCKS: &'static [usize] = &[1, 2, 3, 16];
    const RANDOM_BLOCKS: &'static [usize] = LEGACY_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ4_1 {
        BlockQ4_1 { d: rng.scale_f16(), m: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ4_1 {
        BlockQ4_1 { d: rng.pow2_f16(), m: rng.pow2_f16(), ..rng.block() }
    }
    fn magnitude(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f64 {
        let scale_parts: Vec<BlockQ4_1> = w.iter().map(|b| BlockQ4_1 { m: f16::ZERO, ..*b }).collect();
        let mins: f64 =
            w.iter().zip(a).map(|(w, a)| f64::from(w.m.to_f32()).abs() * f64::from(a.s.to_f32()).abs()).sum();
        abs_dot(&dequantize_vec::<Q4_1>(&scale_parts), &dequantize_vec::<Q8_1>(a)) + mins
    }
}

impl Case for Q5_1 {
    const NAME: &'static str = "q5_1";
    const EXACT_BLOCKS: &'static [usize] = &[1, 2, 3, 16];
    const RANDOM_BLOCKS: &'static [usize] = LEGACY_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ5_1 {
        BlockQ5_1 { d: rng.scale_f16(), m: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ5_1 {
        BlockQ5_1 { d: rng.pow2_f16(), m: rng.pow2_f16(), ..rng.block() }
    }
    fn magnitude(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f64 {
        let scale_parts: Vec<BlockQ5_1> = w.iter().map(|b| BlockQ5_1 { m: f16::ZERO, ..*b }).collect();
        let mins: f64 =
            w.iter().zip(a).map(|(w, a)| f64::from(w.m.to_f32()).abs() * f64::from(a.s.to_f32()).abs()).sum();
        abs_dot(&dequantize_vec::<Q5_1>(&scale_parts), &dequantize_vec::<Q8_1>(a)) + mins
    }
}

/// `sum |dmin * d_a| * 63 * sum |bsums|`: a bound on the min terms of q2_K / q4_K / q5_K.
fn k_min_magnitude(dmins: impl Iterator<Item = f16>, a: &[BlockQ8K]) -> f64 {
    dmins
        .zip(a)
        .map(|(dmin, a)| {
            let bsums: f64 = a.bsums.iter().map(|&s| f64::from(s).abs()).sum();
            f64::from(dmin.to_f32()).abs() * f64::from(a.d).abs() * 63.0 * bsums
        })
        .sum()
}

impl Case for Q2K {
    const NAME: &'static str = "q2_k";
    const EXACT_BLOCKS: &'static [usize] = &[1, 3];
    const RANDOM_BLOCKS: &'static [usize] = K_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ2K {
        BlockQ2K { d: rng.scale_f16(), dmin: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ2K {
        BlockQ2K { d: rng.pow2_f16(), dmin: rng.pow2_f16(), ..rng.block() }
    }
    fn magnitude(w: &[BlockQ2K], a: &[BlockQ8K]) -> f64 {
        let scale_parts: Vec<BlockQ2K> = w.iter().map(|b| BlockQ2K { dmin: f16::ZERO, ..*b }).collect();
        abs_dot(&dequantize_vec::<Q2K>(&scale_parts), &dequantize_vec::<Q8K>(a))
            + k_min_magnitude(w.iter().map(|b| b.dmin), a)
    }
}

impl Case for Q3K {
    const NAME: &'static str = "q3_k";
    const EXACT_BLOCKS: &'static [usize] = &[1, 3];
    const RANDOM_BLOCKS: &'static [usize] = K_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ3K {
        BlockQ3K { d: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ3K {
        BlockQ3K { d: rng.pow2_f16(), ..rng.block() }
    }
}

/// q4_K / q5_K scale bytes limited to scales and mins in 0..=15 (exact regime).
fn small_k4_scales(mut s: [u8; 12]) -> [u8; 12] {
    s[..8].iter_mut().for_each(|b| *b &= 0x0F);
    s
}

impl Case for Q4K {
    const NAME: &'static str = "q4_k";
    const EXACT_BLOCKS: &'static [usize] = &[1, 3];
    const RANDOM_BLOCKS: &'static [usize] = K_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ4K {
        BlockQ4K { d: rng.scale_f16(), dmin: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ4K {
        let b: BlockQ4K = rng.block();
        BlockQ4K { d: rng.pow2_f16(), dmin: rng.pow2_f16(), scales: small_k4_scales(b.scales), ..b }
    }
    fn magnitude(w: &[BlockQ4K], a: &[BlockQ8K]) -> f64 {
        let scale_parts: Vec<BlockQ4K> = w.iter().map(|b| BlockQ4K { dmin: f16::ZERO, ..*b }).collect();
        abs_dot(&dequantize_vec::<Q4K>(&scale_parts), &dequantize_vec::<Q8K>(a))
            + k_min_magnitude(w.iter().map(|b| b.dmin), a)
    }
}

impl Case for Q5K {
    const NAME: &'static str = "q5_k";
    const EXACT_BLOCKS: &'static [usize] = &[1, 3];
    const RANDOM_BLOCKS: &'static [usize] = K_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ5K {
        BlockQ5K { d: rng.scale_f16(), dmin: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ5K {
        let b: BlockQ5K = rng.block();
        BlockQ5K { d: rng.pow2_f16(), dmin: rng.pow2_f16(), scales: small_k4_scales(b.scales), ..b }
    }
    fn magnitude(w: &[BlockQ5K], a: &[BlockQ8K]) -> f64 {
        let scale_parts: Vec<BlockQ5K> = w.iter().map(|b| BlockQ5K { dmin: f16::ZERO, ..*b }).collect();
        abs_dot(&dequantize_vec::<Q5K>(&scale_parts), &dequantize_vec::<Q8K>(a))
            + k_min_magnitude(w.iter().map(|b| b.dmin), a)
    }
}

impl Case for Q6K {
    const NAME: &'static str = "q6_k";
    const EXACT_BLOCKS: &'static [usize] = &[1, 3];
    const RANDOM_BLOCKS: &'static [usize] = K_BLOCKS;
    fn random(rng: &mut Rng) -> BlockQ6K {
        BlockQ6K { d: rng.scale_f16(), ..rng.block() }
    }
    fn exact(rng: &mut Rng) -> BlockQ6K {
        let mut b = BlockQ6K { d: rng.pow2_f16(), ..rng.block() };
        b.scales.iter_mut().for_each(|s| *s = rng.range(-16, 16) as i8);
        b
    }
}

// ---------------------------------------------------------------------------------------------
// Dot product checks

fn seed<F: Format>(salt: u64) -> Rng {
    Rng::new(0x5eed_0000 ^ (u64::from(F::TYPE.id()) << 32) ^ salt)
}

/// Check 1: bit-identical on exact-regime inputs.
fn exact_matches_scalar<F: Case>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} exact", F::NAME)) else { return };
    let mut rng = seed::<F>(1);
    for &nb in F::EXACT_BLOCKS {
        for round in 0..8 {
            let w: Vec<F::Block> = (0..nb).map(|_| F::exact(&mut rng)).collect();
            let a: Vec<ActBlock<F>> = (0..nb).map(|_| <Act<F> as ActCase>::exact(&mut rng)).collect();
            let want = F::dot(&Kernels::SCALAR)(&w, &a);
            let exact = f64_dot(&dequantize_vec::<F>(&w), &dequantize_vec::<Act<F>>(&a));
            assert_eq!(
                f64::from(want),
                exact,
                "{}: test data not in the exact regime ({nb} blocks)",
                F::NAME
            );
            let got = F::dot(k)(&w, &a);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{} {tier} dot, {nb} blocks, round {round}: got {got:e}, scalar {want:e}",
                F::NAME
            );
        }
    }
}

/// Check 2 on one pair of operands.
fn within_bound<F: Case>(k: &Kernels, w: &[F::Block], a: &[ActBlock<F>], what: &str) {
    let want = F::dot(&Kernels::SCALAR)(w, a);
    let got = F::dot(k)(w, a);
    let m = F::magnitude(w, a);
    let tol = (w.len() as f64 + 16.0) * f64::from(f32::EPSILON) * m;
    assert!(
        want.is_finite() && m.is_finite(),
        "{} {what}: test data overflows ({want:e}, M = {m:e})",
        F::NAME
    );
    let diff = (f64::from(got) - f64::from(want)).abs();
    assert!(
        diff <= tol,
        "{} {} dot, {what}, {} blocks: got {got:e}, scalar {want:e}, |diff| {diff:e} > {tol:e} (M = {m:e})",
        F::NAME,
        k.tier,
        w.len()
    );
}

/// Check 2: random and fixture operands within the stated bound.
fn random_within_bound<F: Case>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} random", F::NAME)) else { return };
    let mut rng = seed::<F>(2);
    for &nb in F::RANDOM_BLOCKS {
        for _ in 0..4 {
            let w: Vec<F::Block> = (0..nb).map(|_| F::random(&mut rng)).collect();
            let a: Vec<ActBlock<F>> = (0..nb).map(|_| <Act<F> as ActCase>::random(&mut rng)).collect();
            within_bound::<F>(k, &w, &a, "random blocks");
            // realistic operands: both quantized (by the scalar spec) from random values
            let wq = quantize_vec::<F>(&rng.values(nb * F::ELEMS));
            let aq = quantize_vec::<Act<F>>(&rng.values(nb * F::ELEMS));
            within_bound::<F>(k, &wq, &aq, "quantized values");
            within_bound::<F>(k, &w, &aq, "random blocks x quantized values");
        }
    }
    let act_fixture = <Act<F> as ActCase>::fixture();
    for w in F::fixtures() {
        let n = w.len() * F::ELEMS;
        let aq = quantize_vec::<Act<F>>(&rng.values(n));
        within_bound::<F>(k, &w, &aq, "fixture blocks x quantized values");
        if let Some(af) = &act_fixture {
            let nb = w.len().min(af.len());
            within_bound::<F>(k, &w[..nb], &af[..nb], "fixture blocks x fixture activations");
        }
        let zero = quantize_vec::<Act<F>>(&vec![0.0; n]);
        assert_eq!(F::dot(k)(&w, &zero), 0.0, "{} {tier}: dot with zero activations", F::NAME);
    }
}

/// Check 4: operands of different lengths panic, in both orders.
fn wrong_lengths_panic<F: Case>(tier: Tier) {
    let Some(k) = tier_kernels(tier, &format!("{} wrong lengths", F::NAME)) else { return };
    let w = vec![F::Block::zeroed(); 3];
    let a = vec![ActBlock::<F>::zeroed(); 3];
    let dot = F::dot(k);
    assert_eq!(dot(&w, &a), 0.0);
    for (nw, na) in [(2, 3), (3, 2), (0, 1), (1, 0)] {
        let r = catch_unwind(AssertUnwindSafe(|| dot(&w[..nw], &a[..na])));
        assert!(
            r.is_err(),
            "{} {tier}: dot of {nw} weight and {na} activation blocks did not panic",
            F::NAME
        );
    }
}

macro_rules! dot_parity {
    ($($m:ident: $F:ty),* $(,)?) => {$(
        mod $m {
            use super::*;
            mod exact {
                use super::*;
                tier_tests!(exact_matches_scalar::<$F>);
            }
            mod random {
                use super::*;
                tier_tests!(random_within_bound::<$F>);
            }
            mod wrong_lengths {
                use super::*;
                tier_tests!(wrong_lengths_panic::<$F>);
            }
        }
    )*};
}

dot_parity! {
    dot_f32: F32, dot_f16: F16, dot_bf16: BF16,
    dot_q4_0: Q4_0, dot_q4_1: Q4_1, dot_q5_0: Q5_0, dot_q5_1: Q5_1, dot_q8_0: Q8_0,
    dot_q2_k: Q2K, dot_q3_k: Q3K, dot_q4_k: Q4K, dot_q5_k: Q5K, dot_q6_k: Q6K,
}
