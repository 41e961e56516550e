//! The float and legacy (32-value block) formats against llama.cpp:
//! 1. quantize / dequantize bit-exact with the llama.cpp fixtures (see `fixtures/README.md`);
//! 2. the error bounds of llama.cpp's `tests/test-quantize-fns.cpp`, on its synthetic data;
//! 3. `vec_dot` within a derived rounding bound of an f64 dot of the dequantized operands;
//! 4. length mismatches panic, as the `Format` docs say.

mod common;

use bytemuck::Zeroable;
use common::{FIXTURE_VALUES, assert_same_bits, fixture_blocks, fixture_bytes, fixture_f32};
use emberlm_quant::Format;
use emberlm_quant::formats::bf16::BF16;
use emberlm_quant::formats::f16::F16;
use emberlm_quant::formats::f32::F32;
use emberlm_quant::formats::q4_0::Q4_0;
use emberlm_quant::formats::q4_1::{BlockQ4_1, Q4_1};
use emberlm_quant::formats::q5_0::Q5_0;
use emberlm_quant::formats::q5_1::{BlockQ5_1, Q5_1};
use emberlm_quant::formats::q8_0::Q8_0;
use emberlm_quant::formats::q8_1::{BlockQ8_1, Q8_1};

type Act<F> = <F as Format>::Activation;
type ActBlock<F> = <Act<F> as Format>::Block;

/// Unit roundoff of f32 (2^-24).
const U32: f64 = f32::EPSILON as f64 / 2.0;

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

// ---------------------------------------------------------------------------------------------
// 1. fixtures

fn check_quantize_fixture<F: Format>(name: &str) {
    let input = fixture_f32("input.f32");
    assert_eq!(input.len(), FIXTURE_VALUES);
    let q = quantize_vec::<F>(&input);
    let got: &[u8] = bytemuck::cast_slice(&q);
    let want = fixture_bytes(&format!("{name}.q"));
    assert_eq!(got.len(), want.len(), "{name}.q: byte length");
    if let Some(i) = got.iter().zip(&want).position(|(g, w)| g != w) {
        let blk = i / size_of::<F::Block>();
        panic!(
            "{name}: quantize differs from llama.cpp at byte {i} (block {blk}): got {:?}, want {:?}",
            q[blk],
            fixture_blocks::<F::Block>(&format!("{name}.q"))[blk]
        );
    }
}

