//! `Q4_1 x Q8_1` dot product and multi-row product: llama.cpp's AVX2 `ggml_vec_dot_q4_1_q8_1`
//! (also its multi-token path, llamafile has no `Q4_1` kernel), instruction for instruction per
//! output: `mul_sum_us8_pairs_float(nibbles, q_a)`, `fmadd(d_w*d_a, ·, acc)`,
//! `summs = fma(m_w, s_a, summs)`, and `hsum_float_8(acc) + summs`. The block loop is in
//! [`gemm`]; bit-identical to the spec (`formats/q4_1.rs`) for every input.

use core::marker::PhantomData;

use super::decode;
use super::gemm::{self, Legacy, Ops};
use super::util::{load_i8, mul_sum_us8_pairs_float, nibbles_32};
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_1 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX2`].
pub(crate) fn gemm(w: &[BlockQ4_1], a: &[BlockQ8_1], row_blocks: usize, out: &mut [f32], stride: usize) {
    if gemm::check(w.len(), a.len(), row_blocks, out.len(), stride, "Q4_1 avx2").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
    }
}

/// The format's pieces of the block loop.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn ops() -> impl Legacy<X = BlockQ4_1, Y = BlockQ8_1> {
    Ops {
        min: true,
        expand: |x: &BlockQ4_1| nibbles_32(&x.qs),
        load: |y: &BlockQ8_1| load_i8(&y.qs, 0),
        int: |q, y| mul_sum_us8_pairs_float(q, y),
        _blocks: PhantomData,
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    gemm::dot(&ops(), w, a)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_avx2(w: &[BlockQ4_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32], stride: usize) {
    // one token: the full 8-row tiles in `decode`, the last rows here
    let done = if a.len() == rb { decode::q4_1(w, a, rb, out) } else { 0 };
    gemm::gemm(&ops(), &w[done * rb..], a, rb, &mut out[done..], stride)
}
