//! `Q5_1` (GGUF type 7): 32 values per 24-byte block, 5-bit unsigned with scale and minimum.
//!
//! Layout (`block_q5_1`):
//! - bytes 0..2: `d`, f16 scale;
//! - bytes 2..4: `m`, f16 minimum;
//! - bytes 4..8: `qh`, a little-endian u32 of 5th bits: bit `i` is the 5th bit (value 16) of
//!   element `i`;
//! - bytes 8..24: `qs[16]`; byte `qs[j]` holds the low 4 bits of element `j` in its **low**
//!   nibble and those of element `j + 16` in its **high** nibble.
//!
//! Value of element `i` with 5-bit code `q` (0..=31): `q * d + m` (two f32 roundings, no FMA).
//!
//! Quantization (`quantize_row_q5_1_ref`): `min`/`max` of the block, `d = (max - min) / 31`,
//! `id = 1/d` (0 if `d == 0`), `q = trunc((x - min)*id + 0.5)` (no clamp, as in llama.cpp; for
//! finite inputs it cannot exceed 31); `m` stores `min`.
//!
//! Dot product: against [`Q8_1`](super::q8_1::Q8_1) blocks, llama.cpp's x86-64 AVX2
//! `ggml_vec_dot_q5_1_q8_1` (also its multi-token path: llamafile has no `Q5_1` kernel; see
//! `formats/legacy_lanes.rs`): one 8-lane f32 accumulator and one scalar `summs`;
//! per block lane `j` gets the exact integer sum of products `4j..4j+4` (5-bit codes `q` times
//! `q_a`), `acc[j] = fma(sum_j, d_w*d_a, acc[j])`, and `summs = fma(m_w, s_a, summs)` (an FMA
//! contracted by GCC, as in `Q4_1`). The result is `hsum_float_8(acc) + summs`.

use half::f16;

use super::f16::{f16_to_f32, f32_to_f16};
use super::f32::c_f32_to_i32;
use super::legacy_lanes::{fma_lanes, hsum8, mul_sum_us8};
use super::q8_1::{BlockQ8_1, Q8_1};
use crate::{Format, QuantType};

/// Values per block.
pub const QK5_1: usize = 32;

/// One `Q5_1` block as stored in GGUF.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ5_1 {
    /// Scale.
    pub d: f16,
    /// Minimum (offset added to every value).
    pub m: f16,
    /// 5th bits, little-endian u32: bit `i` belongs to element `i`.
    pub qh: [u8; 4],
    /// Low nibbles: `qs[j] & 0xF` is element `j`, `qs[j] >> 4` is element `j + 16`.
    pub qs: [u8; QK5_1 / 2],
}

const _: () = assert!(core::mem::size_of::<BlockQ5_1>() == QuantType::Q5_1.block_bytes());
const _: () = assert!(core::mem::size_of::<BlockQ5_1>() == 24);

/// The 5-bit codes (0..=31) of elements `j` and `j + 16`.
#[inline]
fn codes(qs: u8, qh: u32, j: usize) -> (u8, u8) {
    let xh_0 = (((qh >> j) << 4) & 0x10) as u8;
    let xh_1 = ((qh >> (j + 12)) & 0x10) as u8;
    ((qs & 0x0F) | xh_0, (qs >> 4) | xh_1)
}

/// The `Q5_1` format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q5_1;

impl Format for Q5_1 {
    const TYPE: QuantType = QuantType::Q5_1;
    const ELEMS: usize = QK5_1;
    type Block = BlockQ5_1;
    type Activation = Q8_1;

    fn dequantize(blocks: &[BlockQ5_1], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len() * QK5_1, "Q5_1::dequantize: output length");
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK5_1)) {
            let d = f16_to_f32(b.d);
            let m = f16_to_f32(b.m);
            let qh = u32::from_le_bytes(b.qh);
            for j in 0..QK5_1 / 2 {
                let (q0, q1) = codes(b.qs[j], qh, j);
                y[j] = f32::from(q0) * d + m;
                y[j + QK5_1 / 2] = f32::from(q1) * d + m;
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ5_1]) {
        assert_eq!(x.len(), out.len() * QK5_1, "Q5_1::quantize: input length");
        for (xb, y) in x.chunks_exact(QK5_1).zip(out.iter_mut()) {
            let mut min = f32::MAX;
            let mut max = -f32::MAX;
            for &v in xb {
                if v < min {
                    min = v;
                }
                if v > max {
                    max = v;
                }
            }
            let d = (max - min) / 31.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            y.d = f32_to_f16(d);
            y.m = f32_to_f16(min);
            let mut qh = 0u32;
            for j in 0..QK5_1 / 2 {
                let x0 = (xb[j] - min) * id;
                let x1 = (xb[j + QK5_1 / 2] - min) * id;
                let xi0 = c_f32_to_i32(x0 + 0.5) as u8;
                let xi1 = c_f32_to_i32(x1 + 0.5) as u8;
                y.qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
                qh |= u32::from((xi0 & 0x10) >> 4) << j;
                qh |= u32::from((xi1 & 0x10) >> 4) << (j + QK5_1 / 2);
            }
            y.qh = qh.to_le_bytes();
        }
    }

    fn vec_dot(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
        assert_eq!(w.len(), a.len(), "Q5_1::vec_dot: operand lengths");
        let mut acc = [0f32; 8];
        let mut summs = 0f32;
        for (x, y) in w.iter().zip(a) {
            summs = libm::fmaf(f16_to_f32(x.m), f16_to_f32(y.s), summs);
            let qh = u32::from_le_bytes(x.qh);
            let mut q = [0u8; QK5_1];
            for j in 0..QK5_1 / 2 {
                (q[j], q[j + QK5_1 / 2]) = codes(x.qs[j], qh, j);
            }
            fma_lanes(&mut acc, f16_to_f32(x.d) * f16_to_f32(y.d), mul_sum_us8(&q, &y.qs));
        }
        hsum8(&acc) + summs
    }
}
