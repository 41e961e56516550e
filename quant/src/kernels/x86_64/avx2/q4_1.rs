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

use super::gemm;
use super::util::{f16_to_f32, hsum_epi32, lead_f16x8_pairs, load_i8, nibbles_32, sum_pairs_i16};
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;

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
    if gemm::check(w.len(), a.len(), row_blocks, out.len(), stride, "Q4_1 avx2").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
    }
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
unsafe fn gemm_avx2(w: &[BlockQ4_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32], stride: usize) {
    gemm::gemm8(
        w,
        a,
        rb,
        out,
        stride,
        |x: &BlockQ4_1| nibbles_32(&x.qs),
        |h| lead_f16x8_pairs(h),
        |q, y: &BlockQ8_1| block_i32(q, y),
        |(dw, mw), y, sumi| {
            let dd = _mm256_mul_ps(dw, _mm256_set1_ps(f16_to_f32(y.d)));
            let ms = _mm256_mul_ps(mw, _mm256_set1_ps(f16_to_f32(y.s)));
            _mm256_add_ps(_mm256_mul_ps(dd, sumi), ms)
        },
        // SAFETY: same CPU features; the rows have equal lengths.
        |wr, ar| unsafe { dot_avx2(wr, ar) },
    )
}
