//! Attention's dot products in llama.cpp's x86-64 order ([`crate::lanes`]) with baseline NEON:
//! **bit-identical** to the spec (the dotprod tier reuses them). On aarch64 we match x86-64
//! llama.cpp, not ARM llama.cpp (whose `ggml_vec_dot_f16` sums in `f16x8` or 4-lane order).
//!
//! An x86 `f32x8` lane `l` is lane `l % 4` of the register pair `(lo, hi)`:
//! - `VecDot`/`VecDotPadded`: the four AVX2 accumulators are eight 4-lane registers `r[2j]`
//!   (lanes `8j..8j+4`) and `r[2j+1]` (lanes `8j+4..8j+8`); `GGML_F32x8_REDUCE` becomes
//!   `x = (r[j] + r[j+4]) + (r[j+2] + r[j+6])` for the low (`j = 0`) and high (`j = 1`) halves,
//!   `t = lo + hi`, then `(t0 + t1) + (t2 + t3)` (the two `hadd`s); the tail as the spec;
//! - `Tinyblas`: one register pair, tinyBLAS's `hsum` = `a = hi + lo`, `(a0 + a2) + (a1 + a3)`.
//!
//! `fmla` is a fused multiply-add (as `vfmadd`); f16 is widened exactly by `fcvtl`.

use core::arch::aarch64::*;

use half::f16;

use super::util::{arr, f16x4_to_f32, f16x8_high_to_f32, ld_f32, ld_u16};
use crate::cmath::fmaf;
use crate::formats::f16::f16_to_f32;
use crate::lanes::DotOrder;

/// `GGML_F32x8_REDUCE` of four x86 accumulators held in eight registers.
#[target_feature(enable = "neon")]
#[inline]
fn reduce32(r: &[float32x4_t; 8]) -> f32 {
    let lo = vaddq_f32(vaddq_f32(r[0], r[4]), vaddq_f32(r[2], r[6]));
    let hi = vaddq_f32(vaddq_f32(r[1], r[5]), vaddq_f32(r[3], r[7]));
    let t = vaddq_f32(lo, hi);
    let h = vpadd_f32(vget_low_f32(t), vget_high_f32(t));
    vget_lane_f32::<0>(h) + vget_lane_f32::<1>(h)
}

/// tinyBLAS's `hsum` of one x86 accumulator held in two registers.
#[target_feature(enable = "neon")]
#[inline]
fn hsum8(lo: float32x4_t, hi: float32x4_t) -> f32 {
    let a = vaddq_f32(hi, lo);
    let b = vadd_f32(vget_low_f32(a), vget_high_f32(a));
    vget_lane_f32::<0>(b) + vget_lane_f32::<1>(b)
}

/// 8 values as two f32 registers (low four, high four).
#[target_feature(enable = "neon")]
#[inline]
fn load8_f32(s: &[f32]) -> (float32x4_t, float32x4_t) {
    (ld_f32(arr(s, 0)), ld_f32(arr(s, 4)))
}

/// 8 f16 values widened to two f32 registers.
#[target_feature(enable = "neon")]
#[inline]
fn load8_f16(s: &[f16]) -> (float32x4_t, float32x4_t) {
    let u: &[u16] = bytemuck::cast_slice(&s[..8]);
    let h = ld_u16(arr(u, 0));
    (f16x4_to_f32(vget_low_u16(h)), f16x8_high_to_f32(h))
}

macro_rules! dots {
    ($name:ident, $t:ty, $zero:expr, $load:ident, $tail:ident) => {
        /// # Safety
        /// The CPU must support NEON.
        #[target_feature(enable = "neon")]
        unsafe fn $name(x: &[$t], y: &[$t], order: DotOrder) -> f32 {
            let n = x.len();
            if order == DotOrder::Tinyblas {
                let (mut lo, mut hi) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
                let mut step = |a: &[$t], b: &[$t]| {
                    let (a0, a1) = $load(a);
                    let (b0, b1) = $load(b);
                    lo = vfmaq_f32(lo, a0, b0);
                    hi = vfmaq_f32(hi, a1, b1);
                };
                let mut xc = x.chunks_exact(8);
                let mut yc = y.chunks_exact(8);
                for (a, b) in (&mut xc).zip(&mut yc) {
                    step(a, b);
                }
                let (xr, yr) = (xc.remainder(), yc.remainder());
                if !xr.is_empty() {
                    let (mut a, mut b) = ([$zero; 8], [$zero; 8]);
                    a[..xr.len()].copy_from_slice(xr);
                    b[..yr.len()].copy_from_slice(yr);
                    step(&a, &b);
                }
                return hsum8(lo, hi);
            }
            let mut r = [vdupq_n_f32(0.0); 8];
            let mut step = |a: &[$t], b: &[$t]| {
                for j in 0..4 {
                    let (a0, a1) = $load(&a[8 * j..]);
                    let (b0, b1) = $load(&b[8 * j..]);
                    r[2 * j] = vfmaq_f32(r[2 * j], a0, b0);
                    r[2 * j + 1] = vfmaq_f32(r[2 * j + 1], a1, b1);
                }
            };
            let whole = n / 32 * 32;
            for (a, b) in x[..whole].chunks_exact(32).zip(y[..whole].chunks_exact(32)) {
                step(a, b);
            }
            let (xr, yr) = (&x[whole..], &y[whole..]);
            if order == DotOrder::VecDotPadded && !xr.is_empty() {
                let (mut a, mut b) = ([$zero; 32], [$zero; 32]);
                a[..xr.len()].copy_from_slice(xr);
                b[..yr.len()].copy_from_slice(yr);
                step(&a, &b);
                return reduce32(&r);
            }
            $tail(reduce32(&r), xr, yr)
        }
    };
}

fn tail_f32(s: f32, x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).fold(s, |s, (&a, &b)| fmaf(a, b, s))
}

fn tail_f16(s: f32, x: &[f16], y: &[f16]) -> f32 {
    let sum = x.iter().zip(y).fold(f64::from(s), |s, (&a, &b)| s + f64::from(f16_to_f32(a) * f16_to_f32(b)));
    sum as f32
}

dots!(dot_f32_neon, f32, 0f32, load8_f32, tail_f32);
dots!(dot_f16_neon, f16, f16::ZERO, load8_f16, tail_f16);

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn dot_f32(x: &[f32], y: &[f32], order: DotOrder) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU.
    unsafe { dot_f32_neon(x, y, order) }
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn dot_f16(x: &[f16], y: &[f16], order: DotOrder) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: as for `dot_f32`.
    unsafe { dot_f16_neon(x, y, order) }
}

/// [`dot_f16`] for many rows ([`crate::lanes::LaneRowsFn`]).
pub(crate) fn dot_f16_rows(
    x: &[f16],
    stride: usize,
    y: &[f16],
    n_y: usize,
    order: DotOrder,
    out: &mut [f32],
) {
    crate::lanes::rows_by(dot_f16, x, stride, y, n_y, order, out)
}
