//! `Q8_0 x Q8_0` dot product and multi-row product: llama.cpp's AVX2 `ggml_vec_dot_q8_0_q8_0`
//! (and `tinyBLAS_Q0_AVX`), instruction for instruction per output: `mul_sum_i8_pairs_float`
//! (sign trick, so `-128 * -128` products come out negated, as there), `fmadd(d_w*d_a, ·, acc)`,
//! one `hsum_float_8`. The block loop is in [`gemm`]; bit-identical to the spec
//! (`formats/q8_0.rs`) for every input.

use core::marker::PhantomData;

use super::batch;
use super::decode;
use super::gemm::{self, Legacy, Ops};
use super::util::{load_i8, mul_sum_i8_pairs_float};
use crate::formats::q8_0::BlockQ8_0;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX2`].
pub(crate) fn gemm(w: &[BlockQ8_0], a: &[BlockQ8_0], row_blocks: usize, out: &mut [f32], stride: usize) {
    if gemm::check(w.len(), a.len(), row_blocks, out.len(), stride, "Q8_0 avx2").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
    }
}

/// The format's pieces of the block loop.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn ops() -> impl Legacy<X = BlockQ8_0, Y = BlockQ8_0> {
    Ops {
        min: false,
        expand: |x: &BlockQ8_0| load_i8(&x.qs, 0),
        load: |y: &BlockQ8_0| load_i8(&y.qs, 0),
        int: |q, y| mul_sum_i8_pairs_float(q, y),
        _blocks: PhantomData,
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    gemm::dot(&ops(), w, a)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_avx2(w: &[BlockQ8_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32], stride: usize) {
    let ops = ops();
    if a.len() == rb {
        // one token: the full 8-row tiles in `decode`, the last rows here
        let done = decode::q8_0(w, a, rb, out);
        return gemm::gemm(&ops, &w[done * rb..], a, rb, &mut out[done..], stride);
    }
    // batches in the 2 x 4 tiles of `batch` (its `int` is the sign trick on `expand` and the
    // activation quants, as `ops` has it), the rest in the generic tiles
    let done = batch::gemm(&ops, w, a, rb, out, stride);
    gemm::gemm_rest(&ops, w, a, rb, out, stride, done)
}
