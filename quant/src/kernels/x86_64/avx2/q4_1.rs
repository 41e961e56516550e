//! `Q4_1 x Q8_1` dot product.
//!
//! Integer part exact for every input: per block, `_mm256_maddubs_epi16` multiplies the unsigned
//! nibbles (0..=15) by the activations (any `i8`; a pair sum is at most `2 * 15 * 128` in
//! magnitude, no saturation) and the pairs are summed in `i32`.
//!
//! Float part (bounded, not bit-exact): the spec adds `(d_w * d_a) * sumi + m_w * s_a` to one f32
//! in block order. Here, per block, `d_w * d_a` multiplies the 8 partial integer sums (as f32) in a
//! fused multiply-add with `m_w * s_a` (lane 0 only), and the result is added to one of two
//! `f32x8` accumulators (even / odd blocks), whose 16 lanes are summed at the end. Equal to the
//! spec when every partial sum is representable; otherwise within f32 accumulation error.

use core::arch::x86_64::*;

use super::util::{dot_blocks2, f16_splat, load_i8, nibbles_32, sum_pairs_i16};
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_1 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    dot_blocks2(w, a, |x, y, acc| {
        let d = _mm256_mul_ps(f16_splat(x.d), f16_splat(y.d));
        let p16 = _mm256_maddubs_epi16(nibbles_32(&x.qs), load_i8(&y.qs, 0));
        // m_w * s_a in lane 0 only
        let ms = _mm256_blend_ps::<1>(_mm256_setzero_ps(), _mm256_mul_ps(f16_splat(x.m), f16_splat(y.s)));
        _mm256_add_ps(acc, _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum_pairs_i16(p16)), ms))
    })
}
