//! `Q4_1` (GGUF type 3): 32 values per 20-byte block, 4-bit unsigned with scale and minimum.
//!
//! Layout (`block_q4_1`):
//! - bytes 0..2: `d`, f16 scale;
//! - bytes 2..4: `m`, f16 minimum;
//! - bytes 4..20: `qs[16]`; byte `qs[j]` holds element `j` in its **low** nibble and element
//!   `j + 16` in its **high** nibble.
//!
//! Value of element `i` with nibble `q` (0..=15): `q * d + m` (two f32 roundings, no FMA).
//!
//! Quantization (`quantize_row_q4_1_ref`): `min`/`max` of the block, `d = (max - min) / 15`,
//! `id = 1/d` (0 if `d == 0`), `q = min(15, trunc((x - min)*id + 0.5))`; `m` stores `min`.
//!
//! Dot product: against [`Q8_1`](super::q8_1::Q8_1) blocks, llama.cpp's x86-64 AVX2
//! `ggml_vec_dot_q4_1_q8_1` (also its multi-token path: llamafile has no `Q4_1` kernel; see
//! `formats/legacy_lanes.rs`): one 8-lane f32 accumulator and one scalar `summs`;
//! per block lane `j` gets the exact integer sum of products `4j..4j+4` (nibbles `q` times
//! `q_a`), `acc[j] = fma(d_w*d_a, sum_j, acc[j])`, and `summs = fma(m_w, s_a, summs)` (GCC
//! contracts `summs += m*s` into an FMA; checked in the disassembly of `libggml-cpu.so`), where
//! `s_a` is the activation block's `d * Σ q_a`. The result is `hsum_float_8(acc) + summs`.

use half::f16;

use super::f16::{f16_to_f32, f32_to_f16};
use super::f32::c_f32_to_i32;
use super::legacy_lanes::{fma_lanes, hsum8, mul_sum_us8};
use super::q8_1::{BlockQ8_1, Q8_1};
use crate::{Format, QuantType};

/// Values per block.
pub const QK4_1: usize = 32;

/// One `Q4_1` block as stored in GGUF.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ4_1 {
    /// Scale.
    pub d: f16,
    /// Minimum (offset added to every value).
    pub m: f16,
    /// Nibbles: `qs[j] & 0xF` is element `j`, `qs[j] >> 4` is element `j + 16`.
    pub qs: [u8; QK4_1 / 2],
}

const _: () = assert!(core::mem::size_of::<BlockQ4_1>() == QuantType::Q4_1.block_bytes());
const _: () = assert!(core::mem::size_of::<BlockQ4_1>() == 20);

/// The `Q4_1` format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q4_1;

impl Format for Q4_1 {
    const TYPE: QuantType = QuantType::Q4_1;
    const ELEMS: usize = QK4_1;
    type Block = BlockQ4_1;
    type Activation = Q8_1;

    fn dequantize(blocks: &[BlockQ4_1], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len() * QK4_1, "Q4_1::dequantize: output length");
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK4_1)) {
            let d = f16_to_f32(b.d);
            let m = f16_to_f32(b.m);
            for j in 0..QK4_1 / 2 {
                let x0 = i32::from(b.qs[j] & 0x0F);
                let x1 = i32::from(b.qs[j] >> 4);
                y[j] = x0 as f32 * d + m;
                y[j + QK4_1 / 2] = x1 as f32 * d + m;
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ4_1]) {
        assert_eq!(x.len(), out.len() * QK4_1, "Q4_1::quantize: input length");
        for (xb, y) in x.chunks_exact(QK4_1).zip(out.iter_mut()) {
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
            let d = (max - min) / 15.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            y.d = f32_to_f16(d);
            y.m = f32_to_f16(min);
            for j in 0..QK4_1 / 2 {
                let x0 = (xb[j] - min) * id;
                let x1 = (xb[j + QK4_1 / 2] - min) * id;
                let xi0 = (c_f32_to_i32(x0 + 0.5) as i8).min(15) as u8;
                let xi1 = (c_f32_to_i32(x1 + 0.5) as i8).min(15) as u8;
                y.qs[j] = xi0 | (xi1 << 4);
            }
        }
    }

    fn vec_dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
        assert_eq!(w.len(), a.len(), "Q4_1::vec_dot: operand lengths");
        let mut acc = [0f32; 8];
        let mut summs = 0f32;
        for (x, y) in w.iter().zip(a) {
            summs = libm::fmaf(f16_to_f32(x.m), f16_to_f32(y.s), summs);
            let mut q = [0u8; QK4_1];
            for j in 0..QK4_1 / 2 {
                q[j] = x.qs[j] & 0x0F;
                q[j + QK4_1 / 2] = x.qs[j] >> 4;
            }
            fma_lanes(&mut acc, f16_to_f32(x.d) * f16_to_f32(y.d), mul_sum_us8(&q, &y.qs));
        }
        hsum8(&acc) + summs
    }
}
