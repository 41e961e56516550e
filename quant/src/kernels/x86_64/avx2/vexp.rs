//! ggml's vector `exp` and SiLU ([`crate::vexp`]) with AVX2: the instructions of llama.cpp's
//! `ggml_v_expf` / `ggml_v_silu` (`ggml-cpu/vec.h`, AVX2 + FMA), so **bit-identical** to the spec
//! and to llama.cpp; the row remainders (`n % 8`) run the spec's scalar code.

use core::arch::x86_64::*;

use crate::vexp;

/// `ggml_v_expf` for 8 lanes, as in `vec.h`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn v_expf(x: __m256) -> __m256 {
    let r = _mm256_set1_ps(f32::from_bits(0x4b40_0000));
    let z = _mm256_fmadd_ps(x, _mm256_set1_ps(f32::from_bits(0x3fb8_aa3b)), r);
    let n = _mm256_sub_ps(z, r);
    let b = _mm256_fnmadd_ps(
        n,
        _mm256_set1_ps(f32::from_bits(0x35bf_be8e)),
        _mm256_fnmadd_ps(n, _mm256_set1_ps(f32::from_bits(0x3f31_7200)), x),
    );
    let e = _mm256_slli_epi32::<23>(_mm256_castps_si256(z));
    let k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0))));
    let absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
    let c = _mm256_cmp_ps::<_CMP_GT_OQ>(absn, _mm256_set1_ps(126.0));
    let u = _mm256_mul_ps(b, b);
    let j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(
                _mm256_set1_ps(f32::from_bits(0x3c07_2010)),
                b,
                _mm256_set1_ps(f32::from_bits(0x3d2b_9f17)),
            ),
            u,
            _mm256_fmadd_ps(
                _mm256_set1_ps(f32::from_bits(0x3e2a_af33)),
                b,
                _mm256_set1_ps(f32::from_bits(0x3eff_fedb)),
            ),
        ),
        u,
        _mm256_mul_ps(_mm256_set1_ps(f32::from_bits(0x3f7f_fff6)), b),
    );
    if _mm256_movemask_ps(c) == 0 {
        return _mm256_fmadd_ps(j, k, k);
    }
    let g = _mm256_and_si256(
        _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LE_OQ>(n, _mm256_setzero_ps())),
        _mm256_set1_epi32(0x8200_0000u32 as i32),
    );
    let s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f00_0000)));
    let s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    let d = _mm256_cmp_ps::<_CMP_GT_OQ>(absn, _mm256_set1_ps(192.0));
    _mm256_or_ps(
        _mm256_and_ps(d, _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(
            d,
            _mm256_or_ps(
                _mm256_and_ps(c, _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                _mm256_andnot_ps(c, _mm256_fmadd_ps(k, j, k)),
            ),
        ),
    )
}

/// `ggml_v_silu` for 8 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn v_silu(x: __m256) -> __m256 {
    let neg = _mm256_sub_ps(_mm256_setzero_ps(), x);
    _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0), v_expf(neg)))
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load(a: &[f32; 8]) -> __m256 {
    // SAFETY: `a` is 8 readable f32; loadu needs no alignment.
    unsafe { _mm256_loadu_ps(a.as_ptr()) }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn store(a: &mut [f32; 8], v: __m256) {
    // SAFETY: `a` is 8 writable f32; storeu needs no alignment.
    unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn softmax_exp_avx2(x: &mut [f32], max: f32) -> f64 {
    let m = _mm256_set1_ps(max);
    let mut sum = 0f64;
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        let c: &mut [f32; 8] = c.try_into().expect("chunk of 8");
        let val = v_expf(_mm256_sub_ps(load(c), m));
        store(c, val);
        let v2 = _mm_add_ps(_mm256_extractf128_ps::<1>(val), _mm256_castps256_ps128(val));
        let v2 = _mm_add_ps(v2, _mm_movehl_ps(v2, v2));
        let v2 = _mm_add_ss(v2, _mm_movehdup_ps(v2));
        sum += f64::from(_mm_cvtss_f32(v2));
    }
    vexp::softmax_exp_rest(chunks.into_remainder(), max, sum)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn swiglu_avx2(gate: &mut [f32], up: &[f32]) {
    let mut gc = gate.chunks_exact_mut(8);
    let mut uc = up.chunks_exact(8);
    for (g, u) in (&mut gc).zip(&mut uc) {
        let g: &mut [f32; 8] = g.try_into().expect("chunk of 8");
        let u: &[f32; 8] = u.try_into().expect("chunk of 8");
        store(g, _mm256_mul_ps(v_silu(load(g)), load(u)));
    }
    vexp::swiglu(gc.into_remainder(), uc.remainder());
}

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn softmax_exp(x: &mut [f32], max: f32) -> f64 {
    // SAFETY: crate-private, only reachable through the AVX2 table, which `Kernels::for_tier`
    // returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { softmax_exp_avx2(x, max) }
}

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn swiglu(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "swiglu: operand lengths");
    // SAFETY: as for `softmax_exp`.
    unsafe { swiglu_avx2(gate, up) }
}
