//! `Q5_0 x Q8_0` dot product and multi-row product: llama.cpp's AVX2 `ggml_vec_dot_q5_0_q8_0`
//! (and `tinyBLAS_Q0_AVX`), instruction for instruction per output: weights `code - 16` (the
//! nibble, or'ed with `0xF0` where the 5th bit is clear), `mul_sum_i8_pairs_float` (sign trick),
//! `fmadd(d_w*d_a, ·, acc)`, one `hsum_float_8`. The block loop is in [`gemm`]; bit-identical to
//! the spec (`formats/q5_0.rs`) for every input.

use core::arch::x86_64::*;
use core::marker::PhantomData;

use super::gemm::{self, Legacy, Ops};
use super::util::{bytes_from_bits_32, load_i8, mul_sum_i8_pairs_float, nibbles_32};
use super::{batch, decode};
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q8_0::BlockQ8_0;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_0 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX2`].
pub(crate) fn gemm(w: &[BlockQ5_0], a: &[BlockQ8_0], row_blocks: usize, out: &mut [f32], stride: usize) {
    if gemm::check(w.len(), a.len(), row_blocks, out.len(), stride, "Q5_0 avx2").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_avx2(w, a, row_blocks, out, stride) }
    }
}

/// The format's pieces of the block loop.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn ops() -> impl Legacy<X = BlockQ5_0, Y = BlockQ8_0> {
    Ops {
        min: false,
        expand: |x: &BlockQ5_0| {
            _mm256_or_si256(
                nibbles_32(&x.qs),
                _mm256_andnot_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0xF0u8 as i8)),
            )
        },
        load: |y: &BlockQ8_0| load_i8(&y.qs, 0),
        int: |q, y| mul_sum_i8_pairs_float(q, y),
        _blocks: PhantomData,
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    gemm::dot(&ops(), w, a)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_avx2(w: &[BlockQ5_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32], stride: usize) {
    // batches in the 2 x 4 tiles of `batch` (its `int` is the sign trick on `expand` and the
    // activation quants, as `ops` has it), the rest in the generic tiles
    let ops = ops();
    if a.len() == rb {
        // one token: the full 8-row tiles in `decode`, the last rows here
        let done = decode::q5_0(w, a, rb, out);
        return gemm::gemm(&ops, &w[done * rb..], a, rb, &mut out[done..], stride);
    }
    let done = batch::gemm(&ops, w, a, rb, out, stride);
    gemm::gemm_rest(&ops, w, a, rb, out, stride, done)
}
