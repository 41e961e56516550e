//! `f32 x f32` with baseline NEON.
//!
//! Like the spec ([`F32::vec_dot`](crate::formats::f32::F32)), every product is rounded to f32
//! (`fmul`, no fused multiply-add) and widened exactly to f64, the products are summed in f64 and
//! the sum is rounded to f32 once. Only the f64 summation order differs (four f64x2 accumulators,
//! 8 values per step, the tail in order, then the accumulators pairwise): the two f64 sums differ
//! by at most `2 * n * 2^-53 * Σ|x_i*y_i|`, so the f32 results are equal except when that gap
//! straddles an f32 rounding boundary. NaN and infinities propagate as in the spec.

use core::arch::aarch64::*;

use super::util::{arr, ld_f32};

/// `acc + widen(p)` for the two f64 halves of `p`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn add_widened(acc: [float64x2_t; 2], p: float32x4_t) -> [float64x2_t; 2] {
    [vaddq_f64(acc[0], vcvt_f64_f32(vget_low_f32(p))), vaddq_f64(acc[1], vcvt_high_f64_f32(p))]
}

/// The f64 sum of four f64x2 accumulators and a tail sum, rounded to f32.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn finish(a: [float64x2_t; 2], b: [float64x2_t; 2], tail: f64) -> f32 {
    let s = vaddq_f64(vaddq_f64(a[0], a[1]), vaddq_f64(b[0], b[1]));
    (vaddvq_f64(s) + tail) as f32
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[f32], a: &[f32]) -> f32 {
    let zero = vdupq_n_f64(0.0);
    let mut acc0 = [zero; 2];
    let mut acc1 = [zero; 2];
    let wc = w.chunks_exact(8);
    let ac = a.chunks_exact(8);
    let (wr, ar) = (wc.remainder(), ac.remainder());
    for (x, y) in wc.zip(ac) {
        acc0 = add_widened(acc0, vmulq_f32(ld_f32(arr(x, 0)), ld_f32(arr(y, 0))));
        acc1 = add_widened(acc1, vmulq_f32(ld_f32(arr(x, 4)), ld_f32(arr(y, 4))));
    }
    let mut tail = 0f64;
    for (&x, &y) in wr.iter().zip(ar) {
        tail += f64::from(x * y);
    }
    finish(acc0, acc1, tail)
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn vec_dot(w: &[f32], a: &[f32]) -> f32 {
    assert_eq!(w.len(), a.len(), "F32::vec_dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU (NEON, or NEON + dotprod).
    unsafe { dot(w, a) }
}
