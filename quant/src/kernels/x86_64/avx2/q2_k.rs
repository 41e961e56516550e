//! `q2_K x q8_K` dot product.
//!
//! Integer parts exact for every input: `_mm256_maddubs_epi16` multiplies the 2-bit quants (0..=3)
//! by the activations (any `i8`), `_mm256_madd_epi16` applies the 4-bit sub-block scales in `i32`;
//! the mins are applied, as in the spec, through the activation's `bsums` (`i16` times the 4-bit
//! mins, in `i32`).
//!
//! Float part (bounded, not bit-exact): the spec adds `d*isum - dmin*summs` per block to one f32.
//! Here the 8 partial integer sums and the 8 partial min sums of a block (as f32) are fused into
//! one `f32x8` accumulator with `d` and `-dmin`, and its lanes are summed at the end. Equal to the
//! spec when every partial sum is representable; otherwise within f32 accumulation error.

use core::arch::x86_64::*;

use super::util::{f16_splat, hsum_ps, i16_bcast_ctrl, load_i8, load_i16x16, load_u8, load128_u8};
use crate::formats::q2_k::BlockQ2K;
use crate::formats::q8_k::BlockQ8K;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "q2_K avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let m3 = _mm256_set1_epi8(3);
    let m4 = _mm_set1_epi8(0xF);
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let d = _mm256_mul_ps(_mm256_set1_ps(y.d), f16_splat(x.d));
        let neg_dmin =
            _mm256_xor_ps(_mm256_mul_ps(_mm256_set1_ps(y.d), f16_splat(x.dmin)), _mm256_set1_ps(-0.0));

        let mins_and_scales = load128_u8(&x.scales, 0);
        let mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16::<4>(mins_and_scales), m4));
        let summs = _mm256_madd_epi16(mins, load_i16x16(&y.bsums));
        acc = _mm256_fmadd_ps(neg_dmin, _mm256_cvtepi32_ps(summs), acc);

        // the 16 scales as i16; scales[h] holds those of half h in both 128-bit lanes
        let all = _mm256_cvtepu8_epi16(_mm_and_si128(mins_and_scales, m4));
        let scales =
            [_mm256_permute2x128_si256::<0x00>(all, all), _mm256_permute2x128_si256::<0x11>(all, all)];
        let mut sumi = _mm256_setzero_si256();
        for (h, &sc) in scales.iter().enumerate() {
            let bits = load_u8(&x.qs, 32 * h);
            for s in 0..4 {
                // values 128h + 32s + l (l in 0..32): bits 2s..2s+2 of qs[32h + l]
                let q2 = _mm256_and_si256(_mm256_srl_epi16(bits, _mm_cvtsi32_si128(2 * s as i32)), m3);
                let p16 = _mm256_maddubs_epi16(q2, load_i8(&y.qs, 128 * h + 32 * s));
                // sub-block 8h + 2s (low lane), 8h + 2s + 1 (high lane)
                let scale = _mm256_shuffle_epi8(sc, i16_bcast_ctrl(2 * s as i8, 2 * s as i8 + 1));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale, p16));
            }
        }
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc)
}
