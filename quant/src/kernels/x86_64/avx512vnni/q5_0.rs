//! `Q5_0 x Q8_0` multi-row product of the VNNI tier: against an activation without -128, one
//! token in the tiles of [`decode`], batches in the tiles of [`batch`](super::batch); the rest
//! (the last rows and tokens, a -128 activation) by the AVX2 kernel, whose bits these are.

use super::super::avx2::{self, gemm::gemm_rest};
use super::{batch, decode};
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q8_0::BlockQ8_0;

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX512VNNI`].
pub(crate) fn gemm(w: &[BlockQ5_0], a: &[BlockQ8_0], row_blocks: usize, out: &mut [f32], stride: usize) {
    let checked = crate::kernels::gemm_operands(w.len(), a.len(), row_blocks, out.len(), stride, "Q5_0 vnni");
    if checked.is_none() || !decode::takes(a) {
        return avx2::q5_0::gemm(w, a, row_blocks, out, stride);
    }
    // SAFETY: this wrapper is crate-private and only reachable through the VNNI table, which
    // `Kernels::for_tier` returns only after detecting AVX2, FMA, F16C and AVX-512 F/BW/VL/VNNI;
    // operands checked, every slice access below is bounds-checked.
    unsafe { gemm_vnni(w, a, row_blocks, out, stride) }
}

/// # Safety
/// The CPU must support the tier's features. Operands checked by [`gemm`], `a` without -128.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn gemm_vnni(w: &[BlockQ5_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32], stride: usize) {
    if a.len() == rb {
        let done = decode::q5_0(w, a, rb, out);
        return avx2::q5_0::gemm(&w[done * rb..], a, rb, &mut out[done..], stride);
    }
    let ops = avx2::q5_0::ops();
    // SAFETY: the VNNI tile's features are this function's.
    let done = unsafe { avx2::batch::gemm_with(&batch::VNNI, &ops, w, a, rb, out, stride) };
    gemm_rest(&ops, w, a, rb, out, stride, done)
}
