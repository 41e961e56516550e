//! Attention's float dot products in llama.cpp's order: the spec (safe scalar code) that every
//! kernel tier reproduces **bit for bit**.
//!
//! With `-fa off`, llama.cpp computes attention's two products (`kq = mul_mat(k, q)` and
//! `kqv = mul_mat(v, kq)`, f16 cache, the f32 operand converted to f16) with one of two dot
//! products, depending on the batch (`ggml_compute_forward_mul_mat`, `llamafile_sgemm`):
//!
//! - [`DotOrder::Tinyblas`]: a batch of two tokens or more goes to llamafile's `tinyBLAS<8,
//!   __m256>` (AVX2 + F16C build): one 8-lane f32 accumulator per output, `acc[l] =
//!   fma(x[8c+l], y[8c+l], acc[l])` over the chunks `c` of 8 in order, then [`crate::vexp::hsum8`].
//!   tinyBLAS only runs when the length is a multiple of 8 (`k % KN`); this spec zero-extends a
//!   shorter last chunk, which adds exactly nothing (the products of the zero padding are `±0`,
//!   and a lane accumulator that starts at `+0` is never `-0`). That is what llama.cpp computes
//!   over its padded KV length (a multiple of 256, masked cells have probability 0).
//! - [`DotOrder::VecDot`]: a single token goes to `ggml_vec_dot_f16` (`GGML_F16_STEP` 32,
//!   `GGML_F16_EPR` 8): 32 lane accumulators `acc[j*8+l]` with `acc = fma(x, y, acc)` over the
//!   whole chunks of 32, then `GGML_F32x8_REDUCE`: `v[l] = (acc[l] + acc[16+l]) + (acc[8+l] +
//!   acc[24+l])`, `t[l] = v[l] + v[l+4]`, `s = (t0 + t1) + (t2 + t3)` (two `hadd`s); the last
//!   `n % 32` products are then added to `s` in f64 (f16; f32 adds them in f32 with fused
//!   multiply-adds, `sumf += x[i]*y[i]` as GCC may contract it), and the result rounded to f32.
//!   The f16 orders are checked against libggml (runtime/tests/ggml_ops.rs); for f32, tinyBLAS
//!   is, but `ggml_vec_dot_f32` with a tail (`n % 32 != 0`, an f32 cache with such a head size)
//!   is not: libggml's results on such a length match neither a fused nor an unfused tail, so
//!   its order there is still unknown.
//! - [`DotOrder::VecDotPadded`]: `VecDot` over the operands zero-extended to a multiple of 32
//!   (the last partial chunk goes through the lanes; no f64 tail): the single-token `kqv` row,
//!   whose llama.cpp length is the padded KV length.
//!
//! f16 operands are widened to f32 (exact); the product of two f16 values is exact in f32, so
//! for f16 a fused multiply-add gives the bits of a product then a sum. For f32 every step is a
//! real fused multiply-add (`fma`), as `_mm256_fmadd_ps`.
//!
//! Results are equal bit for bit on every tier for all finite inputs and for inputs whose
//! intermediate sums overflow to infinity; when a NaN occurs the result is a NaN on every tier,
//! but its payload may differ.

use half::f16;

use crate::cmath::fmaf;
use crate::formats::f16::f16_to_f32;
use crate::vexp::hsum8;

/// Which of llama.cpp's dot products (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DotOrder {
    /// `ggml_vec_dot_f16` / `ggml_vec_dot_f32` over exactly the operands.
    VecDot,
    /// `VecDot` over the operands zero-extended to a multiple of 32.
    VecDotPadded,
    /// One output of `tinyBLAS<8>` over the operands zero-extended to a multiple of 8.
    Tinyblas,
}

/// The `GGML_F32x8_REDUCE` of four 8-lane accumulators (`acc[j*8 + l]`).
#[inline]
pub fn reduce32(acc: &[f32; 32]) -> f32 {
    let mut t = [0f32; 4];
    for (l, t) in t.iter_mut().enumerate() {
        let v = |l: usize| (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]);
        *t = v(l) + v(l + 4);
    }
    (t[0] + t[1]) + (t[2] + t[3])
}

