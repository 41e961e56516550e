//! `Q8_0` (GGUF type 8): 32 values per 34-byte block, 8-bit signed, one scale. Also the
//! activation format of [`Q4_0`](super::q4_0::Q4_0), [`Q5_0`](super::q5_0::Q5_0) and itself.
//!
//! Layout (`block_q8_0`):
//! - bytes 0..2: `d`, f16 scale;
//! - bytes 2..34: `qs[32]`, `qs[i]` is element `i` as a two's-complement i8.
//!
//! Value of element `i`: `qs[i] * d`.
//!
//! Quantization of weights ([`Format::quantize`], `quantize_row_q8_0_ref`, what `llama-quantize`
//! does): `amax = max |x|`, `d = amax / 127`, `id = 1/d` (0 if `d == 0`),
//! `q = roundf(x * id)` (round half away from zero; range -127..=127 for finite input).
//!
//! Quantization of activations ([`quantize_activations`], llama.cpp's x86-64 AVX2
//! `quantize_row_q8_0`, which its matrix products apply to their f32 operand): `amax` reduced as the
//! AVX2 code does (`legacy_lanes::block_amax`), `d = amax / 127`, `id = 127 / amax` (0 if `amax == 0`),
//! `q = round_half_even(x * id)` converted by `cvtps_epi32` and saturated to i8. `127/amax` is not
//! always `1/(amax/127)`, and halves round to even: one step apart from the reference on some
//! values.
//!
//! Dot product: against `Q8_0`, llama.cpp's x86-64 AVX2 `ggml_vec_dot_q8_0_q8_0` (and
//! llamafile's `tinyBLAS_Q0_AVX`, same arithmetic per output; see
//! `formats/legacy_lanes.rs`): one 8-lane f32 accumulator; per block lane `j` gets the
//! sign-trick integer sum of products `4j..4j+4` and `acc[j] = fma(d_w*d_a, sum_j, acc[j])`; at
//! the end `hsum_float_8(acc)`.

use half::f16;

use super::f16::{f16_to_f32, f32_to_f16};
use super::f32::c_f32_to_i32;
use super::legacy_lanes::{fma_lanes, hsum8, mul_sum_i8, pack_i8, quantize_block_i32};
use crate::{Format, QuantType};

/// Values per block.
pub const QK8_0: usize = 32;

/// One `Q8_0` block as stored in GGUF.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ8_0 {
    /// Scale.
    pub d: f16,
    /// Quantized values, element `i` is `qs[i]`.
    pub qs: [i8; QK8_0],
}

const _: () = assert!(core::mem::size_of::<BlockQ8_0>() == QuantType::Q8_0.block_bytes());
const _: () = assert!(core::mem::size_of::<BlockQ8_0>() == 34);

/// The `Q8_0` format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q8_0;

impl Format for Q8_0 {
    const TYPE: QuantType = QuantType::Q8_0;
    const ELEMS: usize = QK8_0;
    type Block = BlockQ8_0;
    type Activation = Q8_0;

    fn dequantize(blocks: &[BlockQ8_0], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len() * QK8_0, "Q8_0::dequantize: output length");
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK8_0)) {
            let d = f16_to_f32(b.d);
            for (y, &q) in y.iter_mut().zip(&b.qs) {
                *y = f32::from(q) * d;
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ8_0]) {
        assert_eq!(x.len(), out.len() * QK8_0, "Q8_0::quantize: input length");
        for (xb, y) in x.chunks_exact(QK8_0).zip(out.iter_mut()) {
            let mut amax = 0f32;
            for &v in xb {
                // C's MAX(amax, fabsf(v)): `amax > |v| ? amax : |v|` (a NaN wins)
                amax = if amax > v.abs() { amax } else { v.abs() };
            }
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            y.d = f32_to_f16(d);
            for (q, &v) in y.qs.iter_mut().zip(xb) {
                *q = c_f32_to_i32(libm::roundf(v * id)) as i8;
            }
        }
    }

    fn vec_dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
        assert_eq!(w.len(), a.len(), "Q8_0::vec_dot: operand lengths");
        let mut acc = [0f32; 8];
        for (x, y) in w.iter().zip(a) {
            fma_lanes(&mut acc, f16_to_f32(x.d) * f16_to_f32(y.d), mul_sum_i8(&x.qs, &y.qs));
        }
        hsum8(&acc)
    }
}

/// Quantize activations `x` into `out` (`x.len() == out.len() * 32`) with the semantics of
/// llama.cpp's x86-64 AVX2 `quantize_row_q8_0` (see the module docs): what every matrix product
/// of a `Q4_0`, `Q5_0` or `Q8_0` weight applies to its f32 operand. Weights use
/// [`Format::quantize`] (the `_ref` quantizer).
///
/// # Panics
/// If the lengths disagree.
pub fn quantize_activations(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), out.len() * QK8_0, "Q8_0 quantize_activations: input length");
    for (xb, y) in x.chunks_exact(QK8_0).zip(out.iter_mut()) {
        let (d, q) = quantize_block_i32(xb.try_into().expect("32 values"));
        y.d = f32_to_f16(d);
        for (o, &q) in y.qs.iter_mut().zip(&q) {
            *o = pack_i8(q);
        }
    }
}
