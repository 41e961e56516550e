//! Multi-row `q4_K` / `q6_K` products, bit-exact with the spec's per-value dot products.
//!
//! - [`gemm_q4_k_gemm`] ([`crate::formats::q4_k::Q4K::dot_gemm`] per value, llama.cpp's
//!   `ggml_gemm_q4_K_8x8_q8_K` order): 8 weight rows side by side in the lanes of the float
//!   accumulators, as llama.cpp's repacked kernel does, [`TOKENS`] activation rows per pass over
//!   each block of the 8 rows. Per block and activation row, each weight row's 4 sub-block-pair
//!   sums and 4 min sums are reduced exactly ([`super::q4_k::block_ints`]) and transposed so that
//!   lane `r` holds row `r`'s; the 8 fused multiply-adds per pair are then the spec's, lane-wise.
//! - [`gemm_q4_k_gemv`] ([`crate::formats::q4_k::Q4K::dot_gemv`] per value, llama.cpp's
//!   `ggml_gemv_q4_K_8x8_q8_K` order, decoding): 8 weight rows in lanes, each row's exact block
//!   sum and min sum reduced and transposed into lane `r`, one fused multiply-add each per block.
//! - [`gemm_q6_k`] (the `vec_dot` order): the per-value float work is already 8 lanes wide, so one
//!   weight row at a time against [`TOKENS`] activation rows, each weight block unpacked once per
//!   pass. (A `q4_K` `vec_dot`-order twin measured no faster than one dot per value, so the table
//!   has none: llama.cpp repacks every `q4_K` matrix whose row count allows it.)
//!
//! Rows past the last multiple of 8 (q4_K repacked order) use the single-row dot.

use core::arch::x86_64::*;

use super::gemm::check;
use super::q4_k::{block_ints, hsum4_epi32};
use super::util::{
    f16_to_f32, hsum_ps, hsum8_epi32, load_i8, load_i16x16, load_u8, prefetch_share, scales_mins_k4, store_ps,
};
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;

/// Activation rows per pass over a block of weights.
const TOKENS: usize = 32;

/// How many groups of 8 rows ahead [`gemm_q4_k_gemv`] prefetches the weights.
const GEMV_PREFETCH_GROUPS: usize = 1;

/// How many rows ahead [`gemm_q6_k`] prefetches the weights.
const Q6K_PREFETCH_ROWS: usize = 8;

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn gemm_q4_k_gemm(w: &[BlockQ4K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let Some(_) = check(w.len(), a.len(), rb, out.len(), stride, "q4_K") else { return };
    // SAFETY: reachable only through the AVX2 table (avx2, fma and f16c detected); operands
    // checked above.
    unsafe { gemm_q4_k_gemm_avx2(w, a, rb, out, stride) }
}

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn gemm_q4_k_gemv(w: &[BlockQ4K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let Some(_) = check(w.len(), a.len(), rb, out.len(), stride, "q4_K") else { return };
    // SAFETY: as above.
    unsafe { gemm_q4_k_gemv_avx2(w, a, rb, out, stride) }
}

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn gemm_q6_k(w: &[BlockQ6K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let Some(_) = check(w.len(), a.len(), rb, out.len(), stride, "q6_K") else { return };
    // SAFETY: as above.
    unsafe { gemm_q6_k_avx2(w, a, rb, out, stride) }
}

/// Transposes 8 rows of 4 `i32` (`v[r]`) into 4 vectors of 8 lanes (vector `p`, lane `r` = `v[r][p]`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn transpose_8x4(v: &[__m128i; 8]) -> [__m256i; 4] {
    let half = |m: &[__m128i]| {
        let t0 = _mm_unpacklo_epi32(m[0], m[1]);
        let t1 = _mm_unpackhi_epi32(m[0], m[1]);
        let t2 = _mm_unpacklo_epi32(m[2], m[3]);
        let t3 = _mm_unpackhi_epi32(m[2], m[3]);
        [
            _mm_unpacklo_epi64(t0, t2),
            _mm_unpackhi_epi64(t0, t2),
            _mm_unpacklo_epi64(t1, t3),
            _mm_unpackhi_epi64(t1, t3),
        ]
    };
    let (lo, hi) = (half(&v[..4]), half(&v[4..]));
    [
        _mm256_set_m128i(hi[0], lo[0]),
        _mm256_set_m128i(hi[1], lo[1]),
        _mm256_set_m128i(hi[2], lo[2]),
        _mm256_set_m128i(hi[3], lo[3]),
    ]
}

/// # Safety
/// AVX2, FMA and F16C; operands checked by [`check`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_q4_k_gemm_avx2(w: &[BlockQ4K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let pair = |s_lo, p_lo, s_hi, p_hi| {
        _mm256_add_epi32(_mm256_madd_epi16(s_lo, p_lo), _mm256_madd_epi16(s_hi, p_hi))
    };
    gemm_q4_k_gemm_with(w, a, rb, out, stride, &pair);
}

