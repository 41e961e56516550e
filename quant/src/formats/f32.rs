//! `F32` (GGUF type 0): plain IEEE-754 binary32 values, one value per "block", little-endian.
//!
//! Quantization and dequantization are copies. The dot product is llama.cpp's scalar
//! `ggml_vec_dot_f32` (the non-SIMD build): each product is rounded to f32, the products are
//! accumulated in f64 (`ggml_float`) and the sum is rounded to f32 at the end.

use crate::{Format, QuantType};

const _: () = assert!(core::mem::size_of::<f32>() == QuantType::F32.block_bytes());

/// The `F32` format. Its block is a single `f32`.
#[derive(Clone, Copy, Debug, Default)]
pub struct F32;

impl Format for F32 {
    const TYPE: QuantType = QuantType::F32;
    const ELEMS: usize = 1;
    type Block = f32;
    type Activation = F32;

    fn dequantize(blocks: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), blocks.len(), "F32::dequantize: output length");
        out.copy_from_slice(blocks);
    }

    fn quantize(x: &[f32], out: &mut [f32]) {
        assert_eq!(x.len(), out.len(), "F32::quantize: input length");
        out.copy_from_slice(x);
    }

    fn vec_dot(w: &[f32], a: &[f32]) -> f32 {
        assert_eq!(w.len(), a.len(), "F32::vec_dot: operand lengths");
        let mut sum = 0f64;
        for (&x, &y) in w.iter().zip(a) {
            sum += f64::from(x * y);
        }
        sum as f32
    }
}

/// `(int32_t) v` as llama.cpp's reference build (gcc, x86-64, `cvttss2si`) computes it:
/// truncation toward zero, and the "integer indefinite" value `i32::MIN` for NaN and for values
/// outside the i32 range (C leaves those undefined; Rust's `as` would saturate instead).
///
/// The quantizers use it (followed by a wrapping `as i8`/`as u8`, like C's narrowing conversion)
/// wherever llama.cpp converts a float to a small integer type, so that even degenerate inputs
/// (NaN, Inf, scales that overflow) produce llama.cpp's bytes on x86.
#[inline]
pub(crate) fn c_f32_to_i32(v: f32) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&v) { v as i32 } else { i32::MIN }
}
