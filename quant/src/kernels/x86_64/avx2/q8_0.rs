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

use super::gemm;
use super::util::{f16_to_f32, hsum_epi32, lead_f16x8, load_i8};
use crate::formats::q8_0::BlockQ8_0;

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
    if gemm::check(w.len(), a.len(), row_blocks, out.len(), stride, "Q8_0 avx2").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
    }
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
unsafe fn gemm_avx2(w: &[BlockQ8_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32], stride: usize) {
    gemm::gemm8(
        w,
        a,
        rb,
        out,
        stride,
        |x: &BlockQ8_0| widen(x),
        |h| lead_f16x8(h),
        |q, y: &BlockQ8_0| block_i32(q, widen(y)),
        |dw, y, sumi| _mm256_mul_ps(sumi, _mm256_mul_ps(dw, _mm256_set1_ps(f16_to_f32(y.d)))),
        // SAFETY: same CPU features; the rows have equal lengths.
        |wr, ar| unsafe { dot_avx2(wr, ar) },
    )
}
