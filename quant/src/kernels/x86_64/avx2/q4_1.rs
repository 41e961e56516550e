//! `Q4_1 x Q8_1` dot product and multi-row product, **bit-identical to the spec**.
//!
//! Integer part, exact for every input: per block, `_mm256_maddubs_epi16` multiplies the unsigned
//! nibbles (0..=15) by the activations (any `i8`; a pair sum is at most `2 * 15 * 128` in
//! magnitude, no saturation) and the pairs are summed in `i32`.
//!
//! Float part, the spec's own operations in the spec's order: per block
//! `sumf = sumf + ((d_w * d_a) * sumi + m_w * s_a)`, separate multiplies and adds (never fused),
//! blocks in order. The single-row [`dot`] does exactly that in scalar registers; [`gemm`] runs 8
//! weight rows at once with row `r`'s `sumf` in lane `r` of one `f32x8`, so each lane performs the
//! same operation sequence as the spec.

use core::arch::x86_64::*;

use super::util::{
    f16_to_f32, hsum_epi32, hsum8_epi32, lead_f16x8_pairs, load_i8, load128_head, nibbles_32, store_ps,
    sum_pairs_i16,
};
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;

/// Activation rows computed together by [`gemm`] (each weight block is expanded once for them).
const TOKENS: usize = 4;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_1 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX2`].
pub(crate) fn gemm(w: &[BlockQ4_1], a: &[BlockQ8_1], row_blocks: usize, out: &mut [f32], stride: usize) {
    if row_blocks == 0 {
        return;
    }
    assert!(w.len() % row_blocks == 0 && a.len() % row_blocks == 0, "Q4_1 avx2 gemm: partial rows");
    let (n_rows, n_tok) = (w.len() / row_blocks, a.len() / row_blocks);
    assert!(n_tok == 0 || n_rows == 0 || out.len() >= (n_tok - 1) * stride + n_rows, "Q4_1 avx2 gemm: out");
    assert!(n_tok <= 1 || stride >= n_rows, "Q4_1 avx2 gemm: overlapping output rows");
    // SAFETY: as in `dot`; every slice access below is bounds-checked.
    unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
}

/// The integer sums of one block as 8 partial `i32` lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn block_i32(q: __m256i, y: &BlockQ8_1) -> __m256i {
    sum_pairs_i16(_mm256_maddubs_epi16(q, load_i8(&y.qs, 0)))
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let sumi = hsum_epi32(block_i32(nibbles_32(&x.qs), y));
        sumf += (f16_to_f32(x.d) * f16_to_f32(y.d)) * sumi as f32 + f16_to_f32(x.m) * f16_to_f32(y.s);
    }
    sumf
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm`].
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::needless_range_loop)] // fixed-size register arrays, indexed in lockstep
unsafe fn gemm_avx2(w: &[BlockQ4_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32], stride: usize) {
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
                let mut q = [_mm256_setzero_si256(); 8];
                let mut head = [_mm_setzero_si128(); 8];
                for i in 0..8 {
                    let x = &rows[i * rb + b];
                    q[i] = nibbles_32(&x.qs);
                    head[i] = load128_head(bytemuck::bytes_of(x));
                }
                let (dw, mw) = lead_f16x8_pairs(&head);
                for t in 0..nt {
                    let y = &a[(t0 + t) * rb + b];
                    let mut p = [_mm256_setzero_si256(); 8];
                    for i in 0..8 {
                        p[i] = block_i32(q[i], y);
                    }
                    let sumi = hsum8_epi32(&p);
                    let dd = _mm256_mul_ps(dw, _mm256_set1_ps(f16_to_f32(y.d)));
                    let ms = _mm256_mul_ps(mw, _mm256_set1_ps(f16_to_f32(y.s)));
                    let blk = _mm256_add_ps(_mm256_mul_ps(dd, _mm256_cvtepi32_ps(sumi)), ms);
                    acc[t] = _mm256_add_ps(acc[t], blk);
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
