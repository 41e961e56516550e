//! `q4_K x q8_K` dot product.
//!
//! Integer parts exact for every input: `_mm256_maddubs_epi16` multiplies the 4-bit quants
//! (0..=15) by the activations (any `i8`; pair sums at most `2 * 15 * 128`), `_mm256_madd_epi16`
//! applies the 6-bit sub-block scales in `i32`; the mins are applied, as in the spec, through the
//! activation's `bsums` (each `i16` times its sub-block's min, in `i32`, exact even for `bsums`
//! that do not match `qs`).
//!
//! Float part (bounded, not bit-exact): the min term `dmin_w*d_a * summins` is subtracted per block
//! from a scalar f32 exactly as the spec does; the spec's 8 f32 lane sums (value `i` in lane
//! `i % 8`) are replaced by one `f32x8` accumulator of the block's 8 partial integer sums (a
//! different split) times `d_w * d_a`, whose lanes are summed and added at the end. Equal to the
//! spec when every partial sum is representable; otherwise within f32 accumulation error.

use core::arch::x86_64::*;

use super::util::{
    f16_splat, f16_to_f32, hsum_epi32, hsum_ps, i16_bcast_ctrl, load_i8, load_i16x16, load_u8, scales_mins_k4,
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

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let m4 = _mm256_set1_epi8(0xF);
    let mut acc = _mm256_setzero_ps();
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (sc, mn) = scales_mins_k4(&x.scales);

        // Σ bsums[j] * min[j / 2]: mins widened to i16, each one twice
        let mn = _mm_cvtsi64_si128(i64::from_le_bytes(mn));
        let mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn, mn));
        let summins = hsum_epi32(_mm256_madd_epi16(mins, load_i16x16(&y.bsums)));
        let dmin = f16_to_f32(x.dmin) * y.d;
        sumf -= dmin * summins as f32;

        // the 8 scales as i16 in both 128-bit lanes
        let sc = _mm256_cvtepu8_epi16(_mm_cvtsi64_si128(i64::from_le_bytes(sc)));
        let scales = _mm256_permute2x128_si256::<0x00>(sc, sc);
        let mut sumi = _mm256_setzero_si256();
        for c in 0..4 {
            // values 64c + l: low nibble of qs[32c + l] (sub-block 2c); 64c + 32 + l: high (2c + 1)
            let bits = load_u8(&x.qs, 32 * c);
            let lo = _mm256_and_si256(bits, m4);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
            let p_lo = _mm256_maddubs_epi16(lo, load_i8(&y.qs, 64 * c));
            let p_hi = _mm256_maddubs_epi16(hi, load_i8(&y.qs, 64 * c + 32));
            let s_lo = _mm256_shuffle_epi8(scales, i16_bcast_ctrl(2 * c as i8, 2 * c as i8));
            let s_hi = _mm256_shuffle_epi8(scales, i16_bcast_ctrl(2 * c as i8 + 1, 2 * c as i8 + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s_lo, p_lo));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s_hi, p_hi));
        }
        let d = _mm256_mul_ps(f16_splat(x.d), _mm256_set1_ps(y.d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    sumf + hsum_ps(acc)
}
