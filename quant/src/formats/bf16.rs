//! `BF16` (GGUF type 30): bfloat16 values, one value per "block", little-endian.
//!
//! Bit layout of one value: the upper 16 bits of an IEEE-754 binary32 (bit 15 sign, bits 14..7
//! exponent with bias 127, bits 6..0 mantissa).
//!
//! Conversions are ports of ggml's `ggml_compute_fp32_to_bf16` / `ggml_compute_bf16_to_fp32`:
//! - f32 -> bf16 rounds to nearest, ties to even (subnormals kept, overflow to ±Inf); a NaN keeps
//!   its sign and upper payload bits and is forced quiet (`| 0x0040`);
//! - bf16 -> f32 is a 16-bit left shift (exact, NaN payloads included, no quieting).
//!
//! The dot product is llama.cpp's scalar `ggml_vec_dot_bf16` (non-SIMD build): operands widened
//! to f32, each product rounded to f32, accumulated in f64, the sum rounded to f32 at the end.

use half::bf16;

use crate::{Format, QuantType};

const _: () = assert!(core::mem::size_of::<bf16>() == QuantType::BF16.block_bytes());

/// f32 -> bf16 exactly as ggml's `GGML_FP32_TO_BF16`.
#[inline]
pub fn f32_to_bf16(s: f32) -> bf16 {
    let i = s.to_bits();
    if (i & 0x7fff_ffff) > 0x7f80_0000 {
        // NaN: force to quiet
        return bf16::from_bits(((i >> 16) | 64) as u16);
    }
    bf16::from_bits((i.wrapping_add(0x7fff + ((i >> 16) & 1)) >> 16) as u16)
}

/// bf16 -> f32 exactly as ggml's `GGML_BF16_TO_FP32` (a shift).
#[inline]
pub fn bf16_to_f32(h: bf16) -> f32 {
    f32::from_bits(u32::from(h.to_bits()) << 16)
}

/// The `BF16` format. Its block is a single [`half::bf16`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BF16;

impl Format for BF16 {
    const TYPE: QuantType = QuantType::BF16;
    const ELEMS: usize = 1;
    type Block = bf16;
    type Activation = BF16;

    fn dequantize(blocks: &[bf16], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len(), "BF16::dequantize: output length");
        for (y, &h) in out.iter_mut().zip(blocks) {
            *y = bf16_to_f32(h);
        }
    }

    fn quantize(x: &[f32], out: &mut [bf16]) {
        assert_eq!(x.len(), out.len(), "BF16::quantize: input length");
        for (h, &v) in out.iter_mut().zip(x) {
            *h = f32_to_bf16(v);
        }
    }

    fn vec_dot(w: &[bf16], a: &[bf16]) -> f32 {
        assert_eq!(w.len(), a.len(), "BF16::vec_dot: operand lengths");
        let mut sum = 0f64;
        for (&x, &y) in w.iter().zip(a) {
            sum += f64::from(bf16_to_f32(x) * bf16_to_f32(y));
        }
        sum as f32
    }
}
