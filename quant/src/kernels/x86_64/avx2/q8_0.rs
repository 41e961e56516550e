//! `Q8_0 x Q8_0` dot product and multi-row product, **bit-identical to the spec**.
//!
//! Integer part, exact for every input: both operands may hold any `i8` (-128 included, which the
//! `maddubs` sign trick cannot multiply exactly), so both are sign-extended to `i16` and multiplied
//! pairwise into `i32` by `_mm256_madd_epi16` (`2 * 128 * 128` fits easily).
//!
//! Float part, the spec's own operations in the spec's order: per block
//! `sumf = sumf + sumi * (d_w * d_a)`, separate multiplies and adds, blocks in order. [`dot`] does
//! that in scalar registers; [`gemm`] runs 8 weight rows at once, row `r`'s `sumf` in lane `r`.

use core::arch::x86_64::*;

use super::util::{f16_to_f32, hsum_epi32, hsum8_epi32, lead_f16x8, load_i8, load128_head, store_ps};
use crate::formats::q8_0::BlockQ8_0;

/// Activation rows computed together by [`gemm`].
const TOKENS: usize = 4;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX2`].
pub(crate) fn gemm(w: &[BlockQ8_0], a: &[BlockQ8_0], row_blocks: usize, out: &mut [f32], stride: usize) {
    if row_blocks == 0 {
        return;
    }
    assert!(w.len() % row_blocks == 0 && a.len() % row_blocks == 0, "Q8_0 avx2 gemm: partial rows");
    let (n_rows, n_tok) = (w.len() / row_blocks, a.len() / row_blocks);
    assert!(n_tok == 0 || n_rows == 0 || out.len() >= (n_tok - 1) * stride + n_rows, "Q8_0 avx2 gemm: out");
    assert!(n_tok <= 1 || stride >= n_rows, "Q8_0 avx2 gemm: overlapping output rows");
    // SAFETY: as in `dot`; every slice access below is bounds-checked.
    unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
}

/// The 32 values of a block sign-extended to `i16`, low and high halves.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn widen(x: &BlockQ8_0) -> (__m256i, __m256i) {
    let q = load_i8(&x.qs, 0);
    (_mm256_cvtepi8_epi16(_mm256_castsi256_si128(q)), _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(q)))
}

/// The integer sums of one block (widened operands) as 8 partial `i32` lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn block_i32(x: (__m256i, __m256i), y: (__m256i, __m256i)) -> __m256i {
    _mm256_add_epi32(_mm256_madd_epi16(x.0, y.0), _mm256_madd_epi16(x.1, y.1))
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let sumi = hsum_epi32(block_i32(widen(x), widen(y)));
        sumf += sumi as f32 * (f16_to_f32(x.d) * f16_to_f32(y.d));
    }
    sumf
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm`].
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::needless_range_loop)] // fixed-size register arrays, indexed in lockstep
unsafe fn gemm_avx2(w: &[BlockQ8_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32], stride: usize) {
    let n_rows = w.len() / rb;
    let n_tok = a.len() / rb;
    let full = n_rows / 8 * 8;
    for r0 in (0..full).step_by(8) {
        let rows = &w[r0 * rb..(r0 + 8) * rb];
        let mut t0 = 0;
        while t0 < n_tok {
            let nt = (n_tok - t0).min(TOKENS);
            let mut acc = [_mm256_setzero_ps(); TOKENS];
            for b in 0..rb {
                let mut head = [_mm_setzero_si128(); 8];
                for i in 0..8 {
                    head[i] = load128_head(bytemuck::bytes_of(&rows[i * rb + b]));
                }
                let dw = lead_f16x8(&head);
                for t in 0..nt {
                    let y = &a[(t0 + t) * rb + b];
                    let yw = widen(y);
                    let mut p = [_mm256_setzero_si256(); 8];
                    for i in 0..8 {
                        p[i] = block_i32(widen(&rows[i * rb + b]), yw);
                    }
                    let sumi = hsum8_epi32(&p);
                    let dd = _mm256_mul_ps(dw, _mm256_set1_ps(f16_to_f32(y.d)));
                    acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(sumi), dd));
                }
            }
            for t in 0..nt {
                store_ps(&mut out[(t0 + t) * stride + r0..], acc[t]);
            }
            t0 += nt;
        }
    }
    for r in full..n_rows {
        let wr = &w[r * rb..(r + 1) * rb];
        for t in 0..n_tok {
            // SAFETY: same CPU features; `wr` and the activation row have `rb` blocks each.
            out[t * stride + r] = unsafe { dot_avx2(wr, &a[t * rb..(t + 1) * rb]) };
        }
    }
}
