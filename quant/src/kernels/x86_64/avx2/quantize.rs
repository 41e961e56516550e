//! Activation quantizers: f32 -> F16 (F16C), Q8_0, Q8_1 and Q8_K.
//!
//! All four produce **the same bytes as the scalar spec for every input**, NaN and infinities
//! included (the parity tests check random, edge and non-finite inputs):
//! - F16: `vcvtps2ph` rounds to nearest-even with subnormals and overflow to ±Inf, as ggml's
//!   portable conversion does; the two differ only on NaN (F16C keeps payload bits, ggml writes
//!   `0x7E00` with the input's sign), so NaN lanes are patched to ggml's value.
//! - Q8_0 / Q8_1: the spec rounds with `libm::roundf`, i.e. `trunc(x + copysign(0.5 - 2^-25, x))`
//!   (half away from zero); the same two IEEE operations are done here on 8 lanes (llama.cpp's
//!   AVX2 quantizer rounds half to even instead and computes `id = 127/amax` rather than the
//!   reference's `1/d`, so its bytes can differ from the reference; ours do not). The float to
//!   integer conversion is `vcvttps2dq`, whose out-of-range/NaN result `i32::MIN` is exactly the
//!   spec's `c_f32_to_i32`, and the narrowing keeps the low byte like C's `(int8_t)`. The spec's
//!   running `amax` treats a NaN order-dependently, so a block containing a NaN is handed to the
//!   scalar spec (a branch that is never taken on finite data).
//! - Q8_K: `nearest_int`'s bit trick (add 1.5 * 2^23, read the mantissa) is reproduced lane by
//!   lane; the largest magnitude ignores NaN like the spec's `>` comparison, and the value that
//!   sets the scale is the first one of that magnitude, as in the spec.

use core::arch::x86_64::*;

use half::f16;

use super::util::{load_ps, low_bytes_32, store_f16x8, store_i8, sum_i8_groups8};
use crate::Format;
use crate::formats::f16::f32_to_f16;
use crate::formats::q8_0::{BlockQ8_0, Q8_0};
use crate::formats::q8_1::{BlockQ8_1, Q8_1};
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

/// Whether any of the 32 values is a NaN.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn any_nan(v: &[__m256; 4]) -> bool {
    let n01 =
        _mm256_or_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(v[0], v[0]), _mm256_cmp_ps::<_CMP_UNORD_Q>(v[1], v[1]));
    let n23 =
        _mm256_or_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(v[2], v[2]), _mm256_cmp_ps::<_CMP_UNORD_Q>(v[3], v[3]));
    _mm256_movemask_ps(_mm256_or_ps(n01, n23)) != 0
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

/// `c_f32_to_i32(libm::roundf(v * id))` on 32 lanes, as the low bytes of the 32 results.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn round_q8(v: &[__m256; 4], id: f32) -> __m256i {
    let id = _mm256_set1_ps(id);
    // libm's roundf: trunc(t + copysign(0.5 - 2^-25, t))
    let half = _mm256_set1_ps(f32::from_bits(0x3EFF_FFFF));
    let sign = _mm256_set1_ps(-0.0);
    let q = v.map(|v| {
        let t = _mm256_mul_ps(v, id);
        let r = _mm256_add_ps(t, _mm256_or_ps(half, _mm256_and_ps(t, sign)));
        _mm256_cvttps_epi32(_mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(r))
    });
    low_bytes_32(q[0], q[1], q[2], q[3])
}

/// The amax / d / id of a Q8_0 or Q8_1 block without NaN, as the spec computes them.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_scale(v: &[__m256; 4]) -> (f32, f32) {
    let m = max_abs(max_abs(max_abs(max_abs(_mm256_setzero_ps(), v[0]), v[1]), v[2]), v[3]);
    let amax = hmax_ps(m);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    (d, id)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `x.len() == 32 * out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_q8_0_avx2(x: &[f32], out: &mut [BlockQ8_0]) {
    for (xb, y) in x.chunks_exact(32).zip(out.iter_mut()) {
        let v = load32(xb);
        if any_nan(&v) {
            Q8_0::quantize(xb, core::slice::from_mut(y));
            continue;
        }
        let (d, id) = q8_scale(&v);
        y.d = to_f16(d);
        store_i8(&mut y.qs, 0, round_q8(&v, id));
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `x.len() == 32 * out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_q8_1_avx2(x: &[f32], out: &mut [BlockQ8_1]) {
    for (xb, y) in x.chunks_exact(32).zip(out.iter_mut()) {
        let v = load32(xb);
        if any_nan(&v) {
            Q8_1::quantize(xb, core::slice::from_mut(y));
            continue;
        }
        let (d, id) = q8_scale(&v);
        y.d = to_f16(d);
        let q = round_q8(&v, id);
        store_i8(&mut y.qs, 0, q);
        let s = sum_i8_groups8(q);
        let s = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
        let sum = _mm_cvtsi128_si64(_mm_add_epi64(s, _mm_unpackhi_epi64(s, s))) as i32;
        y.s = to_f16(sum as f32 * d);
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
            let sums = sum_i8_groups8(q);
            let mut s = [0i64; 4];
            // SAFETY: `s` is 32 writable bytes; storeu needs no alignment.
            unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), sums) };
            y.bsums[2 * g] = (s[0] + s[1]) as i16;
            y.bsums[2 * g + 1] = (s[2] + s[3]) as i16;
        }
        y.d = 1.0 / iscale;
    }
}
