//! The batch products of `q4_K` (llama.cpp's repacked gemm order) and `q6_K` (its tiled order)
//! of the VNNI tier: the AVX2 kernels (`avx2/gemm_k.rs`, `avx2/q6_k.rs`) with their
//! `sum + madd(scales, p16)` steps as one `vpdpwssd` (the same exact, wrapping `i32` sums, so
//! the same bits); everything else as there.

use core::arch::x86_64::*;

use super::super::avx2::{gemm_k, q6_k};
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;
use crate::kernels::gemm_operands;

/// Safe entry point of [`crate::formats::q4_k::Q4K::dot_gemm`]'s multi-row kernel; only
/// reachable through [`super::AVX512VNNI`].
pub(crate) fn gemm_q4_k_gemm(w: &[BlockQ4K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    if gemm_operands(w.len(), a.len(), rb, out.len(), stride, "q4_K vnni").is_some() {
        // SAFETY: reachable only through the VNNI table (its features detected); operands
        // checked, every slice access in the kernel is bounds-checked.
        unsafe { q4_k_gemm(w, a, rb, out, stride) }
    }
}

/// # Safety
/// The CPU must support the tier's features.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q4_k_gemm(w: &[BlockQ4K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let pair = |s_lo, p_lo, s_hi, p_hi| _mm256_dpwssd_epi32(_mm256_madd_epi16(s_lo, p_lo), s_hi, p_hi);
    gemm_k::gemm_q4_k_gemm_with(w, a, rb, out, stride, &pair);
}

/// Safe entry point of [`crate::formats::q6_k::Q6K::dot_tiled`]'s multi-row kernel; only
/// reachable through [`super::AVX512VNNI`].
pub(crate) fn gemm_q6_k_tiled(w: &[BlockQ6K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    if gemm_operands(w.len(), a.len(), rb, out.len(), stride, "q6_K tiled vnni").is_some() {
        // SAFETY: as in `gemm_q4_k_gemm`.
        unsafe { q6_k_tiled(w, a, rb, out, stride) }
    }
}

/// # Safety
/// The CPU must support the tier's features.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q6_k_tiled(w: &[BlockQ6K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let madd_add = |sumi, scales, p16| _mm256_dpwssd_epi32(sumi, scales, p16);
    q6_k::gemm_tiled_with(w, a, rb, out, stride, &madd_add);
}