/// [`gemm_q4_k_gemm_avx2`] with `pair(s_lo, p_lo, s_hi, p_hi)` = `madd(s_lo, p_lo) + madd(s_hi,
/// p_hi)` as given (the VNNI tier's ends in one `vpdpwssd`: the same integers).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::needless_range_loop)] // register arrays in lockstep
pub(in crate::kernels::x86_64) fn gemm_q4_k_gemm_with<
    P: Fn(__m256i, __m256i, __m256i, __m256i) -> __m256i,
>(
    w: &[BlockQ4K],
    a: &[BlockQ8K],
    rb: usize,
    out: &mut [f32],
    stride: usize,
    pair: &P,
) {
    let n_rows = w.len() / rb;
    let n_tok = a.len() / rb;
    let full = n_rows / 8 * 8;
    for r0 in (0..full).step_by(8) {
        let rows = &w[r0 * rb..(r0 + 8) * rb];
        let m4 = _mm256_set1_epi8(0xF);
        let mut t0 = 0;
        while t0 < n_tok {
            let nt = (n_tok - t0).min(TOKENS);
            let mut acc = [_mm256_setzero_ps(); TOKENS];
            let mut acc_m = [_mm256_setzero_ps(); TOKENS];
            for b in 0..rb {
                let dw = scales8(rows, rb, b, |x| x.d);
                let dminw = scales8(rows, rb, b, |x| x.dmin);
                // the 8 weight blocks unpacked once for the tokens of the pass: row i's nibbles of
                // sub-block j, its scale j broadcast as i16, its mins as i16
                let mut q = [[_mm256_setzero_si256(); 8]; 8];
                let mut sc = [[_mm256_setzero_si256(); 8]; 8];
                let mut mn = [_mm_setzero_si128(); 8];
                for i in 0..8 {
                    let x = &rows[i * rb + b];
                    let (s8, m8) = scales_mins_k4(&x.scales);
                    for p in 0..4 {
                        let bits = load_u8(&x.qs, 32 * p);
                        q[i][2 * p] = _mm256_and_si256(bits, m4);
                        q[i][2 * p + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
                    }
                    for j in 0..8 {
                        sc[i][j] = _mm256_set1_epi16(i16::from(s8[j]));
                    }
                    mn[i] = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(i64::from_le_bytes(m8)));
                }
                for t in 0..nt {
                    let y = &a[(t0 + t) * rb + b];
                    let mut av = [_mm256_setzero_si256(); 8];
                    for (j, v) in av.iter_mut().enumerate() {
                        *v = load_i8(&y.qs, 32 * j);
                    }
                    let bs = load_i16x16(&y.bsums);
                    let bs32 = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256::<1>(bs));
                    let mut ip = [_mm_setzero_si128(); 8];
                    let mut im = [_mm_setzero_si128(); 8];
                    for i in 0..8 {
                        let mut pv = [_mm256_setzero_si256(); 4];
                        for p in 0..4 {
                            let lo = _mm256_maddubs_epi16(q[i][2 * p], av[2 * p]);
                            let hi = _mm256_maddubs_epi16(q[i][2 * p + 1], av[2 * p + 1]);
                            pv[p] = pair(sc[i][2 * p], lo, sc[i][2 * p + 1], hi);
                        }
                        ip[i] = hsum4_epi32(&pv);
                        im[i] = _mm_madd_epi16(mn[i], bs32);
                    }
                    let (ip, im) = (transpose_8x4(&ip), transpose_8x4(&im));
                    let da = _mm256_set1_ps(y.d);
                    let d = _mm256_mul_ps(dw, da);
                    let dmin = _mm256_mul_ps(dminw, da);
                    for p in 0..4 {
                        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ip[p]), d, acc[t]);
                        acc_m[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(im[p]), dmin, acc_m[t]);
                    }
                }
            }
            for t in 0..nt {
                store_ps(&mut out[(t0 + t) * stride + r0..], _mm256_sub_ps(acc[t], acc_m[t]));
            }
            t0 += nt;
        }
    }
    for r in full..n_rows {
        let wr = &w[r * rb..(r + 1) * rb];
        for t in 0..n_tok {
            out[t * stride + r] = super::q4_k::dot_gemm(wr, &a[t * rb..(t + 1) * rb]);
        }
    }
}

/// The 8 rows' `f16` field `f` of block `b`, widened to f32 (exact).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn scales8(rows: &[BlockQ4K], rb: usize, b: usize, f: impl Fn(&BlockQ4K) -> half::f16) -> __m256 {
    let mut v = [0u16; 8];
    for (i, h) in v.iter_mut().enumerate() {
        *h = f(&rows[i * rb + b]).to_bits();
    }
    // SAFETY: 16 readable bytes; loadu needs no alignment.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(v.as_ptr().cast()) })
}

