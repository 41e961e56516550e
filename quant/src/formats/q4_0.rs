//! `Q4_0` (GGUF type 2): 32 values per 18-byte block, 4-bit signed, one scale.
//!
//! Layout (`block_q4_0`):
//! - bytes 0..2: `d`, f16 scale;
//! - bytes 2..18: `qs[16]`; byte `qs[j]` holds element `j` in its **low** nibble and element
//!   `j + 16` in its **high** nibble.
//!
//! Value of element `i` with nibble `q` (0..=15): `(q - 8) * d`.
//!
//! Quantization (`quantize_row_q4_0_ref`): `max` is the value of largest magnitude (the first one
//! on ties), `d = max / -8`, `id = 1/d` (0 if `d == 0`), `q = min(15, trunc(x*id + 8.5))`.
//! So the extreme value maps to nibble 0 (`-8 * d = max`) and the range is used asymmetrically.
//!
//! Dot product: against [`Q8_0`](super::q8_0::Q8_0) blocks, llama.cpp's x86-64 AVX2
//! `ggml_vec_dot_q4_0_q8_0` (and llamafile's `tinyBLAS_Q0_AVX`, same arithmetic per output; see
//! `formats/legacy_lanes.rs`): one 8-lane f32 accumulator; per block the weights
//! `q - 8` as i8, lane `j` gets the sign-trick integer sum of products `4j..4j+4` and
//! `acc[j] = fma(d_w*d_a, sum_j, acc[j])`; at the end `hsum_float_8(acc)`.
//!
//! (llama.cpp repacks `Q4_0` tensors with a multiple of 8 rows into `q4_0_8x8` on AVX2 CPUs when
//! its CPU repack buffer is used, which has yet another arithmetic; not emulated here.)

use half::f16;

use super::f16::{f16_to_f32, f32_to_f16};
use super::f32::c_f32_to_i32;
use super::legacy_lanes::{fma_lanes, hsum8, mul_sum_i8};
use super::q8_0::{BlockQ8_0, Q8_0};
use crate::{Format, QuantType};

/// Values per block.
pub const QK4_0: usize = 32;

/// One `Q4_0` block as stored in GGUF.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ4_0 {
    /// Scale.
    pub d: f16,
    /// Nibbles: `qs[j] & 0xF` is element `j`, `qs[j] >> 4` is element `j + 16`.
    pub qs: [u8; QK4_0 / 2],
}

const _: () = assert!(core::mem::size_of::<BlockQ4_0>() == QuantType::Q4_0.block_bytes());
const _: () = assert!(core::mem::size_of::<BlockQ4_0>() == 18);

/// The `Q4_0` format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q4_0;

impl Format for Q4_0 {
    const TYPE: QuantType = QuantType::Q4_0;
    const ELEMS: usize = QK4_0;
    type Block = BlockQ4_0;
    type Activation = Q8_0;

    fn dequantize(blocks: &[BlockQ4_0], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len() * QK4_0, "Q4_0::dequantize: output length");
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK4_0)) {
            let d = f16_to_f32(b.d);
            for j in 0..QK4_0 / 2 {
                let x0 = i32::from(b.qs[j] & 0x0F) - 8;
                let x1 = i32::from(b.qs[j] >> 4) - 8;
                y[j] = x0 as f32 * d;
                y[j + QK4_0 / 2] = x1 as f32 * d;
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ4_0]) {
        assert_eq!(x.len(), out.len() * QK4_0, "Q4_0::quantize: input length");
        for (xb, y) in x.chunks_exact(QK4_0).zip(out.iter_mut()) {
            let mut amax = 0f32;
            let mut max = 0f32;
            for &v in xb {
                if amax < v.abs() {
                    amax = v.abs();
                    max = v;
                }
            }
            let d = max / -8.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            y.d = f32_to_f16(d);
            for j in 0..QK4_0 / 2 {
                let x0 = xb[j] * id;
                let x1 = xb[j + QK4_0 / 2] * id;
                let xi0 = (c_f32_to_i32(x0 + 8.5) as i8).min(15) as u8;
                let xi1 = (c_f32_to_i32(x1 + 8.5) as i8).min(15) as u8;
                y.qs[j] = xi0 | (xi1 << 4);
            }
        }
    }

    fn vec_dot(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
        assert_eq!(w.len(), a.len(), "Q4_0::vec_dot: operand lengths");
        let mut acc = [0f32; 8];
        for (x, y) in w.iter().zip(a) {
            let mut q = [0i8; QK4_0];
            for j in 0..QK4_0 / 2 {
                q[j] = (x.qs[j] & 0x0F) as i8 - 8;
                q[j + QK4_0 / 2] = (x.qs[j] >> 4) as i8 - 8;
            }
            fma_lanes(&mut acc, f16_to_f32(x.d) * f16_to_f32(y.d), mul_sum_i8(&q, &y.qs));
        }
        hsum8(&acc)
    }
}
