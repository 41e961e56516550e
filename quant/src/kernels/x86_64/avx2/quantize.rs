//! Activation quantizers: f32 -> F16 (F16C), Q8_0, Q8_1 and Q8_K.
//!
//! All four produce **the same bytes as the scalar spec for every input**, NaN and infinities
//! included (the parity tests check random, edge and non-finite inputs):
//! - F16: `vcvtps2ph` rounds to nearest-even with subnormals and overflow to ±Inf, as ggml's
//!   portable conversion does; the two differ only on NaN (F16C keeps payload bits, ggml writes
//!   `0x7E00` with the input's sign), so NaN lanes are patched to ggml's value.
//! - Q8_0 / Q8_1: the activation spec (`q8_0::quantize_activations`) is llama.cpp's own AVX2
//!   `quantize_row_q8_0`/`_q8_1`, and this is the same instruction sequence: `maxps` reduction
//!   (its operand order decides NaNs), `id = 127/amax`, `vroundps` to nearest-even, `vcvtps2dq`
//!   (`i32::MIN` for NaN/out of range), saturating packs; `s` from the `i32` sum before the packs.
//! - Q8_K: `nearest_int`'s bit trick (add 1.5 * 2^23, read the mantissa) is reproduced lane by
//!   lane; the largest magnitude ignores NaN like the spec's `>` comparison, and the value that
//!   sets the scale is the first one of that magnitude, as in the spec.

use core::arch::x86_64::*;

use half::f16;

use super::util::{hsum_epi32, load_ps, low_bytes_32, store_f16x8, store_i8, sum_i8_groups16};
use crate::formats::f16::f32_to_f16;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;
use crate::formats::q8_k::BlockQ8K;

/// Safe entry point of the F16 quantizer; only reachable through [`super::AVX2`].
pub(crate) fn quantize_f16(x: &[f32], out: &mut [f16]) {
    assert_eq!(x.len(), out.len(), "F16 avx2 quantize: input length");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { quantize_f16_avx2(x, out) }
}

/// Safe entry point of the Q8_0 quantizer; only reachable through [`super::AVX2`].
pub(crate) fn quantize_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(Some(x.len()), out.len().checked_mul(32), "Q8_0 avx2 quantize: input length");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { quantize_q8_0_avx2(x, out) }
}

/// Safe entry point of the Q8_1 quantizer; only reachable through [`super::AVX2`].
pub(crate) fn quantize_q8_1(x: &[f32], out: &mut [BlockQ8_1]) {
    assert_eq!(Some(x.len()), out.len().checked_mul(32), "Q8_1 avx2 quantize: input length");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { quantize_q8_1_avx2(x, out) }
}

