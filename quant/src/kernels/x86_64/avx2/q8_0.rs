//! `Q8_0 x Q8_0` dot product.
//!
//! Integer part exact for every input: both operands may hold any `i8` (-128 included, which the
//! `maddubs` sign trick cannot multiply exactly), so both are sign-extended to `i16` and multiplied
//! pairwise into `i32` by `_mm256_madd_epi16` (`2 * 128 * 128` fits easily).
//!
//! Float part (bounded, not bit-exact): the spec adds `sumi * (d_w * d_a)` to one f32 in block
//! order. Here `d_w * d_a` multiplies the 8 partial integer sums of a block (as f32) and is fused
//! into one of two `f32x8` accumulators (even / odd blocks), whose 16 lanes are summed at the end.
//! Equal to the spec when every partial sum is representable; otherwise within f32 accumulation
//! error.

use core::arch::x86_64::*;

use super::util::{dot_blocks2, f16_splat, load_i8};
use crate::formats::q8_0::BlockQ8_0;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    dot_blocks2(w, a, |x, y, acc| {
        let d = _mm256_mul_ps(f16_splat(x.d), f16_splat(y.d));
        let (qx, qy) = (load_i8(&x.qs, 0), load_i8(&y.qs, 0));
        let lo = _mm256_madd_epi16(
            _mm256_cvtepi8_epi16(_mm256_castsi256_si128(qx)),
            _mm256_cvtepi8_epi16(_mm256_castsi256_si128(qy)),
        );
        let hi = _mm256_madd_epi16(
            _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(qx)),
            _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(qy)),
        );
        _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_add_epi32(lo, hi)), acc)
    })
}
