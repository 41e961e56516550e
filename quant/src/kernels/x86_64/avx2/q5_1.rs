//! `Q5_1 x Q8_1` dot product.
//!
//! Integer part exact for every input: per block, the 5-bit codes (0..=31) are rebuilt from the
//! nibbles and `qh`, `_mm256_maddubs_epi16` multiplies them by the activations (any `i8`; a pair
//! sum is at most `2 * 31 * 128` in magnitude, no saturation) and the pairs are summed in `i32`.
//!
//! Float part, **bit-identical to the spec**: per block, the exact integer sum is reduced to one
//! `i32`, then `sumf = sumf + ((d_w * d_a) * sumi + m_w * s_a)` in scalar f32, the spec's operations in its order
//! (separate multiplies and adds, blocks in order).

use core::arch::x86_64::*;

use super::gemm;
use super::util::{
    bytes_from_bits_32, dot_blocks_exact, f16_to_f32, lead_f16x8_pairs, load_i8, nibbles_32, sum_pairs_i16,
};
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_1::BlockQ8_1;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_1 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX2`].
pub(crate) fn gemm(w: &[BlockQ5_1], a: &[BlockQ8_1], row_blocks: usize, out: &mut [f32], stride: usize) {
    if gemm::check(w.len(), a.len(), row_blocks, out.len(), stride, "Q5_1 avx2").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_avx2(w: &[BlockQ5_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32], stride: usize) {
    gemm::gemm8(
        w,
        a,
        rb,
        out,
        stride,
        |x: &BlockQ5_1| codes(x),
        |h| lead_f16x8_pairs(h),
        |q, y: &BlockQ8_1| sum_pairs_i16(_mm256_maddubs_epi16(q, load_i8(&y.qs, 0))),
        |(dw, mw), y, sumi| {
            let dd = _mm256_mul_ps(dw, _mm256_set1_ps(f16_to_f32(y.d)));
            let ms = _mm256_mul_ps(mw, _mm256_set1_ps(f16_to_f32(y.s)));
            _mm256_add_ps(_mm256_mul_ps(dd, sumi), ms)
        },
        // SAFETY: same CPU features; the rows have equal lengths.
        |wr, ar| unsafe { dot_avx2(wr, ar) },
    )
}

/// The 32 codes (0..=31) of a block, in element order: nibble | 5th bit.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn codes(x: &BlockQ5_1) -> __m256i {
    let high = _mm256_and_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0x10));
    _mm256_or_si256(nibbles_32(&x.qs), high)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    dot_blocks_exact(
        w,
        a,
        |x, y| sum_pairs_i16(_mm256_maddubs_epi16(codes(x), load_i8(&y.qs, 0))),
        |x, y, sumi| (f16_to_f32(x.d) * f16_to_f32(y.d)) * sumi as f32 + f16_to_f32(x.m) * f16_to_f32(y.s),
    )
}
