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

use super::util::{bytes_from_bits_32, dot_blocks_exact, f16_to_f32, load_i8, nibbles_32, sum_pairs_i16};
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_1::BlockQ8_1;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_1 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    dot_blocks_exact(
        w,
        a,
        |x, y| {
            let high = _mm256_and_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0x10));
            let qx = _mm256_or_si256(nibbles_32(&x.qs), high);
            sum_pairs_i16(_mm256_maddubs_epi16(qx, load_i8(&y.qs, 0)))
        },
        |x, y, sumi| (f16_to_f32(x.d) * f16_to_f32(y.d)) * sumi as f32 + f16_to_f32(x.m) * f16_to_f32(y.s),
    )
}
