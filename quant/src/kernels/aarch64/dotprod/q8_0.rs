//! `q8_0 x q8_0` with NEON + dotprod: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::dot`]: weights any `i8`, the 4-product lane sums by `sdot`, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q8_0::vec_dot`](crate::formats::q8_0::Q8_0). A row whose activations hold a -128 (where the x86 sign trick differs from the exact product) goes to the spec.

use core::arch::aarch64::*;

use super::sdot;
use crate::Format;
use crate::formats::q8_0::{BlockQ8_0, Q8_0};
use crate::kernels::aarch64::neon::legacy;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    legacy::dot(
        w,
        a,
        |x: &BlockQ8_0| (ld_i8(arr(&x.qs, 0)), ld_i8(arr(&x.qs, 16))),
        |y: &BlockQ8_0| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        |a, b| sdot(vdupq_n_s32(0), a, b),
        |x, y| (fp16(x.d) * fp16(y.d), 0.0, 0.0),
        false,
        true,
    )
    .unwrap_or_else(|| Q8_0::vec_dot(w, a))
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0::vec_dot: operand lengths");
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
