//! `Q8_1` (GGUF type 9): 32 values per 36-byte block, 8-bit signed, scale plus a precomputed
//! sum. The activation format of [`Q4_1`](super::q4_1::Q4_1) and [`Q5_1`](super::q5_1::Q5_1)
//! (whose dot products use `s` to apply their minimum `m` in one multiply per block).
//!
//! Layout (`block_q8_1`):
//! - bytes 0..2: `d`, f16 scale;
//! - bytes 2..4: `s`, f16, `d * Σ qs[i]` (computed in f32 as `(Σ qs) as f32 * d`, then rounded);
//! - bytes 4..36: `qs[32]`, `qs[i]` is element `i` as a two's-complement i8.
//!
//! Value of element `i`: `qs[i] * d` (`s` is not used). llama.cpp has no `dequantize_row_q8_1`;
//! this is the obvious one, the same as `dequantize_row_q8_0`.
//!
//! Quantization ([`Format::quantize`], `quantize_row_q8_1_ref`): as [`Q8_0`](super::q8_0::Q8_0)
//! (`d = amax / 127`, `q = roundf(x / d)`), plus `s`.
//!
//! Quantization of activations ([`quantize_activations`], llama.cpp's x86-64 AVX2
//! `quantize_row_q8_1`, what its `Q4_1`/`Q5_1` products apply to their f32 operand): `d` and `q`
//! as [`q8_0::quantize_activations`](super::q8_0::quantize_activations), and
//! `s = f16(d * (Σ q32) as f32)` where `q32` are the 32-bit integers before the saturating packs
//! (summed with wrapping adds).
//!
//! Dot product: llama.cpp has no `Q8_1 x Q8_1` kernel (nothing uses Q8_1 as weights). Defined
//! here like `Q8_0 x Q8_0` (llama.cpp's AVX2 arithmetic, `formats/legacy_lanes.rs`); `s` is
//! ignored.

use half::f16;

use super::f16::{f16_to_f32, f32_to_f16};
use super::f32::c_f32_to_i32;
use super::legacy_lanes::{fma_lanes, hsum8, mul_sum_i8, mul_x86, pack_i8, quantize_block_i32};
use crate::{Format, QuantType};

/// Values per block.
pub const QK8_1: usize = 32;

/// One `Q8_1` block as stored in GGUF.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ8_1 {
    /// Scale.
    pub d: f16,
    /// `d * Σ qs[i]`.
    pub s: f16,
    /// Quantized values, element `i` is `qs[i]`.
    pub qs: [i8; QK8_1],
}

const _: () = assert!(core::mem::size_of::<BlockQ8_1>() == QuantType::Q8_1.block_bytes());
const _: () = assert!(core::mem::size_of::<BlockQ8_1>() == 36);

/// The `Q8_1` format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q8_1;

impl Format for Q8_1 {
    const TYPE: QuantType = QuantType::Q8_1;
    const ELEMS: usize = QK8_1;
    type Block = BlockQ8_1;
    type Activation = Q8_1;

    fn dequantize(blocks: &[BlockQ8_1], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len() * QK8_1, "Q8_1::dequantize: output length");
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK8_1)) {
            let d = f16_to_f32(b.d);
            for (y, &q) in y.iter_mut().zip(&b.qs) {
                *y = f32::from(q) * d;
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ8_1]) {
        assert_eq!(x.len(), out.len() * QK8_1, "Q8_1::quantize: input length");
        for (xb, y) in x.chunks_exact(QK8_1).zip(out.iter_mut()) {
            let mut amax = 0f32;
            for &v in xb {
                // C's MAX(amax, fabsf(v)): `amax > |v| ? amax : |v|` (a NaN wins)
                amax = if amax > v.abs() { amax } else { v.abs() };
            }
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            y.d = f32_to_f16(d);
            let mut sum = 0i32;
            for (q, &v) in y.qs.iter_mut().zip(xb) {
                *q = c_f32_to_i32(libm::roundf(v * id)) as i8;
                sum += i32::from(*q);
            }
            y.s = f32_to_f16(sum as f32 * d);
        }
    }

    fn vec_dot(w: &[BlockQ8_1], a: &[BlockQ8_1]) -> f32 {
        assert_eq!(w.len(), a.len(), "Q8_1::vec_dot: operand lengths");
        let mut acc = [0f32; 8];
        for (x, y) in w.iter().zip(a) {
            fma_lanes(&mut acc, f16_to_f32(x.d) * f16_to_f32(y.d), mul_sum_i8(&x.qs, &y.qs));
        }
        hsum8(&acc)
    }
}

/// Quantize activations `x` into `out` (`x.len() == out.len() * 32`) with the semantics of
/// llama.cpp's x86-64 AVX2 `quantize_row_q8_1` (see the module docs): what every matrix product
/// of a `Q4_1` or `Q5_1` weight applies to its f32 operand.
///
/// # Panics
/// If the lengths disagree.
pub fn quantize_activations(x: &[f32], out: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), out.len() * QK8_1, "Q8_1 quantize_activations: input length");
    for (xb, y) in x.chunks_exact(QK8_1).zip(out.iter_mut()) {
        let (d, q) = quantize_block_i32(xb.try_into().expect("32 values"));
        y.d = f32_to_f16(d);
        let sum = q.iter().fold(0i32, |s, &q| s.wrapping_add(q));
        y.s = f32_to_f16(mul_x86(d, sum as f32));
        for (o, &q) in y.qs.iter_mut().zip(&q) {
            *o = pack_i8(q);
        }
    }
}
