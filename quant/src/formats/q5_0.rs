//! `Q5_0` (GGUF type 6): 32 values per 22-byte block, 5-bit signed, one scale.
//!
//! Layout (`block_q5_0`):
//! - bytes 0..2: `d`, f16 scale;
//! - bytes 2..6: `qh`, a little-endian u32 of 5th bits: bit `i` is the 5th bit (value 16) of
//!   element `i` (so bits 0..16 belong to the low-nibble elements 0..16 and bits 16..32 to the
//!   high-nibble elements 16..32);
//! - bytes 6..22: `qs[16]`; byte `qs[j]` holds the low 4 bits of element `j` in its **low**
//!   nibble and those of element `j + 16` in its **high** nibble.
//!
//! Value of element `i` with 5-bit code `q` (0..=31): `(q - 16) * d`.
//!
//! Quantization (`quantize_row_q5_0_ref`): `max` is the value of largest magnitude (first on
//! ties), `d = max / -16`, `id = 1/d` (0 if `d == 0`), `q = min(31, trunc(x*id + 16.5))`.
//!
//! Dot product: against [`Q8_0`](super::q8_0::Q8_0) blocks, llama.cpp's x86-64 AVX2
//! `ggml_vec_dot_q5_0_q8_0` (and llamafile's `tinyBLAS_Q0_AVX`, same arithmetic per output; see
//! `formats/legacy_lanes.rs`): one 8-lane f32 accumulator; per block the weights
//! `q - 16` as i8, lane `j` gets the sign-trick integer sum of products `4j..4j+4` and
//! `acc[j] = fma(d_w*d_a, sum_j, acc[j])`; at the end `hsum_float_8(acc)`.

use half::f16;

use super::f16::{f16_to_f32, f32_to_f16};
use super::f32::c_f32_to_i32;
use super::legacy_lanes::{fma_lanes, hsum8, mul_sum_i8};
use super::q8_0::{BlockQ8_0, Q8_0};
use crate::{Format, QuantType};

/// Values per block.
pub const QK5_0: usize = 32;

/// One `Q5_0` block as stored in GGUF.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ5_0 {
    /// Scale.
    pub d: f16,
    /// 5th bits, little-endian u32: bit `i` belongs to element `i`.
    pub qh: [u8; 4],
    /// Low nibbles: `qs[j] & 0xF` is element `j`, `qs[j] >> 4` is element `j + 16`.
    pub qs: [u8; QK5_0 / 2],
}

const _: () = assert!(core::mem::size_of::<BlockQ5_0>() == QuantType::Q5_0.block_bytes());
const _: () = assert!(core::mem::size_of::<BlockQ5_0>() == 22);

/// The 5-bit codes (0..=31) of elements `j` and `j + 16`.
#[inline]
fn codes(qs: u8, qh: u32, j: usize) -> (u8, u8) {
    let xh_0 = (((qh >> j) << 4) & 0x10) as u8;
    let xh_1 = ((qh >> (j + 12)) & 0x10) as u8;
    ((qs & 0x0F) | xh_0, (qs >> 4) | xh_1)
}

/// The `Q5_0` format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q5_0;

impl Format for Q5_0 {
    const TYPE: QuantType = QuantType::Q5_0;
    const ELEMS: usize = QK5_0;
    type Block = BlockQ5_0;
    type Activation = Q8_0;

    fn dequantize(blocks: &[BlockQ5_0], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len() * QK5_0, "Q5_0::dequantize: output length");
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK5_0)) {
            let d = f16_to_f32(b.d);
            let qh = u32::from_le_bytes(b.qh);
            for j in 0..QK5_0 / 2 {
                let (q0, q1) = codes(b.qs[j], qh, j);
                let x0 = i32::from(q0) - 16;
                let x1 = i32::from(q1) - 16;
                y[j] = x0 as f32 * d;
                y[j + QK5_0 / 2] = x1 as f32 * d;
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ5_0]) {
        assert_eq!(x.len(), out.len() * QK5_0, "Q5_0::quantize: input length");
        for (xb, y) in x.chunks_exact(QK5_0).zip(out.iter_mut()) {
            let mut amax = 0f32;
            let mut max = 0f32;
            for &v in xb {
                if amax < v.abs() {
                    amax = v.abs();
                    max = v;
                }
            }
            let d = max / -16.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            y.d = f32_to_f16(d);
            let mut qh = 0u32;
            for j in 0..QK5_0 / 2 {
                let x0 = xb[j] * id;
                let x1 = xb[j + QK5_0 / 2] * id;
                let xi0 = (c_f32_to_i32(x0 + 16.5) as i8).min(31) as u8;
                let xi1 = (c_f32_to_i32(x1 + 16.5) as i8).min(31) as u8;
                y.qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
                qh |= u32::from((xi0 & 0x10) >> 4) << j;
                qh |= u32::from((xi1 & 0x10) >> 4) << (j + QK5_0 / 2);
            }
            y.qh = qh.to_le_bytes();
        }
    }

    fn vec_dot(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
        assert_eq!(w.len(), a.len(), "Q5_0::vec_dot: operand lengths");
        let mut acc = [0f32; 8];
        for (x, y) in w.iter().zip(a) {
            let qh = u32::from_le_bytes(x.qh);
            let mut q = [0i8; QK5_0];
            for j in 0..QK5_0 / 2 {
                let (q0, q1) = codes(x.qs[j], qh, j);
                q[j] = q0 as i8 - 16;
                q[j + QK5_0 / 2] = q1 as i8 - 16;
            }
            fma_lanes(&mut acc, f16_to_f32(x.d) * f16_to_f32(y.d), mul_sum_i8(&q, &y.qs));
        }
        hsum8(&acc)
    }
}
