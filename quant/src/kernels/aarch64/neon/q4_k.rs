//! `q4_K x q8_K` with baseline NEON: the three products of the spec (llama.cpp's x86-64 AVX2
//! orders), bit-exact, from [`super::k_quad`]; and the `Σ bsums * mins` helper of the `q5_K` kernels.

/// `Σ_j bsums_j * mins[j / 2]` (exact: `|bsums| <= 2^15`, mins <= 63, 16 terms).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn mins_sum(mins: &[u8; 8], y: &BlockQ8K) -> i32 {
    let m = vreinterpretq_s16_u16(vmovl_u8(ld_u8x8(mins)));
    let b0 = vpaddlq_s16(ld_i16(arr(&y.bsums, 0)));
    let b1 = vpaddlq_s16(ld_i16(arr(&y.bsums, 8)));
    let t = vmulq_s32(b0, vmovl_s16(vget_low_s16(m)));
    let t = vmlaq_s32(t, b1, vmovl_high_s16(m));
    vaddvq_s32(t)
}

super::k_quad::q4k_kernels!("neon", crate::kernels::aarch64::neon::k_quad::dot4_neon);
