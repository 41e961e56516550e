//! `q8_0 x q8_0` with baseline NEON: the spec's (llama.cpp's x86 AVX2) arithmetic in
//! [`legacy::dot`]: weights any `i8`, the 4-product lane sums by widening multiplies and pairwise adds, two `vfmaq` f32x4 accumulators,
//! `hsum_float_8`'s tree; bit-identical to [`Q8_0::vec_dot`](crate::formats::q8_0::Q8_0). A row whose activations hold a -128 (where the x86 sign trick differs from the exact product) goes to the spec.

use super::legacy;
use super::util::{arr, fp16, ld_i8};
use crate::Format;
use crate::formats::q8_0::{BlockQ8_0, Q8_0};

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    legacy::dot(
        w,
        a,
        |x: &BlockQ8_0| (ld_i8(arr(&x.qs, 0)), ld_i8(arr(&x.qs, 16))),
        |y: &BlockQ8_0| (ld_i8(arr(&y.qs, 0)), ld_i8(arr(&y.qs, 16))),
        |a, b| legacy::sum4(a, b),
        |x, y| (fp16(x.d) * fp16(y.d), 0.0, 0.0),
        false,
        true,
    )
    .unwrap_or_else(|| Q8_0::vec_dot(w, a))
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0::vec_dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
