//! The K-quant formats (`q2_K` .. `q6_K`, `q8_K`) against llama.cpp: fixture bytes and bits,
//! llama.cpp's own error bounds (`tests/test-quantize-fns.cpp`), the dot products against an `f64`
//! dot of the dequantized operands, and the documented length panics.

mod common;

use common::{FIXTURE_VALUES, assert_same_bits, fixture_blocks, fixture_bytes, fixture_f32};
use emberlm_quant::Format;
use emberlm_quant::formats::q2_k::{BlockQ2K, Q2K};
use emberlm_quant::formats::q3_k::Q3K;
use emberlm_quant::formats::q4_k::{BlockQ4K, Q4K};
use emberlm_quant::formats::q5_k::{BlockQ5K, Q5K};
use emberlm_quant::formats::q6_k::Q6K;
use emberlm_quant::formats::q8_k::{BlockQ8K, Q8K};
use half::f16;

const QK_K: usize = 256;

/// A K-quant weight format, with what the tests need to bound its dot product's rounding error.
trait KFormat: Format<Activation = Q8K> {
    /// For the asymmetric formats (`x = d*sc*q - dmin*m`): the block with `dmin = 0` (the scale
    /// part of each value) and the block with `d = 0` (the min part, `-dmin*m`). `None` for the
    /// symmetric formats.
    fn split(_b: &Self::Block) -> Option<(Self::Block, Self::Block)> {
        None
    }
}

impl KFormat for Q2K {
    fn split(b: &BlockQ2K) -> Option<(BlockQ2K, BlockQ2K)> {
        Some((BlockQ2K { dmin: f16::ZERO, ..*b }, BlockQ2K { d: f16::ZERO, ..*b }))
    }
}
impl KFormat for Q3K {}
impl KFormat for Q4K {
    fn split(b: &BlockQ4K) -> Option<(BlockQ4K, BlockQ4K)> {
        Some((BlockQ4K { dmin: f16::ZERO, ..*b }, BlockQ4K { d: f16::ZERO, ..*b }))
    }
}
impl KFormat for Q5K {
    fn split(b: &BlockQ5K) -> Option<(BlockQ5K, BlockQ5K)> {
        Some((BlockQ5K { dmin: f16::ZERO, ..*b }, BlockQ5K { d: f16::ZERO, ..*b }))
    }
}
impl KFormat for Q6K {}
impl KFormat for Q8K {}

fn quantize_vec<F: Format>(x: &[f32]) -> Vec<F::Block> {
    let mut out = vec![<F::Block as bytemuck::Zeroable>::zeroed(); x.len() / F::ELEMS];
    F::quantize(x, &mut out);
    out
}

