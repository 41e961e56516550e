//! The lane-ordered attention dots ([`crate::lanes`]) with AVX2: **bit-identical** to the spec.
//!
//! Spec lane `l` of the 32 is lane `l % 8` of accumulator register `l / 8`; a chunk of 8 after
//! the 32-value chunks goes to register 0, as step 3 says. The reduction is the spec's tree:
//! `(r0 + r1) + (r2 + r3)` lane-wise, then the 128-bit halves (lanes `l + 4`), then
//! `movehl` (`l + 2`), then lanes 0 + 1. The tail is added in order in scalar f32.
//!
//! f32: `vmulps` then `vaddps` (two roundings, as the spec). f16: widened exactly by F16C, and
//! fused with `vfmadd` since the product of two f16 values is exact in f32 (same bits).

use core::arch::x86_64::*;

use half::f16;

use super::util::load_f16x8;
use crate::formats::f16::f16_to_f32;

/// The spec's reduction of four 8-lane accumulators.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn reduce(r: [__m256; 4]) -> f32 {
    let v = _mm256_add_ps(_mm256_add_ps(r[0], r[1]), _mm256_add_ps(r[2], r[3]));
    let u = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let t = _mm_add_ps(u, _mm_movehl_ps(u, u));
    let s = _mm_add_ss(t, _mm_movehdup_ps(t));
    _mm_cvtss_f32(s)
}

/// Loads `s[..8]` (checked by the slice index).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load_f32x8(s: &[f32]) -> __m256 {
    let s = &s[..8];
    // SAFETY: `s` is 8 readable f32 (checked above); loadu needs no alignment.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f32_avx2(x: &[f32], y: &[f32]) -> f32 {
    let mut r = [_mm256_setzero_ps(); 4];
    let mut xc = x.chunks_exact(32);
    let mut yc = y.chunks_exact(32);
    for (a, b) in (&mut xc).zip(&mut yc) {
        for (k, r) in r.iter_mut().enumerate() {
            *r = _mm256_add_ps(*r, _mm256_mul_ps(load_f32x8(&a[8 * k..]), load_f32x8(&b[8 * k..])));
        }
    }
    let mut xc = xc.remainder().chunks_exact(8);
    let mut yc = yc.remainder().chunks_exact(8);
    for (a, b) in (&mut xc).zip(&mut yc) {
        r[0] = _mm256_add_ps(r[0], _mm256_mul_ps(load_f32x8(a), load_f32x8(b)));
    }
    let mut s = reduce(r);
    for (&a, &b) in xc.remainder().iter().zip(yc.remainder()) {
        let p = a * b;
        s += p;
    }
    s
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16_avx2(x: &[f16], y: &[f16]) -> f32 {
    let mut r = [_mm256_setzero_ps(); 4];
    let mut xc = x.chunks_exact(32);
    let mut yc = y.chunks_exact(32);
    for (a, b) in (&mut xc).zip(&mut yc) {
        for (k, r) in r.iter_mut().enumerate() {
            *r = _mm256_fmadd_ps(load_f16x8(&a[8 * k..]), load_f16x8(&b[8 * k..]), *r);
        }
    }
    let mut xc = xc.remainder().chunks_exact(8);
    let mut yc = yc.remainder().chunks_exact(8);
    for (a, b) in (&mut xc).zip(&mut yc) {
        r[0] = _mm256_fmadd_ps(load_f16x8(a), load_f16x8(b), r[0]);
    }
    let mut s = reduce(r);
    for (&a, &b) in xc.remainder().iter().zip(yc.remainder()) {
        let p = f16_to_f32(a) * f16_to_f32(b);
        s += p;
    }
    s
}

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn dot_f32(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: crate-private, only reachable through the AVX2 table, which `Kernels::for_tier`
    // returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_f32_avx2(x, y) }
}

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn dot_f16(x: &[f16], y: &[f16]) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: as for `dot_f32`.
    unsafe { dot_f16_avx2(x, y) }
}