/// The spec of both operand types: `widen` to f32, `fma` the multiply-add of one lane,
/// `tail` the f64 (f16) or f32 (f32) sum of the products past the whole chunks of 32.
#[inline]
fn dot_by<T: Copy>(
    x: &[T],
    y: &[T],
    order: DotOrder,
    widen: impl Fn(T) -> f32,
    fma: impl Fn(f32, f32, f32) -> f32,
    tail: impl Fn(f32, &[T], &[T]) -> f32,
) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    match order {
        DotOrder::Tinyblas => {
            let mut acc = [0f32; 8];
            for (xs, ys) in x.chunks(8).zip(y.chunks(8)) {
                for (l, (&a, &b)) in xs.iter().zip(ys).enumerate() {
                    acc[l] = fma(widen(a), widen(b), acc[l]);
                }
            }
            hsum8(&acc)
        }
        DotOrder::VecDot | DotOrder::VecDotPadded => {
            let mut acc = [0f32; 32];
            let whole = x.len() / 32 * 32;
            let end = if order == DotOrder::VecDot { whole } else { x.len() };
            for (xs, ys) in x[..end].chunks(32).zip(y[..end].chunks(32)) {
                for (l, (&a, &b)) in xs.iter().zip(ys).enumerate() {
                    acc[l] = fma(widen(a), widen(b), acc[l]);
                }
            }
            tail(reduce32(&acc), &x[end..], &y[end..])
        }
    }
}

/// llama.cpp's dot product of two f16 vectors in `order` (the spec; see the module docs).
///
/// # Panics
/// If the lengths differ.
pub fn dot_f16(x: &[f16], y: &[f16], order: DotOrder) -> f32 {
    dot_by(
        x,
        y,
        order,
        f16_to_f32,
        |a, b, c| a * b + c,
        |s, xs, ys| {
            let mut sum = f64::from(s);
            for (&a, &b) in xs.iter().zip(ys) {
                sum += f64::from(f16_to_f32(a) * f16_to_f32(b));
            }
            sum as f32
        },
    )
}

/// llama.cpp's dot product of two f32 vectors in `order` (the spec; see the module docs).
///
/// # Panics
/// If the lengths differ.
pub fn dot_f32(x: &[f32], y: &[f32], order: DotOrder) -> f32 {
    dot_by(
        x,
        y,
        order,
        |v| v,
        fmaf,
        |s, xs, ys| {
            let mut sum = s;
            for (&a, &b) in xs.iter().zip(ys) {
                sum = fmaf(a, b, sum);
            }
            sum
        },
    )
}

/// An attention dot product, as stored in the [`Kernels`](crate::Kernels) tables.
pub type LaneDotFn<T> = fn(&[T], &[T], DotOrder) -> f32;

/// Attention's products of many rows with one or more vectors, as stored in the
/// [`Kernels`](crate::Kernels) tables: `f(x, stride, y, n_y, order, out)`, where `y` holds `n_y`
/// vectors of `m = y.len() / n_y` values one after the other, sets `out[j * n_rows + r]` (with
/// `n_rows = out.len() / n_y`) to the dot product in `order` of row `r`
/// (`x[r * stride..r * stride + m]`) with vector `j`: the keys of one KV head against the
/// queries of its group of heads; the value rows against their probabilities. Each value is the
/// same bits as the single dot product.
pub type LaneRowsFn<T> = fn(&[T], usize, &[T], usize, DotOrder, &mut [f32]);