fn check_dequantize_fixtures<F: Format>(name: &str) {
    for kind in ["q", "rand"] {
        let blocks: Vec<F::Block> = fixture_blocks(&format!("{name}.{kind}"));
        let want = fixture_f32(&format!("{name}.{kind}.deq.f32"));
        assert_eq!(blocks.len() * F::ELEMS, want.len(), "{name}.{kind}: fixture sizes");
        assert_same_bits(&dequantize_vec::<F>(&blocks), &want, &format!("{name}: dequantize {kind}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. llama.cpp's test-quantize-fns.cpp, same data, same metrics, same thresholds

const MAX_QUANTIZATION_TOTAL_ERROR: f32 = 0.002;
const MAX_DOT_PRODUCT_ERROR: f32 = 0.02;
const MAX_QUANTIZATION_REFERENCE_ERROR: f32 = 0.0001;
const TEST_SIZE: usize = 32 * 128;

/// `generate_data`: `dst[i] = 0.1 + amplitude*cosf(i + offset)` (float cos, double add).
fn generate_data(offset: f32, n: usize, amplitude: f32) -> Vec<f32> {
    (0..n).map(|i| (0.1f64 + f64::from(amplitude * (i as f32 + offset).cos())) as f32).collect()
}

/// `array_rmse` (which is `sqrt(Σ diff²) / n`, kept as llama.cpp defines it).
fn array_rmse(a1: &[f32], a2: &[f32]) -> f32 {
    let sum: f64 = a1.iter().zip(a2).map(|(&a, &b)| f64::from(a - b) * f64::from(a - b)).sum();
    (sum as f32).sqrt() / a1.len() as f32
}

/// `dot_product`: f32 products accumulated in f64.
fn dot_product(a1: &[f32], a2: &[f32]) -> f32 {
    a1.iter().zip(a2).map(|(&a, &b)| f64::from(a * b)).sum::<f64>() as f32
}

fn check_llama_cpp_bounds<F: Format>() {
    let test_data = generate_data(0.0, TEST_SIZE, 2.0);
    let test_data2 = generate_data(1.0, TEST_SIZE, 2.0);

    let q = quantize_vec::<F>(&test_data);
    let total_error = array_rmse(&test_data, &dequantize_vec::<F>(&q));
    assert!(total_error < MAX_QUANTIZATION_TOTAL_ERROR, "{:?}: total error {total_error}", F::TYPE);

    let a = quantize_vec::<Act<F>>(&test_data2);
    let result = F::vec_dot(&q, &a);
    let dot_ref = dot_product(&test_data, &test_data2);
    let dot_error = (result - dot_ref).abs() / TEST_SIZE as f32;
    assert!(dot_error < MAX_DOT_PRODUCT_ERROR, "{:?}: dot product error {dot_error}", F::TYPE);
}

// ---------------------------------------------------------------------------------------------
// 3. vec_dot against an f64 dot product of the dequantized operands

/// Deterministic pseudo-random values: gaussian-like, with a scale that changes every 32 values
/// (1e-3 .. 1e2) and an occasional all-positive block (exercises the `m`/`s` terms).
fn random_values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut unit = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut out = Vec::with_capacity(n);
    let mut scale = 1.0f32;
    let mut offset = 0.0f32;
    for i in 0..n {
        if i % 32 == 0 {
            scale = 10f32.powi((unit() * 6.0) as i32 - 3);
            offset = if unit() < 0.25 { 3.0 * scale } else { 0.0 };
        }
        let g = unit() + unit() + unit() + unit() - 2.0;
        out.push(offset + scale * g);
    }
    out
}

/// How far `vec_dot` may be from the f64 dot of the dequantized operands (see the impls).
trait DotBound: Format {
    /// Returns (correction to add to the exact dot, tolerance).
    fn bound(w: &[Self::Block], a: &[ActBlock<Self>], wd: &[f32], ad: &[f32]) -> (f64, f64);
}

/// `Σ|w_i a_i|` in f64.
fn abs_dot(wd: &[f32], ad: &[f32]) -> f64 {
    wd.iter().zip(ad).map(|(&w, &a)| (f64::from(w) * f64::from(a)).abs()).sum()
}

// Float formats: dequantized values are exact; each product is rounded to f32 once (relative
// u = 2^-24), accumulated in f64 (relative n*2^-53 at most), rounded to f32 once at the end
// (at most u * |result| <= u * Σ|w a| (1 + ...)). Bound: (2u + n*2^-52) * Σ|w a|.
macro_rules! float_bound {
    ($($F:ty),*) => {$(
        impl DotBound for $F {
            fn bound(_: &[Self::Block], _: &[ActBlock<Self>], wd: &[f32], ad: &[f32]) -> (f64, f64) {
                (0.0, (2.0 * U32 + wd.len() as f64 * f64::EPSILON) * abs_dot(wd, ad))
            }
        }
    )*};
}
float_bound!(F32, F16, BF16);

// Integer-exact formats (Q4_0, Q5_0, Q8_0, Q8_1 x Q8_0/Q8_1): every dequantized value q*d is
// exact in f32 (<= 8-bit q times an 11-bit f16 mantissa), so the f64 reference is exact up to
// n*2^-53. vec_dot (llama.cpp's AVX2 arithmetic) forms the 8 lane sums of 4 products of each
// block exactly (the activations here hold no -128, where the x86 sign trick would negate a
// product), multiplies them by `d_w*d_a` (rounded once, u) with one fused multiply-add per block
// into 8 lane accumulators (a recursive sum of nb terms: <= nb u), then adds the 8 lanes in a
// tree of depth 3 (<= 3u); every term is bounded by Σ|w a| of its values. Bound:
// (nb + 4) * u * Σ|w a| (+ the f64 reference error).
macro_rules! int_exact_bound {
    ($($F:ty),*) => {$(
        impl DotBound for $F {
            fn bound(w: &[Self::Block], _: &[ActBlock<Self>], wd: &[f32], ad: &[f32]) -> (f64, f64) {
                (0.0, ((w.len() + 4) as f64 * U32 + wd.len() as f64 * f64::EPSILON) * abs_dot(wd, ad))
            }
        }
    )*};
}
int_exact_bound!(Q4_0, Q5_0, Q8_0, Q8_1);

// Formats with a minimum (Q4_1, Q5_1 x Q8_1): llama.cpp computes the 8 lane accumulators of the
// `d_w*d_a * q_w q_a` terms as above (<= (nb + 4) u) plus `summs`, an FMA chain of the `m_w*s_a`
// (<= nb u), and adds the two (u), where `s_a` is the activation's f16-rounded `d_a * Σq_a`. So
// by design it differs from the exact `Σ w a` by `Σ_blocks m_w * (s_a - d_a Σq_a)`: that term is
// computed exactly (in f64) and added to the reference. What remains is f32 rounding, including
// the reference's own dequantized `q*d + m` (2 roundings); the magnitudes involved are bounded by
// M = Σ|w a| + Σ_blocks |m_w| (Σ_block |a| + |s_a|) (since |q d_w| <= |w| + |m_w|).
// Bound: (nb + 7) * u * M (+ the f64 reference error).
trait HasMin {
    fn m(&self) -> half::f16;
}
impl HasMin for BlockQ4_1 {
    fn m(&self) -> half::f16 {
        self.m
    }
}
impl HasMin for BlockQ5_1 {
    fn m(&self) -> half::f16 {
        self.m
    }
}
fn min_bound<B: HasMin>(w: &[B], a: &[BlockQ8_1], wd: &[f32], ad: &[f32]) -> (f64, f64) {
    let mut mag = abs_dot(wd, ad);
    let mut correction = 0f64;
    for (b, (wb, ab)) in w.iter().zip(a).enumerate() {
        let m = f64::from(wb.m().to_f32());
        let s = f64::from(ab.s.to_f32());
        mag +=
            m.abs() * (ad[b * 32..(b + 1) * 32].iter().map(|&v| f64::from(v).abs()).sum::<f64>() + s.abs());
        let sum_q: i32 = ab.qs.iter().map(|&q| i32::from(q)).sum();
        correction += m * (s - f64::from(ab.d.to_f32()) * f64::from(sum_q));
    }
    (correction, ((w.len() + 7) as f64 * U32 + wd.len() as f64 * f64::EPSILON) * mag)
}
impl DotBound for Q4_1 {
    fn bound(w: &[BlockQ4_1], a: &[BlockQ8_1], wd: &[f32], ad: &[f32]) -> (f64, f64) {
        min_bound(w, a, wd, ad)
    }
}
impl DotBound for Q5_1 {
    fn bound(w: &[BlockQ5_1], a: &[BlockQ8_1], wd: &[f32], ad: &[f32]) -> (f64, f64) {
        min_bound(w, a, wd, ad)
    }
}

fn check_one_dot<F: DotBound>(w: &[F::Block], a: &[ActBlock<F>], what: &str) {
    let wd = dequantize_vec::<F>(w);
    let ad = dequantize_vec::<Act<F>>(a);
    let (correction, tol) = F::bound(w, a, &wd, &ad);
    let exact: f64 = wd.iter().zip(&ad).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum::<f64>() + correction;
    let got = F::vec_dot(w, a);
    let err = (f64::from(got) - exact).abs();
    assert!(
        err <= tol,
        "{:?} {what}: vec_dot {got:e}, f64 dot {exact:e}, error {err:e} > bound {tol:e}",
        F::TYPE
    );
}

fn check_vec_dot<F: DotBound>(fixture: Option<&str>) {
    let rand_w: Option<Vec<F::Block>> = fixture.map(|name| fixture_blocks(&format!("{name}.rand")));
    for (seed, blocks) in [0usize, 1, 2, 3, 7, 17, 64, 128].into_iter().enumerate() {
        let n = blocks * F::ELEMS.max(32);
        let n = if F::ELEMS == 1 { n + seed } else { n }; // odd lengths for the float formats
        let x = random_values(2 * seed as u64 + 1, n);
        let y = random_values(2 * seed as u64 + 2, n);
        let w = quantize_vec::<F>(&x);
        let a = quantize_vec::<Act<F>>(&y);
        check_one_dot::<F>(&w, &a, &format!("n={n}, quantized random data"));
        if let Some(rw) = rand_w.as_ref().filter(|_| F::ELEMS > 1) {
            // (skipped for f16/bf16: their `.rand` is all bit patterns, NaN and Inf included)
            // random block bits from llama.cpp's `.rand` fixture (negative and zero scales too)
            let k = w.len().min(rw.len());
            check_one_dot::<F>(&rw[..k], &a[..k], &format!("n={}, .rand fixture weights", k * F::ELEMS));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. lengths

fn dequantize_wrong_len<F: Format>() {
    let blocks = vec![F::Block::zeroed(); 3];
    let mut out = vec![0f32; 3 * F::ELEMS + 1];
    F::dequantize(&blocks, &mut out);
}

fn quantize_wrong_len<F: Format>() {
    let x = vec![0f32; 2 * F::ELEMS];
    let mut out = vec![F::Block::zeroed(); 3];
    F::quantize(&x, &mut out);
}

fn vec_dot_wrong_len<F: Format>() {
    let w = vec![F::Block::zeroed(); 3];
    let a = vec![ActBlock::<F>::zeroed(); 2];
    F::vec_dot(&w, &a);
}

fn empty_is_fine<F: Format>() {
    F::dequantize(&[], &mut []);
    F::quantize(&[], &mut []);
    assert_eq!(F::vec_dot(&[], &[]), 0.0);
}

macro_rules! format_tests {
    ($m:ident, $F:ty, $fixture:expr) => {
        mod $m {
            use super::*;

            #[test]
            fn quantize_matches_llama_cpp() {
                match $fixture {
                    Some(name) => check_quantize_fixture::<$F>(name),
                    // F32: quantize is a copy
                    None => {
                        let input = fixture_f32("input.f32");
                        let q = quantize_vec::<$F>(&input);
                        assert_same_bits(bytemuck::cast_slice(&q), &input, "f32 quantize");
                    }
                }
            }

            #[test]
            fn dequantize_matches_llama_cpp() {
                match $fixture {
                    Some(name) => check_dequantize_fixtures::<$F>(name),
                    None => {
                        let input = fixture_f32("input.f32");
                        let blocks: Vec<<$F as Format>::Block> = bytemuck::cast_slice(&input).to_vec();
                        assert_same_bits(&dequantize_vec::<$F>(&blocks), &input, "f32 dequantize");
                    }
                }
            }

            #[test]
            fn llama_cpp_error_bounds() {
                check_llama_cpp_bounds::<$F>();
            }

            #[test]
            fn vec_dot_close_to_f64_dot() {
                check_vec_dot::<$F>($fixture);
            }

            #[test]
            fn empty_slices() {
                empty_is_fine::<$F>();
            }

            #[test]
            #[should_panic(expected = "dequantize: output length")]
            fn dequantize_panics_on_wrong_length() {
                dequantize_wrong_len::<$F>();
            }

            #[test]
            #[should_panic(expected = "quantize: input length")]
            fn quantize_panics_on_wrong_length() {
                quantize_wrong_len::<$F>();
            }

            #[test]
            #[should_panic(expected = "vec_dot: operand lengths")]
            fn vec_dot_panics_on_wrong_length() {
                vec_dot_wrong_len::<$F>();
            }
        }
    };
}

format_tests!(f32_tests, F32, None::<&str>);
format_tests!(f16_tests, F16, Some("f16"));
format_tests!(bf16_tests, BF16, Some("bf16"));
format_tests!(q4_0_tests, Q4_0, Some("q4_0"));
format_tests!(q4_1_tests, Q4_1, Some("q4_1"));
format_tests!(q5_0_tests, Q5_0, Some("q5_0"));
format_tests!(q5_1_tests, Q5_1, Some("q5_1"));
format_tests!(q8_0_tests, Q8_0, Some("q8_0"));
format_tests!(q8_1_tests, Q8_1, Some("q8_1"));

/// llama.cpp's `test_vec_dot_f32`: many lengths, error per element below
/// `MAX_QUANTIZATION_REFERENCE_ERROR`.
#[test]
fn f32_vec_dot_llama_cpp_lengths() {
    for n in [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 63, 67, 127, 129, 193, 255, 1023] {
        let a = generate_data(0.0, n, 2.0);
        let b = generate_data(1.0, n, 2.0);
        let result = F32::vec_dot(&a, &b);
        let error = (result - dot_product(&a, &b)).abs() / n as f32;
        assert!(error < MAX_QUANTIZATION_REFERENCE_ERROR, "n={n}: error {error}");
    }
}

/// The f16/bf16 conversions against `half` (an independent implementation) on every 16-bit
/// pattern and on a spread of f32 values; NaNs only need to stay NaN with the same sign.
#[test]
fn half_conversions_agree_with_the_half_crate() {
    use emberlm_quant::formats::bf16::{bf16_to_f32, f32_to_bf16};
    use emberlm_quant::formats::f16::{f16_to_f32, f32_to_f16};
    for bits in 0..=u16::MAX {
        let h = half::f16::from_bits(bits);
        assert_same_bits(&[f16_to_f32(h)], &[h.to_f32()], &format!("f16 {bits:#06x}"));
        let b = half::bf16::from_bits(bits);
        assert_same_bits(&[bf16_to_f32(b)], &[b.to_f32()], &format!("bf16 {bits:#06x}"));
    }
    let xs = random_values(99, 1 << 16);
    let specials =
        [0.0, -0.0, 65504.0, 65519.99, 65520.0, 1e-8, -6e-8, 3e-8, f32::INFINITY, f32::MIN_POSITIVE];
    let tiny: Vec<f32> = xs.iter().map(|v| v * 1e-4).collect(); // f16 subnormals
    for &x in xs.iter().chain(&specials).chain(&tiny) {
        assert_eq!(f32_to_f16(x).to_bits(), half::f16::from_f32(x).to_bits(), "f32_to_f16({x:e})");
        assert_eq!(f32_to_bf16(x).to_bits(), half::bf16::from_f32(x).to_bits(), "f32_to_bf16({x:e})");
    }
    assert!(f32_to_f16(f32::NAN).to_f32().is_nan());
    assert!(f32_to_bf16(-f32::NAN).to_f32().is_nan() && f32_to_bf16(-f32::NAN).to_f32().is_sign_negative());
}
