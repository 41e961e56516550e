//! emberlm-quant: the quantization formats of GGUF, exactly as llama.cpp defines them.
//!
//! Each file in [`formats`] is the *spec* of one block format: its `#[repr(C)]` block struct,
//! its bit layout, a dequantizer bit-exact with llama.cpp's `dequantize_row_*`, a reference
//! quantizer with the semantics of llama.cpp's `quantize_row_*_ref`, and a scalar reference dot
//! product against the activation format llama.cpp pairs it with (`vec_dot_<weight>_<activation>`).
//! Spec files are safe code only. SIMD kernels (a later layer) are tested against them.
//!
//! `no_std`, no allocation. Little-endian targets only (GGUF is little-endian).
#![no_std]
// Unsafe is allowed only in the SIMD kernels (`kernels/<arch>/`), never in the format specs.
#![deny(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(target_endian = "big")]
compile_error!("emberlm-quant reads GGUF blocks in place and supports little-endian targets only");

pub mod cmath;
pub mod formats;
pub mod kernels;
pub mod lanes;
pub mod rope;
mod types;
pub mod vexp;

pub use kernels::{Dispatch, Kernels, Tier};
pub use types::QuantType;

/// A GGUF block format (the `GgmlType` of candle, the `type_traits` row of ggml).
///
/// `Block` is the on-disk block, `ELEMS` values per block. `Activation` is the format the other
/// operand of [`Format::vec_dot`] is quantized to (llama.cpp's `vec_dot_type`).
pub trait Format: 'static {
    /// The GGUF/ggml type this format implements.
    const TYPE: QuantType;
    /// Values per block (`QK`).
    const ELEMS: usize;
    /// The block as stored in a GGUF file.
    type Block: bytemuck::Pod + core::fmt::Debug + PartialEq;
    /// The format of the activations this weight format is dotted with.
    type Activation: Format;

    /// Dequantize `blocks` into `out` (`out.len() == blocks.len() * ELEMS`), bit-exact with
    /// llama.cpp's `dequantize_row_*`.
    ///
    /// # Panics
    /// If the lengths disagree.
    fn dequantize(blocks: &[Self::Block], out: &mut [f32]);

    /// Quantize `x` into `out` (`x.len() == out.len() * ELEMS`) with the semantics of llama.cpp's
    /// `quantize_row_*_ref`.
    ///
    /// # Panics
    /// If the lengths disagree.
    fn quantize(x: &[f32], out: &mut [Self::Block]);

    /// Reference dot product of weight blocks with activation blocks covering the same number of
    /// values (llama.cpp's scalar `ggml_vec_dot_<w>_<a>`).
    ///
    /// # Panics
    /// If the two operands do not cover the same number of values.
    fn vec_dot(w: &[Self::Block], a: &[<Self::Activation as Format>::Block]) -> f32;
}

/// Number of blocks of `F` that hold `n` values, or `None` if `n` is not a whole number of blocks.
pub const fn blocks_for<F: Format>(n: usize) -> Option<usize> {
    if n % F::ELEMS == 0 { Some(n / F::ELEMS) } else { None }
}

/// The expansion of [`with_format!`] and [`with_weight_format!`]: a `match` on a
/// [`QuantType`] with one arm per listed format.
#[doc(hidden)]
#[macro_export]
macro_rules! __match_formats {
    ($ty:expr, $F:ident => $body:expr, _ => $other:expr; $($v:ident => $m:ident :: $f:ident),* $(,)?) => {
        match $ty {
            $($crate::QuantType::$v => {
                type $F = $crate::formats::$m::$f;
                $body
            })*
            _ => $other,
        }
    };
}

/// Run `$body` with `$F` bound to the [`Format`] of the run-time type `$ty`, or evaluate `$other`
/// for a type that is not a matmul weight: every format with a dot product in the
/// [`Kernels`] tables (not the activation-only `Q8_1` / `Q8_K`, not the integer types).
#[macro_export]
macro_rules! with_weight_format {
    ($ty:expr, $F:ident => $body:expr, _ => $other:expr) => {
        $crate::__match_formats!($ty, $F => $body, _ => $other;
            F32 => f32::F32, F16 => f16::F16, BF16 => bf16::BF16, Q4_0 => q4_0::Q4_0,
            Q4_1 => q4_1::Q4_1, Q5_0 => q5_0::Q5_0, Q5_1 => q5_1::Q5_1, Q8_0 => q8_0::Q8_0,
            Q2K => q2_k::Q2K, Q3K => q3_k::Q3K, Q4K => q4_k::Q4K, Q5K => q5_k::Q5K, Q6K => q6_k::Q6K)
    };
}

/// [`with_weight_format!`] over every format of this crate (adds `Q8_1` and `Q8_K`).
#[macro_export]
macro_rules! with_format {
    ($ty:expr, $F:ident => $body:expr, _ => $other:expr) => {
        $crate::__match_formats!($ty, $F => $body, _ => $other;
            F32 => f32::F32, F16 => f16::F16, BF16 => bf16::BF16, Q4_0 => q4_0::Q4_0,
            Q4_1 => q4_1::Q4_1, Q5_0 => q5_0::Q5_0, Q5_1 => q5_1::Q5_1, Q8_0 => q8_0::Q8_0,
            Q8_1 => q8_1::Q8_1, Q2K => q2_k::Q2K, Q3K => q3_k::Q3K, Q4K => q4_k::Q4K,
            Q5K => q5_k::Q5K, Q6K => q6_k::Q6K, Q8K => q8_k::Q8K)
    };
}
