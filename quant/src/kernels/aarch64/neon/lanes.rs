//! The lane-ordered attention dots ([`crate::lanes`]) with baseline NEON: **bit-identical** to
//! the spec (the dotprod tier reuses them).
//!
//! Spec lane `l` of the 32 is lane `l % 4` of accumulator register `l / 4`; a chunk of 8 after
//! the 32-value chunks goes to registers 0 and 1, as step 3 says. The reduction is the spec's
//! tree: `v = (r[j] + r[j+2]) + (r[j+4] + r[j+6])` for the low (`j = 0`) and high (`j = 1`)
//! halves of the 8 lanes, then `low + high` (lanes `l + 4`), then the two 64-bit halves
//! (`l + 2`), then lanes 0 + 1. The tail is added in order in scalar f32.
//!
//! f32: `fmul` then `fadd` (two roundings, as the spec). f16: widened exactly by `fcvtl`, fused
//! with `fmla` since the product of two f16 values is exact in f32 (same bits).

use core::arch::aarch64::*;

use half::f16;

use super::util::{arr, f16x4_to_f32, f16x8_high_to_f32, ld_f32, ld_u16};
use crate::formats::f16::f16_to_f32;

/// The spec's reduction of eight 4-lane accumulators.
#[target_feature(enable = "neon")]
#[inline]
fn reduce(r: [float32x4_t; 8]) -> f32 {
    let lo = vaddq_f32(vaddq_f32(r[0], r[2]), vaddq_f32(r[4], r[6]));
    let hi = vaddq_f32(vaddq_f32(r[1], r[3]), vaddq_f32(r[5], r[7]));
    let u = vaddq_f32(lo, hi);
    let t = vadd_f32(vget_low_f32(u), vget_high_f32(u));
    vget_lane_f32::<0>(t) + vget_lane_f32::<1>(t)
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_f32_neon(x: &[f32], y: &[f32]) -> f32 {
    let mut r = [vdupq_n_f32(0.0); 8];
    let mut xc = x.chunks_exact(32);
    let mut yc = y.chunks_exact(32);
    for (a, b) in (&mut xc).zip(&mut yc) {
        for (k, r) in r.iter_mut().enumerate() {
            *r = vaddq_f32(*r, vmulq_f32(ld_f32(arr(a, 4 * k)), ld_f32(arr(b, 4 * k))));
        }
    }
    let mut xc = xc.remainder().chunks_exact(8);
    let mut yc = yc.remainder().chunks_exact(8);
    for (a, b) in (&mut xc).zip(&mut yc) {
        r[0] = vaddq_f32(r[0], vmulq_f32(ld_f32(arr(a, 0)), ld_f32(arr(b, 0))));
        r[1] = vaddq_f32(r[1], vmulq_f32(ld_f32(arr(a, 4)), ld_f32(arr(b, 4))));
    }
    let mut s = reduce(r);
    for (&a, &b) in xc.remainder().iter().zip(yc.remainder()) {
        let p = a * b;
        s += p;
    }
    s
}

/// `r[k0] + x*y` and `r[k0+1] + x*y` for the 8 f16 values of `a` and `b`.
#[target_feature(enable = "neon")]
#[inline]
fn fma_f16x8(r: &mut [float32x4_t; 8], k0: usize, a: &[u16], b: &[u16]) {
    let x = ld_u16(arr(a, 0));
    let y = ld_u16(arr(b, 0));
    r[k0] = vfmaq_f32(r[k0], f16x4_to_f32(vget_low_u16(x)), f16x4_to_f32(vget_low_u16(y)));
    r[k0 + 1] = vfmaq_f32(r[k0 + 1], f16x8_high_to_f32(x), f16x8_high_to_f32(y));
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_f16_neon(x: &[f16], y: &[f16]) -> f32 {
    let xu: &[u16] = bytemuck::cast_slice(x);
    let yu: &[u16] = bytemuck::cast_slice(y);
    let mut r = [vdupq_n_f32(0.0); 8];
    let mut xc = xu.chunks_exact(32);
    let mut yc = yu.chunks_exact(32);
    for (a, b) in (&mut xc).zip(&mut yc) {
        for k in 0..4 {
            fma_f16x8(&mut r, 2 * k, &a[8 * k..], &b[8 * k..]);
        }
    }
    let mut xc = xc.remainder().chunks_exact(8);
    let mut yc = yc.remainder().chunks_exact(8);
    for (a, b) in (&mut xc).zip(&mut yc) {
        fma_f16x8(&mut r, 0, a, b);
    }
    let mut s = reduce(r);
    for (&a, &b) in xc.remainder().iter().zip(yc.remainder()) {
        let p = f16_to_f32(f16::from_bits(a)) * f16_to_f32(f16::from_bits(b));
        s += p;
    }
    s
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn dot_f32(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU.
    unsafe { dot_f32_neon(x, y) }
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn dot_f16(x: &[f16], y: &[f16]) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: as for `dot_f32`.
    unsafe { dot_f16_neon(x, y) }
}