/// Checks the operands of a [`LaneRowsFn`] and returns `(m, n_rows)`: `y` is `n_y >= 1`
/// vectors of `m` values, `out` `n_y` times `n_rows` values, `x` holds `n_rows` rows of `m`
/// values `stride` apart.
///
/// # Panics
/// If `n_y` is 0 or does not divide `y` and `out`, or `x` is too short for the rows (or
/// `stride < m` with more than one row).
#[inline]
pub fn check_rows<T>(x: &[T], stride: usize, y: &[T], n_y: usize, out: &[f32]) -> (usize, usize) {
    assert!(n_y > 0 && y.len() % n_y == 0 && out.len() % n_y == 0, "lane rows: {n_y} vectors");
    let (m, n_rows) = (y.len() / n_y, out.len() / n_y);
    if let Some(last) = n_rows.checked_sub(1) {
        assert!(last == 0 || stride >= m, "lane rows: overlapping rows");
        assert!(x.len() >= last * stride + m, "lane rows: too few values");
    }
    (m, n_rows)
}

/// A [`LaneRowsFn`] by one `dot` per row and vector.
#[inline]
pub fn rows_by<T>(
    dot: LaneDotFn<T>,
    x: &[T],
    stride: usize,
    y: &[T],
    n_y: usize,
    order: DotOrder,
    out: &mut [f32],
) {
    let (m, n_rows) = check_rows(x, stride, y, n_y, out);
    for j in 0..n_y {
        let yj = &y[j * m..(j + 1) * m];
        for (r, o) in out[j * n_rows..(j + 1) * n_rows].iter_mut().enumerate() {
            *o = dot(&x[r * stride..r * stride + m], yj, order);
        }
    }
}

/// The spec of the f16 [`LaneRowsFn`]: [`dot_f16`] per row and vector.
pub fn dot_f16_rows(x: &[f16], stride: usize, y: &[f16], n_y: usize, order: DotOrder, out: &mut [f32]) {
    rows_by(dot_f16, x, stride, y, n_y, order, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: [DotOrder; 3] = [DotOrder::VecDot, DotOrder::VecDotPadded, DotOrder::Tinyblas];

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
            for o in ORDERS {
                assert_eq!(dot_f32(&xf[..n], &yf[..n], o), want as f32, "n={n} {o:?}");
                assert_eq!(dot_f16(&xh[..n], &yh[..n], o), want as f32, "n={n} {o:?}");
            }
        }
    }

    #[test]
    fn the_orders_are_the_documented_ones() {
        // tinyBLAS: lane 0 gets 1e8 and -1e8 (cancel in the lane), lane 1 gets 1.
        let mut x = [0f32; 16];
        x[0] = 1e8;
        x[8] = -1e8;
        x[1] = 1.0;
        assert_eq!(dot_f32(&x, &[1.0; 16], DotOrder::Tinyblas), 1.0);
        // vec_dot: lanes 0 and 16 meet first in the reduction; 1.0 in lane 8 is absorbed by 1e8
        // in lane 16 + lane 0 = 2e8 ... unless 0 and 16 cancel first.
        let mut x = [0f32; 32];
        x[0] = 1e8;
        x[16] = -1e8;
        x[8] = 1.0;
        assert_eq!(dot_f32(&x, &[1.0; 32], DotOrder::VecDot), 1.0);
        // The f16 tail past the whole chunks of 32 is summed in f64: 2048 + 1 - 2048 (all exact
        // in f16) with 1 in the tail gives 1 both ways; a tail of 2049 (not an f16) is not used.
        let mut h = [f16::ZERO; 35];
        h[0] = f16::from_f32(2048.0);
        h[32] = f16::from_f32(0.5);
        h[33] = f16::from_f32(0.25);
        h[34] = f16::from_f32(-2048.0);
        let ones = [f16::ONE; 35];
        assert_eq!(dot_f16(&h, &ones, DotOrder::VecDot), 0.75);
        // Padded: the tail goes through lanes 0..3, then the tree: (2048 + 0.5) + ... exact too.
        assert_eq!(dot_f16(&h, &ones, DotOrder::VecDotPadded), 0.75);
    }

    #[test]
    #[should_panic(expected = "operand lengths")]
    fn wrong_lengths_panic() {
        dot_f32(&[1.0, 2.0], &[1.0], DotOrder::VecDot);
    }
}
