//! `q4_K x q8_K` dot products: the three orders of llama.cpp's x86-64 AVX2 code, bit-exact with
//! the spec ([`crate::formats::q4_k`]): [`dot`] (`ggml_vec_dot_q4_K_q8_K`), [`dot_gemv`]
//! (`ggml_gemv_q4_K_8x8_q8_K`, one weight row) and [`dot_gemm`] (`ggml_gemm_q4_K_8x8_q8_K`, one
//! weight row and one activation row).
//!
//! The integer work is llama.cpp's: `_mm256_maddubs_epi16` of the 4-bit quants (0..=15, the
//! unsigned operand) with the activations (any `i8`: pair sums at most `2 * 15 * 128`, never
//! saturating), `_mm256_madd_epi16` with the 6-bit sub-block scales, so `i32` lane `m` of sub-block
//! pair `p` holds values `64p + 4m..4m+4` and `64p + 32 + 4m..4m+4` (the spec's lanes); the mins
//! through `_mm_hadd_epi16` of the `bsums` (wrapping `i16`, as the spec) and `_mm_madd_epi16`.
//! The float work is the spec's operations in the spec's order: `_mm256_fmadd_ps` /
//! `_mm_fmadd_ss` are IEEE fused multiply-adds, as the spec's `fmaf`.

use core::arch::x86_64::*;

use super::util::{
    f16_to_f32, hsum_epi32, hsum_ps, i16_bcast_ctrl, load_i8, load_i16x16, load_u8, scales_mins_k4,
};
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q8_k::BlockQ8K;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "q4_K avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot_gemv(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "q4_K avx2 gemv dot: operand lengths");
    // SAFETY: as in `dot`.
    unsafe { dot_gemv_avx2(w, a) }
}

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot_gemm(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "q4_K avx2 gemm dot: operand lengths");
    // SAFETY: as in `dot`.
    unsafe { dot_gemm_avx2(w, a) }
}

/// The integer part of one block: the 4 sub-block pair vectors (lane `m` of pair `p`:
/// `sc[2p] * Σ_{k<4} q*a over 64p+4m+k + sc[2p+1] * Σ_{k<4} q*a over 64p+32+4m+k`) and the 4 min
/// lanes (`m[2k]*bs32[2k] + m[2k+1]*bs32[2k+1]`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn block_ints(x: &BlockQ4K, y: &BlockQ8K) -> ([__m256i; 4], __m128i) {
    let (sc, mn) = scales_mins_k4(&x.scales);
    let m4 = _mm256_set1_epi8(0xF);
    let sc16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(i64::from_le_bytes(sc)));
    let scales = _mm256_set_m128i(sc16, sc16);
    let mn16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(i64::from_le_bytes(mn)));
    let bs = load_i16x16(&y.bsums);
    let bs32 = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256::<1>(bs));
    let mins = _mm_madd_epi16(mn16, bs32);
    let mut pairs = [_mm256_setzero_si256(); 4];
    for (p, pair) in pairs.iter_mut().enumerate() {
        let bits = load_u8(&x.qs, 32 * p);
        let lo = _mm256_and_si256(bits, m4);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
        let s_lo = _mm256_shuffle_epi8(scales, i16_bcast_ctrl(2 * p as i8, 2 * p as i8));
        let s_hi = _mm256_shuffle_epi8(scales, i16_bcast_ctrl(2 * p as i8 + 1, 2 * p as i8 + 1));
        let p_lo = _mm256_madd_epi16(s_lo, _mm256_maddubs_epi16(lo, load_i8(&y.qs, 64 * p)));
        let p_hi = _mm256_madd_epi16(s_hi, _mm256_maddubs_epi16(hi, load_i8(&y.qs, 64 * p + 32)));
        *pair = _mm256_add_epi32(p_lo, p_hi);
    }
    (pairs, mins)
}

/// `[Σ lanes of v[0], .., Σ lanes of v[3]]` (exact, wrapping).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum4_epi32(v: &[__m256i; 4]) -> __m128i {
    let h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256::<1>(h))
}

/// The 4 `i32` lanes of `v`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn lanes4(v: __m128i) -> [i32; 4] {
    [
        _mm_extract_epi32::<0>(v),
        _mm_extract_epi32::<1>(v),
        _mm_extract_epi32::<2>(v),
        _mm_extract_epi32::<3>(v),
    ]
}

/// `fma(a, b, c)` on scalars (one IEEE rounding).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn fma_ss(a: f32, b: f32, c: f32) -> f32 {
    _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)))
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let d = y.d * f16_to_f32(x.d);
        let dmin = -y.d * f16_to_f32(x.dmin);
        let (pairs, mins) = block_ints(x, y);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins), acc_m);
        let sumi =
            _mm256_add_epi32(_mm256_add_epi32(pairs[0], pairs[1]), _mm256_add_epi32(pairs[2], pairs[3]));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    let acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
    let acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));
    hsum_ps(acc) + _mm_cvtss_f32(acc_m)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_gemv_avx2(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut acc = 0.0f32;
    let mut acc_m = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let (pairs, mins) = block_ints(x, y);
        let isum = hsum_epi32(_mm256_add_epi32(
            _mm256_add_epi32(pairs[0], pairs[1]),
            _mm256_add_epi32(pairs[2], pairs[3]),
        ));
        let m = _mm_add_epi32(mins, _mm_unpackhi_epi64(mins, mins));
        let imin = _mm_cvtsi128_si32(_mm_add_epi32(m, _mm_shuffle_epi32::<0b01>(m)));
        acc = fma_ss(isum as f32, f16_to_f32(x.d) * y.d, acc);
        acc_m = fma_ss(imin as f32, f16_to_f32(x.dmin) * y.d, acc_m);
    }
    acc - acc_m
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_gemm_avx2(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut acc = 0.0f32;
    let mut acc_m = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let (pairs, mins) = block_ints(x, y);
        let ip = lanes4(hsum4_epi32(&pairs));
        let im = lanes4(mins);
        let d = f16_to_f32(x.d) * y.d;
        let dmin = f16_to_f32(x.dmin) * y.d;
        for p in 0..4 {
            acc = fma_ss(ip[p] as f32, d, acc);
            acc_m = fma_ss(im[p] as f32, dmin, acc_m);
        }
    }
    acc - acc_m
}
