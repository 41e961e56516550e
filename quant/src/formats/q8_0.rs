//! `Q8_0` (GGUF type 8): 32 values per 34-byte block, 8-bit signed, one scale. Also the
//! activation format of [`Q4_0`](super::q4_0::Q4_0), [`Q5_0`](super::q5_0::Q5_0) and itself.
//!
//! Layout (`block_q8_0`):
//! - bytes 0..2: `d`, f16 scale;
//! - bytes 2..34: `qs[32]`, `qs[i]` is element `i` as a two's-complement i8.
//!
//! Value of element `i`: `qs[i] * d`.
//!
//! Quantization (`quantize_row_q8_0_ref`): `amax = max |x|`, `d = amax / 127`, `id = 1/d`
//! (0 if `d == 0`), `q = roundf(x * id)` (round half away from zero; range -127..=127 for finite
//! input).
//!
//! Dot product: against `Q8_0` (`ggml_vec_dot_q8_0_q8_0_generic`): per block the exact integer
//! `sumi = Σ q_w*q_a`, then `sumf += sumi * (d_w*d_a)` in f32.

use half::f16;

use super::f16::{f16_to_f32, f32_to_f16};
use super::f32::c_f32_to_i32;
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
        let mut sumf = 0f32;
        for (x, y) in w.iter().zip(a) {
            let mut sumi = 0i32;
            for (&qx, &qy) in x.qs.iter().zip(&y.qs) {
                sumi += i32::from(qx) * i32::from(qy);
            }
            sumf += sumi as f32 * (f16_to_f32(x.d) * f16_to_f32(y.d));
        }
        sumf
    }
}
