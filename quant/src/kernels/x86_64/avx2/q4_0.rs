//! `Q4_0 x Q8_0` dot product.
//!
//! Integer part exact for every input: per block, the 32 products `(q - 8) * y` are formed by
//! [`mul_i8_small`] (weights in -8..=7, activations over the whole `i8` range) and summed in `i32`.
//!
//! Float part, **bit-identical to the spec**: per block, the exact integer sum is reduced to one
//! `i32`, then `sumf = sumf + (sumi * d_w) * d_a` in scalar f32, the spec's operations in its order
//! (separate multiplies and adds, blocks in order).

use core::arch::x86_64::*;

use super::gemm;
use super::util::{
    dot_blocks_exact, f16_to_f32, lead_f16x8, load_i8, mul_i8_small, nibbles_32, sum_pairs_i16,
};
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q8_0::BlockQ8_0;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_0 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX2`].
pub(crate) fn gemm(w: &[BlockQ4_0], a: &[BlockQ8_0], row_blocks: usize, out: &mut [f32], stride: usize) {
    if gemm::check(w.len(), a.len(), row_blocks, out.len(), stride, "Q4_0 avx2").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_avx2(w: &[BlockQ4_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32], stride: usize) {
    gemm::gemm8(
        w,
        a,
        rb,
        out,
        stride,
        |x: &BlockQ4_0| _mm256_sub_epi8(nibbles_32(&x.qs), _mm256_set1_epi8(8)),
        |h| lead_f16x8(h),
        |q, y: &BlockQ8_0| sum_pairs_i16(mul_i8_small(q, load_i8(&y.qs, 0))),
        |dw, y, sumi| _mm256_mul_ps(_mm256_mul_ps(sumi, dw), _mm256_set1_ps(f16_to_f32(y.d))),
        // SAFETY: same CPU features; the rows have equal lengths.
        |wr, ar| unsafe { dot_avx2(wr, ar) },
    )
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    dot_blocks_exact(
        w,
        a,
        |x, y| {
            let qx = _mm256_sub_epi8(nibbles_32(&x.qs), _mm256_set1_epi8(8));
            sum_pairs_i16(mul_i8_small(qx, load_i8(&y.qs, 0)))
        },
        |x, y, sumi| sumi as f32 * f16_to_f32(x.d) * f16_to_f32(y.d),
    )
}