fn dequantize_vec<F: Format>(blocks: &[F::Block]) -> Vec<f32> {
    let mut out = vec![0.0f32; blocks.len() * F::ELEMS];
    F::dequantize(blocks, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// 1. llama.cpp fixtures

fn quantize_matches_fixture<F: Format>(name: &str) {
    let input = fixture_f32("input.f32");
    assert_eq!(input.len(), FIXTURE_VALUES);
    let ours = quantize_vec::<F>(&input);
    let want = fixture_bytes(&format!("{name}.q"));
    let got: &[u8] = bytemuck::cast_slice(&ours);
    assert_eq!(got.len(), want.len(), "{name}: quantized size");
    let size = size_of::<F::Block>();
    for (i, (g, w)) in got.chunks_exact(size).zip(want.chunks_exact(size)).enumerate() {
        if g != w {
            let first = g.iter().zip(w).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{name}: block {i} differs from llama.cpp at byte {first}\n ours: {:?}\nllama: {:?}",
                bytemuck::pod_read_unaligned::<F::Block>(g),
                bytemuck::pod_read_unaligned::<F::Block>(w)
            );
        }
    }
}

fn dequantize_matches_fixtures<F: Format>(name: &str) {
    for kind in ["q", "rand"] {
        let blocks: Vec<F::Block> = fixture_blocks(&format!("{name}.{kind}"));
        let want = fixture_f32(&format!("{name}.{kind}.deq.f32"));
        assert_eq!(want.len(), FIXTURE_VALUES);
        assert_same_bits(&dequantize_vec::<F>(&blocks), &want, &format!("{name}.{kind} dequantized"));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. llama.cpp's own bounds (tests/test-quantize-fns.cpp, reproduced literally)

const MAX_QUANTIZATION_TOTAL_ERROR: f32 = 0.002;
const MAX_QUANTIZATION_TOTAL_ERROR_2BITS: f32 = 0.0075;
const MAX_QUANTIZATION_TOTAL_ERROR_3BITS: f32 = 0.0040;
const MAX_DOT_PRODUCT_ERROR: f32 = 0.02;
const MAX_DOT_PRODUCT_ERROR_LOWBIT: f32 = 0.04;
/// `test_size` of test-quantize-fns.
const TEST_SIZE: usize = 32 * 128;

/// `generate_data`: `0.1 + amplitude*cosf(i + offset)`, the sum in double.
fn generate_data(offset: f32, n: usize) -> Vec<f32> {
    (0..n).map(|i| (0.1f64 + (2.0f32 * (i as f32 + offset).cos()) as f64) as f32).collect()
}

/// `array_rmse` (sic: `sqrt(sum of squares) / n`).
fn array_rmse(a1: &[f32], a2: &[f32]) -> f32 {
    let sum: f64 = a1.iter().zip(a2).map(|(a, b)| ((a - b) as f64) * ((a - b) as f64)).sum();
    (sum as f32).sqrt() / a1.len() as f32
}

/// `dot_product`: `f32` products summed in `f64`.
fn dot_product(a1: &[f32], a2: &[f32]) -> f32 {
    a1.iter().zip(a2).map(|(a, b)| (a * b) as f64).sum::<f64>() as f32
}

/// `total_quantization_error`.
fn round_trip_error_within<F: Format>(max: f32) {
    let data = generate_data(0.0, TEST_SIZE);
    let err = array_rmse(&data, &dequantize_vec::<F>(&quantize_vec::<F>(&data)));
    assert!(err < max, "{}: quantization error {err} >= {max}", F::TYPE);
}

/// `dot_product_error` with `nrc == 1`.
fn dot_error_within<F: KFormat>(max: f32) {
    let data1 = generate_data(0.0, TEST_SIZE);
    let data2 = generate_data(1.0, TEST_SIZE);
    let w = quantize_vec::<F>(&data1);
    let a = quantize_vec::<Q8K>(&data2);
    let result = F::vec_dot(&w, &a);
    let err = (result - dot_product(&data1, &data2)).abs() / TEST_SIZE as f32;
    assert!(err < max, "{}: dot product error {err} >= {max}", F::TYPE);
}

// ---------------------------------------------------------------------------------------------
// 3. vec_dot against the f64 dot of the dequantized operands

/// xorshift64*, deterministic.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Random values in groups of 32 with a random magnitude (2^-8 .. 2^8) and a random offset (so
/// some groups are all-positive or all-negative, exercising the mins).
fn random_values(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let scale = 2f32.powi((rng.next_u64() % 17) as i32 - 8);
        let offset = rng.unit() * 1.5;
        for _ in 0..32 {
            out.push(scale * (rng.unit() + offset));
        }
    }
    out
}

/// Checks `F::vec_dot(w, a)` against `sum(w_i * a_i)` in `f64`, `w_i`/`a_i` the dequantized values.
///
/// Tolerance: `(nb + 16) * 2^-24 * M`, a first-order bound on the rounding of both sides, where
/// `nb` is the number of blocks and `M = sum((|s_i| + |m_i|) * |a_i|)` with `s_i`/`m_i` the scale
/// and min parts of `w_i` (`M = sum(|w_i * a_i|)` for symmetric formats). Every integer sum in
/// vec_dot is exact (all stay below 2^24), so its error comes from `f32` roundings, each at most
/// `2^-24` relative to a partial sum bounded by `M`: forming `d_w*d_a` and `dmin_w*d_a` (1), the
/// products with the integer sums (1) and their conversion (1), one subtraction per block (q2_K),
/// up to `nb` accumulations per lane or accumulator and the final 8-lane sum (8). The reference
/// side rounds `d*sc`, `*q`, `dmin*m` and the subtraction in each `w_i` (3 relative to
/// `|s_i| + |m_i|`), `d_a*q8` in each `a_i` (1) and sums in `f64` (< 1 at these sizes). That is
/// `nb + 15`; one more for slack.
fn vec_dot_matches_dequantized<F: KFormat>(w: &[F::Block], a: &[BlockQ8K]) {
    let nb = w.len();
    let wf = dequantize_vec::<F>(w);
    let af = dequantize_vec::<Q8K>(a);
    let magnitude: Vec<f64> = match w.iter().map(F::split).collect::<Option<Vec<_>>>() {
        Some(parts) => {
            let scale_parts: Vec<F::Block> = parts.iter().map(|p| p.0).collect();
            let min_parts: Vec<F::Block> = parts.iter().map(|p| p.1).collect();
            let s = dequantize_vec::<F>(&scale_parts);
            let m = dequantize_vec::<F>(&min_parts);
            s.iter().zip(&m).map(|(s, m)| s.abs() as f64 + m.abs() as f64).collect()
        }
        None => wf.iter().map(|w| w.abs() as f64).collect(),
    };
    let reference: f64 = wf.iter().zip(&af).map(|(&w, &a)| w as f64 * a as f64).sum();
    let mag: f64 = magnitude.iter().zip(&af).map(|(&m, &a)| m * (a as f64).abs()).sum();
    let tol = (nb as f64 + 16.0) * f64::from(f32::EPSILON) / 2.0 * mag;
    let got = F::vec_dot(w, a) as f64;
    assert!(
        (got - reference).abs() <= tol,
        "{}: vec_dot of {nb} blocks = {got:e}, dequantized dot {reference:e}, |diff| {:e} > tol {tol:e}",
        F::TYPE,
        (got - reference).abs()
    );
}

/// On quantized random data of several lengths, and on llama.cpp's random fixture blocks.
fn vec_dot_checks<F: KFormat>(name: &str) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ F::TYPE.id() as u64);
    for nb in [1, 2, 3, 5, 8, 16] {
        let w = quantize_vec::<F>(&random_values(&mut rng, nb * QK_K));
        let a = quantize_vec::<Q8K>(&random_values(&mut rng, nb * QK_K));
        vec_dot_matches_dequantized::<F>(&w, &a);
    }
    let w: Vec<F::Block> = fixture_blocks(&format!("{name}.rand"));
    let a = quantize_vec::<Q8K>(&random_values(&mut rng, w.len() * QK_K));
    vec_dot_matches_dequantized::<F>(&w, &a);
    // The exact-zero case: no rounding, so the result must be exactly 0.
    let zero_a = quantize_vec::<Q8K>(&vec![0.0; w.len() * QK_K]);
    assert_eq!(F::vec_dot(&w, &zero_a), 0.0, "{}: dot with zero activations", F::TYPE);
}

