//! `F16` (GGUF type 1): IEEE-754 binary16 values, one value per "block", little-endian.
//!
//! Bit layout of one value: bit 15 sign, bits 14..10 exponent (bias 15), bits 9..0 mantissa.
//!
//! The conversions are ports of ggml's portable `ggml_compute_fp32_to_fp16` /
//! `ggml_compute_fp16_to_fp32` (`ggml-impl.h`), which every other format in this crate uses for
//! its f16 scale fields too:
//! - f32 -> f16 rounds to nearest, ties to even, keeps subnormals, overflows to ±Inf, and maps
//!   every NaN to the quiet NaN `0x7E00` with the input's sign (the payload is dropped);
//! - f16 -> f32 is exact (NaNs keep their payload, with the quiet bit set, as on x86).
//!
//! The dot product is llama.cpp's scalar `ggml_vec_dot_f16` (non-SIMD build): each operand is
//! widened to f32, the product is rounded to f32, products are accumulated in f64 (`ggml_float`)
//! and the sum is rounded to f32 at the end.

use half::f16;

use crate::{Format, QuantType};

const _: () = assert!(core::mem::size_of::<f16>() == QuantType::F16.block_bytes());

/// f32 -> f16 exactly as ggml's `GGML_FP32_TO_FP16` (portable C path).
#[inline]
pub fn f32_to_f16(f: f32) -> f16 {
    const SCALE_TO_INF: f32 = f32::from_bits(0x7780_0000); // 0x1.0p+112
    const SCALE_TO_ZERO: f32 = f32::from_bits(0x0880_0000); // 0x1.0p-110
    let mut base = (f.abs() * SCALE_TO_INF) * SCALE_TO_ZERO;

    let w = f.to_bits();
    let shl1_w = w.wrapping_add(w);
    let sign = w & 0x8000_0000;
    let bias = (shl1_w & 0xFF00_0000).max(0x7100_0000);

    base += f32::from_bits((bias >> 1) + 0x0780_0000);
    let bits = base.to_bits();
    let exp_bits = (bits >> 13) & 0x0000_7C00;
    let mantissa_bits = bits & 0x0000_0FFF;
    let nonsign = exp_bits + mantissa_bits;
    let h = (sign >> 16) | if shl1_w > 0xFF00_0000 { 0x7E00 } else { nonsign };
    f16::from_bits(h as u16)
}

/// f16 -> f32 exactly as ggml's `GGML_FP16_TO_FP32` (portable C path).
#[inline]
pub fn f16_to_f32(h: f16) -> f32 {
    let w = u32::from(h.to_bits()) << 16;
    let sign = w & 0x8000_0000;
    let two_w = w.wrapping_add(w);

    const EXP_OFFSET: u32 = 0xE0 << 23;
    const EXP_SCALE: f32 = f32::from_bits(0x0780_0000); // 0x1.0p-112
    let normalized_value = f32::from_bits((two_w >> 4) + EXP_OFFSET) * EXP_SCALE;

    const MAGIC_MASK: u32 = 126 << 23;
    const MAGIC_BIAS: f32 = 0.5;
    let denormalized_value = f32::from_bits((two_w >> 17) | MAGIC_MASK) - MAGIC_BIAS;

    const DENORMALIZED_CUTOFF: u32 = 1 << 27;
    let result = sign
        | if two_w < DENORMALIZED_CUTOFF { denormalized_value.to_bits() } else { normalized_value.to_bits() };
    f32::from_bits(result)
}

/// The `F16` format. Its block is a single [`half::f16`].
#[derive(Clone, Copy, Debug, Default)]
pub struct F16;

impl Format for F16 {
    const TYPE: QuantType = QuantType::F16;
    const ELEMS: usize = 1;
    type Block = f16;
    type Activation = F16;

    fn dequantize(blocks: &[f16], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len(), "F16::dequantize: output length");
        for (y, &h) in out.iter_mut().zip(blocks) {
            *y = f16_to_f32(h);
        }
    }

    fn quantize(x: &[f32], out: &mut [f16]) {
        assert_eq!(x.len(), out.len(), "F16::quantize: input length");
        for (h, &v) in out.iter_mut().zip(x) {
            *h = f32_to_f16(v);
        }
    }

    fn vec_dot(w: &[f16], a: &[f16]) -> f32 {
        assert_eq!(w.len(), a.len(), "F16::vec_dot: operand lengths");
        let mut sum = 0f64;
        for (&x, &y) in w.iter().zip(a) {
            sum += f64::from(f16_to_f32(x) * f16_to_f32(y));
        }
        sum as f32
    }
}