/// # Safety
/// AVX2, FMA and F16C; operands checked by [`check`].
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::needless_range_loop)] // register arrays in lockstep
unsafe fn gemm_q4_k_gemv_avx2(w: &[BlockQ4K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let n_rows = w.len() / rb;
    let n_tok = a.len() / rb;
    let full = n_rows / 8 * 8;
    for r0 in (0..full).step_by(8) {
        let rows = &w[r0 * rb..(r0 + 8) * rb];
        // the group of 8 rows `GEMV_PREFETCH_GROUPS` ahead (contiguous), its lines spread over
        // every row's block of the first token's pass (3 lines each, not 18 at once a block:
        // Gemma 3's q4_K products on 2 threads 0.63-0.70 -> 0.55-0.62 ms a token in
        // `model-gemv`): the 8 interleaved row streams read here are followed poorly by the
        // hardware prefetchers
        let ahead = (r0 + 8 * GEMV_PREFETCH_GROUPS) * rb;
        let next: &[u8] =
            if ahead + 8 * rb <= w.len() { bytemuck::cast_slice(&w[ahead..ahead + 8 * rb]) } else { &[] };
        for t in 0..n_tok {
            let mut acc = _mm256_setzero_ps();
            let mut acc_m = _mm256_setzero_ps();
            for b in 0..rb {
                let y = &a[t * rb + b];
                let mut p = [_mm256_setzero_si256(); 8];
                let mut im = [_mm_setzero_si128(); 8];
                for i in 0..8 {
                    if t == 0 {
                        prefetch_share(next, 8 * rb, 8 * b + i);
                    }
                    let (pairs, mins) = block_ints(&rows[i * rb + b], y);
                    p[i] = _mm256_add_epi32(
                        _mm256_add_epi32(pairs[0], pairs[1]),
                        _mm256_add_epi32(pairs[2], pairs[3]),
                    );
                    im[i] = mins;
                }
                let isum = hsum8_epi32(&p);
                let m = transpose_8x4(&im);
                let imin = _mm256_add_epi32(_mm256_add_epi32(m[0], m[1]), _mm256_add_epi32(m[2], m[3]));
                let da = _mm256_set1_ps(y.d);
                let d = _mm256_mul_ps(scales8(rows, rb, b, |x| x.d), da);
                let dmin = _mm256_mul_ps(scales8(rows, rb, b, |x| x.dmin), da);
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), d, acc);
                acc_m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), dmin, acc_m);
            }
            store_ps(&mut out[t * stride + r0..], _mm256_sub_ps(acc, acc_m));
        }
    }
    for r in full..n_rows {
        let wr = &w[r * rb..(r + 1) * rb];
        for t in 0..n_tok {
            out[t * stride + r] = super::q4_k::dot_gemv(wr, &a[t * rb..(t + 1) * rb]);
        }
    }
}

/// # Safety
/// AVX2, FMA and F16C; operands checked by [`check`].
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::needless_range_loop)] // register arrays in lockstep
unsafe fn gemm_q6_k_avx2(w: &[BlockQ6K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let n_tok = a.len() / rb;
    for (r, wr) in w.chunks_exact(rb).enumerate() {
        // the row `Q6K_PREFETCH_ROWS` ahead, its lines spread over the blocks of the first pass
        let ahead = (r + Q6K_PREFETCH_ROWS) * rb;
        let next: &[u8] =
            if ahead + rb <= w.len() { bytemuck::cast_slice(&w[ahead..ahead + rb]) } else { &[] };
        let mut t0 = 0;
        while t0 < n_tok {
            let nt = (n_tok - t0).min(TOKENS);
            let mut acc = [_mm256_setzero_ps(); TOKENS];
            for (b, x) in wr.iter().enumerate() {
                if t0 == 0 {
                    prefetch_share(next, rb, b);
                }
                // the block unpacked once for the tokens of the pass
                let (raw, scales, all) = super::q6_k::unpack(x);
                let dw = f16_to_f32(x.d);
                for t in 0..nt {
                    let y = &a[(t0 + t) * rb + b];
                    let mut sumi = _mm256_setzero_si256();
                    for c in 0..8 {
                        let p16 = _mm256_maddubs_epi16(raw[c], load_i8(&y.qs, 32 * c));
                        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scales[c], p16));
                    }
                    let sub = _mm256_slli_epi32::<5>(_mm256_madd_epi16(load_i16x16(&y.bsums), all));
                    let lanes = _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, sub));
                    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y.d * dw), lanes, acc[t]);
                }
            }
            for t in 0..nt {
                out[(t0 + t) * stride + r] = hsum_ps(acc[t]);
            }
            t0 += nt;
        }
    }
}