// ---------------------------------------------------------------------------------------------
// 4. length checks

fn zeroed_blocks<F: Format>(n: usize) -> Vec<F::Block> {
    vec![<F::Block as bytemuck::Zeroable>::zeroed(); n]
}

macro_rules! k_format_tests {
    ($m:ident, $F:ty, $name:literal, rmse_max = $rmse:expr, dot_max = $dot:expr) => {
        mod $m {
            use super::*;

            #[test]
            fn quantize_matches_llama_cpp_bytes() {
                quantize_matches_fixture::<$F>($name);
            }

            #[test]
            fn dequantize_matches_llama_cpp_bits() {
                dequantize_matches_fixtures::<$F>($name);
            }

            #[test]
            fn round_trip_error_within_llama_cpp_bound() {
                round_trip_error_within::<$F>($rmse);
            }

            #[test]
            fn dot_product_error_within_llama_cpp_bound() {
                dot_error_within::<$F>($dot);
            }

            #[test]
            fn vec_dot_matches_dequantized_dot() {
                vec_dot_checks::<$F>($name);
            }

            #[test]
            fn empty_input_is_fine() {
                <$F>::dequantize(&[], &mut []);
                <$F>::quantize(&[], &mut []);
                assert_eq!(<$F>::vec_dot(&[], &[]), 0.0);
            }

            #[test]
            #[should_panic(expected = "dequantize")]
            fn dequantize_rejects_short_output() {
                <$F>::dequantize(&zeroed_blocks::<$F>(2), &mut vec![0.0; 2 * QK_K - 1]);
            }

            #[test]
            #[should_panic(expected = "dequantize")]
            fn dequantize_rejects_long_output() {
                <$F>::dequantize(&zeroed_blocks::<$F>(2), &mut vec![0.0; 3 * QK_K]);
            }

            #[test]
            #[should_panic(expected = "quantize")]
            fn quantize_rejects_partial_block() {
                <$F>::quantize(&vec![1.0; QK_K + 16], &mut zeroed_blocks::<$F>(2));
            }

            #[test]
            #[should_panic(expected = "quantize")]
            fn quantize_rejects_too_many_blocks() {
                <$F>::quantize(&vec![1.0; QK_K], &mut zeroed_blocks::<$F>(2));
            }

            #[test]
            #[should_panic(expected = "vec_dot")]
            fn vec_dot_rejects_mismatched_lengths() {
                <$F>::vec_dot(&zeroed_blocks::<$F>(3), &zeroed_blocks::<Q8K>(2));
            }
        }
    };
}

