//! The lane-ordered float dot products of attention: the spec (safe scalar code) that every
//! kernel tier reproduces **bit for bit**.
//!
//! Attention's dot products (`q·k` over the KV cache, the probability-weighted sum of the
//! values) are too hot to sum in f64 in order, and a SIMD sum in some other order gives other
//! bits on every tier. So the order itself is the spec, chosen so that AVX2 (`f32x8`) and NEON
//! (`f32x4`) registers can follow it exactly:
//!
//! 1. 32 f32 lane accumulators `acc[0..32]`, all `+0.0`.
//! 2. For each whole chunk of 32 values at offset `o`: `acc[l] = acc[l] + x[o+l] * y[o+l]`
//!    for `l in 0..32`, the product rounded to f32, then the sum rounded to f32 (two roundings:
//!    **no fused multiply-add**).
//! 3. For each remaining whole chunk of 8 values at offset `o`: `acc[l] = acc[l] + x[o+l] * y[o+l]`
//!    for `l in 0..8`.
//! 4. Reduction, a fixed tree: `v[l] = (acc[l] + acc[l+8]) + (acc[l+16] + acc[l+24])` for
//!    `l in 0..8`, then `u[l] = v[l] + v[l+4]` (`l < 4`), `t[l] = u[l] + u[l+2]` (`l < 2`),
//!    `s = t[0] + t[1]`.
//! 5. The last `n % 8` values, in order: `s = s + x[i] * y[i]`.
//!
//! [`dot_f16`] widens both f16 operands to f32 first (exact). The product of two f16 values is
//! exact in f32 (at most 22 significant bits, magnitudes within `2^-48 ..= 2^32`), so for f16 a
//! fused multiply-add gives the same bits as step 2 and the SIMD kernels may use one.
//! [`dot_f32`] kernels must round the product before the add.
//!
//! Results are equal bit for bit on every tier for all finite inputs and for inputs whose
//! intermediate sums overflow to infinity; when a NaN occurs the result is a NaN on every tier,
//! but its payload may differ (x86 and ARM pick NaN payloads differently).

use half::f16;

use crate::formats::f16::f16_to_f32;

/// Lane accumulators of the spec.
pub const LANES: usize = 32;

/// The step-4 reduction of 32 lane accumulators.
#[inline]
pub fn reduce(acc: &[f32; LANES]) -> f32 {
    let mut v = [0f32; 8];
    for (l, v) in v.iter_mut().enumerate() {
        *v = (acc[l] + acc[l + 8]) + (acc[l + 16] + acc[l + 24]);
    }
    let u = [v[0] + v[4], v[1] + v[5], v[2] + v[6], v[3] + v[7]];
    let t = [u[0] + u[2], u[1] + u[3]];
    t[0] + t[1]
}

/// The spec's dot product of `x` and `y` after `widen` (identity for f32, exact f16 -> f32).
#[inline]
fn dot_by<T: Copy>(x: &[T], y: &[T], widen: impl Fn(T) -> f32) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    let mut acc = [0f32; LANES];
    let mut xc = x.chunks_exact(LANES);
    let mut yc = y.chunks_exact(LANES);
    for (xs, ys) in (&mut xc).zip(&mut yc) {
        for (l, a) in acc.iter_mut().enumerate() {
            let p = widen(xs[l]) * widen(ys[l]);
            *a += p;
        }
    }
    let mut xc = xc.remainder().chunks_exact(8);
    let mut yc = yc.remainder().chunks_exact(8);
    for (xs, ys) in (&mut xc).zip(&mut yc) {
        for (l, a) in acc.iter_mut().take(8).enumerate() {
            let p = widen(xs[l]) * widen(ys[l]);
            *a += p;
        }
    }
    let mut s = reduce(&acc);
    for (&a, &b) in xc.remainder().iter().zip(yc.remainder()) {
        let p = widen(a) * widen(b);
        s += p;
    }
    s
}

/// Lane-ordered dot product of two f32 vectors (the spec; see the module docs).
///
/// # Panics
/// If the lengths differ.
pub fn dot_f32(x: &[f32], y: &[f32]) -> f32 {
    dot_by(x, y, |v| v)
}

/// Lane-ordered dot product of two f16 vectors, widened to f32 (the spec; see the module docs).
///
/// # Panics
/// If the lengths differ.
pub fn dot_f16(x: &[f16], y: &[f16]) -> f32 {
    dot_by(x, y, f16_to_f32)
}

/// A lane-ordered dot product, as stored in the [`Kernels`](crate::Kernels) tables.
pub type LaneDotFn<T> = fn(&[T], &[T]) -> f32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_integer_dots_are_exact() {
        let x: [i32; 300] = core::array::from_fn(|i| ((i as i32 * 7 + 39) % 19) - 9);
        let y: [i32; 300] = core::array::from_fn(|i| ((i as i32 * 11 + 65) % 23) - 11);
        let xf = x.map(|v| v as f32);
        let yf = y.map(|v| v as f32);
        let xh = xf.map(f16::from_f32);
        let yh = yf.map(f16::from_f32);
        for n in [0usize, 1, 7, 8, 9, 31, 32, 33, 40, 64, 71, 256, 300] {
            let want: i64 = (0..n).map(|i| i64::from(x[i]) * i64::from(y[i])).sum();
            assert_eq!(dot_f32(&xf[..n], &yf[..n]), want as f32, "n={n}");
            assert_eq!(dot_f16(&xh[..n], &yh[..n]), want as f32, "n={n}");
        }
    }

    #[test]
    fn the_order_is_the_documented_one() {
        // 1e8 cancels only if it meets -1e8 before the small terms are absorbed: lane 0 gets
        // 1e8, lane 8 gets -1e8 (one step-4 addition), lane 1 gets 1.0.
        let mut x = [0f32; 32];
        x[0] = 1e8;
        x[8] = -1e8;
        x[1] = 1.0;
        let ones = [1f32; 32];
        assert_eq!(dot_f32(&x, &ones), 1.0);
        // The tail is added last, in order: 1e8 + 1 + ... absorbs each 1.0 (ulp 8 at 1e8).
        let mut t = [0f32; 11];
        t[0] = 1e8;
        t[8] = 1.0;
        t[9] = 1.0;
        t[10] = -1e8;
        assert_eq!(dot_f32(&t, &[1f32; 11]), 0.0);
    }

    #[test]
    #[should_panic(expected = "operand lengths")]
    fn wrong_lengths_panic() {
        dot_f32(&[1.0, 2.0], &[1.0]);
    }
}