/// Safe entry point of the Q8_K quantizer; only reachable through [`super::AVX2`].
pub(crate) fn quantize_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    assert_eq!(Some(x.len()), out.len().checked_mul(256), "q8_K avx2 quantize: input length");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { quantize_q8_k_avx2(x, out) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `x.len() == out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_f16_avx2(x: &[f32], out: &mut [f16]) {
    let mut xc = x.chunks_exact(8);
    let mut oc = out.chunks_exact_mut(8);
    for (x8, o8) in (&mut xc).zip(&mut oc) {
        let v = load_ps(x8);
        let mut h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
        let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
        if _mm256_movemask_epi8(nan) != 0 {
            let sign =
                _mm256_and_si256(_mm256_srli_epi32::<16>(_mm256_castps_si256(v)), _mm256_set1_epi32(0x8000));
            let qnan = _mm256_or_si256(sign, _mm256_set1_epi32(0x7E00));
            let qnan = _mm_packus_epi32(_mm256_castsi256_si128(qnan), _mm256_extracti128_si256::<1>(qnan));
            let nan = _mm_packs_epi32(_mm256_castsi256_si128(nan), _mm256_extracti128_si256::<1>(nan));
            h = _mm_blendv_epi8(h, qnan, nan);
        }
        store_f16x8(o8, h);
    }
    for (&v, o) in xc.remainder().iter().zip(oc.into_remainder()) {
        *o = f32_to_f16(v);
    }
}

/// `f32_to_f16(v)` (the spec's conversion) with F16C, which rounds identically for every non-NaN
/// input (checked over all 2^32 inputs by the ignored exhaustive test); NaN goes to the spec.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn to_f16(v: f32) -> f16 {
    if v.is_nan() {
        return f32_to_f16(v);
    }
    let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set1_ps(v));
    f16::from_bits(_mm_extract_epi16::<0>(h) as u16)
}

/// The 32 values of `xb` (32 long) as 4 vectors.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load32(xb: &[f32]) -> [__m256; 4] {
    [load_ps(&xb[0..]), load_ps(&xb[8..]), load_ps(&xb[16..]), load_ps(&xb[24..])]
}

/// `|v|` (clears the sign bit, like `fabsf`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn abs_ps(v: __m256) -> __m256 {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), v)
}

/// `max(acc, |v|)` where a NaN `v` leaves `acc` unchanged (`maxps` returns its second operand
/// unless the first is greater).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn max_abs(acc: __m256, v: __m256) -> __m256 {
    _mm256_max_ps(abs_ps(v), acc)
}

/// The largest of the 8 lanes (no lane is NaN).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hmax_ps(v: __m256) -> f32 {
    let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    let m = _mm_max_ss(m, _mm_movehdup_ps(m));
    _mm_cvtss_f32(m)
}

/// llama.cpp's AVX2 `quantize_row_q8_0`/`_q8_1` block core: `amax` by `maxps` in its order,
/// `d = amax / 127`, `id = 127 / amax` (0 if `amax == 0`), and the 32 values
/// `cvtps_epi32(round_nearest_even(v * id))` as 4 vectors of `i32` (before the packs).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_block(v: &[__m256; 4]) -> (f32, [__m256i; 4]) {
    let m = _mm256_max_ps(abs_ps(v[0]), abs_ps(v[1]));
    let m = _mm256_max_ps(_mm256_max_ps(m, abs_ps(v[2])), abs_ps(v[3]));
    let m4 = _mm_max_ps(_mm256_extractf128_ps::<1>(m), _mm256_castps256_ps128(m));
    let m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    let amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    let d = amax / 127.0;
    let id = _mm256_set1_ps(if amax != 0.0 { 127.0 / amax } else { 0.0 });
    let mut q = [_mm256_setzero_si256(); 4];
    for (q, &v) in q.iter_mut().zip(v) {
        let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(v, id));
        *q = _mm256_cvtps_epi32(r);
    }
    (d, q)
}

/// The 32 `i32`s saturated to `i8`, in element order (`packs_epi32`, `packs_epi16`, then the
/// lane fix-up `permutevar8x32(0, 4, 1, 5, 2, 6, 3, 7)`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_q8(q: &[__m256i; 4]) -> __m256i {
    let i0 = _mm256_packs_epi32(q[0], q[1]);
    let i2 = _mm256_packs_epi32(q[2], q[3]);
    let i0 = _mm256_packs_epi16(i0, i2);
    _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `x.len() == 32 * out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_q8_0_avx2(x: &[f32], out: &mut [BlockQ8_0]) {
    for (xb, y) in x.chunks_exact(32).zip(out.iter_mut()) {
        let (d, q) = q8_block(&load32(xb));
        y.d = to_f16(d);
        store_i8(&mut y.qs, 0, pack_q8(&q));
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `x.len() == 32 * out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_q8_1_avx2(x: &[f32], out: &mut [BlockQ8_1]) {
    for (xb, y) in x.chunks_exact(32).zip(out.iter_mut()) {
        let (d, q) = q8_block(&load32(xb));
        y.d = to_f16(d);
        let sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
        y.s = to_f16(d * sum as f32);
        store_i8(&mut y.qs, 0, pack_q8(&q));
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `x.len() == 256 * out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_q8_k_avx2(x: &[f32], out: &mut [BlockQ8K]) {
    for (xb, y) in x.chunks_exact(256).zip(out.iter_mut()) {
        let mut m = _mm256_setzero_ps();
        for c in xb.chunks_exact(8) {
            m = max_abs(m, load_ps(c));
        }
        let amax = hmax_ps(m);
        if amax == 0.0 {
            *y = bytemuck::Zeroable::zeroed();
            continue;
        }
        // the first value of largest magnitude
        let target = _mm256_set1_ps(amax);
        let mut max = amax;
        for c in xb.chunks_exact(8) {
            let hit = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(abs_ps(load_ps(c)), target));
            if hit != 0 {
                max = c[hit.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0f32 / max;
        let vscale = _mm256_set1_ps(iscale);
        for (g, xg) in xb.chunks_exact(32).enumerate() {
            // nearest_int(iscale * v).min(127): add 1.5 * 2^23, keep the low 23 bits, unbias
            let q = load32(xg).map(|v| {
                let t = _mm256_add_ps(_mm256_mul_ps(vscale, v), _mm256_set1_ps(12_582_912.0));
                let i = _mm256_and_si256(_mm256_castps_si256(t), _mm256_set1_epi32(0x007f_ffff));
                _mm256_min_epi32(_mm256_sub_epi32(i, _mm256_set1_epi32(0x0040_0000)), _mm256_set1_epi32(127))
            });
            let q = low_bytes_32(q[0], q[1], q[2], q[3]);
            store_i8(&mut y.qs, 32 * g, q);
            [y.bsums[2 * g], y.bsums[2 * g + 1]] = sum_i8_groups16(q);
        }
        y.d = 1.0 / iscale;
    }
}