k_format_tests!(
    q2_k,
    Q2K,
    "q2_k",
    rmse_max = MAX_QUANTIZATION_TOTAL_ERROR_2BITS,
    dot_max = MAX_DOT_PRODUCT_ERROR_LOWBIT
);
k_format_tests!(
    q3_k,
    Q3K,
    "q3_k",
    rmse_max = MAX_QUANTIZATION_TOTAL_ERROR_3BITS,
    dot_max = MAX_DOT_PRODUCT_ERROR
);
k_format_tests!(q4_k, Q4K, "q4_k", rmse_max = MAX_QUANTIZATION_TOTAL_ERROR, dot_max = MAX_DOT_PRODUCT_ERROR);
k_format_tests!(q5_k, Q5K, "q5_k", rmse_max = MAX_QUANTIZATION_TOTAL_ERROR, dot_max = MAX_DOT_PRODUCT_ERROR);
k_format_tests!(q6_k, Q6K, "q6_k", rmse_max = MAX_QUANTIZATION_TOTAL_ERROR, dot_max = MAX_DOT_PRODUCT_ERROR);
// llama.cpp's test skips q8_K (it has no `to_float`); the default bounds are applied here.
k_format_tests!(q8_k, Q8K, "q8_k", rmse_max = MAX_QUANTIZATION_TOTAL_ERROR, dot_max = MAX_DOT_PRODUCT_ERROR);

/// `q8_K`'s `bsums` are the sums of its quants in groups of 16 (the K dot products rely on it).
#[test]
fn q8_k_bsums_are_group_sums() {
    let mut rng = Rng(7);
    let mut data = random_values(&mut rng, 4 * QK_K);
    data[QK_K..2 * QK_K].fill(0.0); // an all-zero block
    for b in quantize_vec::<Q8K>(&data) {
        for (j, &s) in b.bsums.iter().enumerate() {
            let sum: i32 = b.qs[16 * j..16 * j + 16].iter().map(|&q| q as i32).sum();
            assert_eq!(s as i32, sum);
        }
        assert!(b.qs.iter().all(|&q| q != -128));
    }
}
