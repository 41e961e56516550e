//! [`Q8K::quantize_4rows`](crate::formats::q8_k::Q8K::quantize_4rows) (llama.cpp's
//! `ggml_quantize_mat_q8_K_4x8`, the activations of the repacked `q4_K` product), bit-identical to
//! the spec: the largest magnitude by `maxps` (exact, any order; a NaN never wins, as in the
//! spec's `>` scan), the sign positive iff some value equals `+amax`, and the spec's
//! `nearest_int` bit trick for the quants.

use core::arch::x86_64::*;

use super::util::{load_ps, low_bytes_32, store_i8, sum_i8_groups16};
use crate::formats::q8_k::BlockQ8K;

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn quantize_q8_k_4rows(x: &[f32], out: &mut [BlockQ8K]) {
    assert_eq!(x.len(), 256 * out.len(), "q8_K quantize: {} values for {} blocks", x.len(), out.len());
    // SAFETY: reachable only through the AVX2 table (avx2, fma and f16c detected); lengths checked.
    unsafe { quantize_avx2(x, out) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `x.len() == 256 * out.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_avx2(x: &[f32], out: &mut [BlockQ8K]) {
    let sign = _mm256_set1_ps(-0.0);
    for (xb, y) in x.chunks_exact(256).zip(out.iter_mut()) {
        let mut m = _mm256_setzero_ps();
        for c in xb.chunks_exact(8) {
            // maxps returns its second operand when the first is NaN
            m = _mm256_max_ps(_mm256_andnot_ps(sign, load_ps(c)), m);
        }
        let h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        let amax = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
        if amax == 0.0 {
            *y = bytemuck::Zeroable::zeroed();
            continue;
        }
        let target = _mm256_set1_ps(amax);
        let positive = xb
            .chunks_exact(8)
            .any(|c| _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(load_ps(c), target)) != 0);
        let iscale = if positive { -127.0f32 / amax } else { 127.0f32 / amax };
        let vscale = _mm256_set1_ps(iscale);
        for (g, xg) in xb.chunks_exact(32).enumerate() {
            // nearest_int(iscale * v), in -127..=127: add 1.5 * 2^23, keep the low 23 bits, unbias
            let q = [0, 8, 16, 24].map(|o| {
                let t = _mm256_add_ps(_mm256_mul_ps(vscale, load_ps(&xg[o..])), _mm256_set1_ps(12_582_912.0));
                let i = _mm256_and_si256(_mm256_castps_si256(t), _mm256_set1_epi32(0x007f_ffff));
                let i = _mm256_sub_epi32(i, _mm256_set1_epi32(0x0040_0000));
                _mm256_max_epi32(_mm256_min_epi32(i, _mm256_set1_epi32(127)), _mm256_set1_epi32(-128))
            });
            let q = low_bytes_32(q[0], q[1], q[2], q[3]);
            store_i8(&mut y.qs, 32 * g, q);
            [y.bsums[2 * g], y.bsums[2 * g + 1]] = sum_i8_groups16(q);
        }
        y.d = 1.0 / iscale;
    }
}
