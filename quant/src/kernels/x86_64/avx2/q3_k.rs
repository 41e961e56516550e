//! `q3_K x q8_K` dot product.
//!
//! Integer part exact for every input: the signed 3-bit quants (`low2 - 4` unless the `hmask` bit is
//! set, in -4..=3) are multiplied by the activations (any `i8`) with [`mul_i8_small`] and the
//! 6-bit signed sub-block scales applied by `_mm256_madd_epi16`, all in `i32`.
//!
//! Float part (bounded, not bit-exact): the spec keeps 8 f32 lane sums (value `i` in lane `i % 8`)
//! over blocks and adds them in order at the end. Here the 8 partial integer sums of a block (a
//! different split of the values) are scaled by `d_w * d_a` and fused into one `f32x8`
//! accumulator, whose lanes are summed at the end. Equal to the spec when every partial sum is
//! representable; otherwise within f32 accumulation error.

use core::arch::x86_64::*;

use super::util::{bit_set, f16_splat, hsum_ps, i16_bcast_ctrl, load_i8, load_u8, load128_u8, mul_i8_small};
use crate::formats::q3_k::BlockQ3K;
use crate::formats::q8_k::BlockQ8K;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "q3_K avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// The 16 raw 6-bit scales (0..=63, biased by 32) in sub-block order.
fn unpack_scales(s: &[u8; 12]) -> [u8; 16] {
    const LOW4: u32 = 0x0f0f_0f0f;
    const LOW2: u32 = 0x0303_0303;
    let a0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let a1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let a2 = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    let words = [
        (a0 & LOW4) | ((a2 & LOW2) << 4),
        (a1 & LOW4) | (((a2 >> 2) & LOW2) << 4),
        ((a0 >> 4) & LOW4) | (((a2 >> 4) & LOW2) << 4),
        ((a1 >> 4) & LOW4) | (((a2 >> 6) & LOW2) << 4),
    ];
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(words) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let m3 = _mm256_set1_epi8(3);
    let four = _mm256_set1_epi8(4);
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let d = _mm256_mul_ps(f16_splat(x.d), _mm256_set1_ps(y.d));

        let raw = unpack_scales(&x.scales);
        let raw = load128_u8(&raw, 0);
        let all = _mm256_cvtepi8_epi16(_mm_sub_epi8(raw, _mm_set1_epi8(32)));
        let scales =
            [_mm256_permute2x128_si256::<0x00>(all, all), _mm256_permute2x128_si256::<0x11>(all, all)];
        let hbits = load_u8(&x.hmask, 0);
        let mut sumi = _mm256_setzero_si256();
        for (h, &sc) in scales.iter().enumerate() {
            let bits = load_u8(&x.qs, 32 * h);
            for s in 0..4 {
                // values 128h + 32s + l: low bits 2s..2s+2 of qs[32h + l], high bit 4h + s of hmask[l]
                let low = _mm256_and_si256(_mm256_srl_epi16(bits, _mm_cvtsi32_si128(2 * s as i32)), m3);
                let minus4 = _mm256_andnot_si256(bit_set(hbits, (4 * h + s) as u32), four);
                let q3 = _mm256_sub_epi8(low, minus4);
                let p16 = mul_i8_small(q3, load_i8(&y.qs, 128 * h + 32 * s));
                let scale = _mm256_shuffle_epi8(sc, i16_bcast_ctrl(2 * s as i8, 2 * s as i8 + 1));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale, p16));
            }
        }
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc)
}
