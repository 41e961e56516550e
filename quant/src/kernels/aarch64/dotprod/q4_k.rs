//! `q4_K x q8_K` with NEON + dotprod: the three products of the spec (llama.cpp's x86-64 AVX2
//! orders), bit-exact, from [`crate::kernels::aarch64::neon::k_quad`] with `sdot`; and the scale
//! widening shared with the `q5_K` kernel.

/// The 8 sub-block scales as two i32x4 (sub-blocks 0..4 and 4..8).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn widen_scales(sc: &[u8; 8]) -> [int32x4_t; 2] {
    let v = vreinterpretq_s16_u16(vmovl_u8(ld_u8x8(sc)));
    [vmovl_s16(vget_low_s16(v)), vmovl_high_s16(v)]
}

crate::kernels::aarch64::neon::k_quad::q4k_kernels!("neon,dotprod", super::sdot);
