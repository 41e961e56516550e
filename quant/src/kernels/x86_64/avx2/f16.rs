//! `F16 x F16` dot product.
//!
//! Numerics (bounded, not bit-exact): the spec widens both operands to f32 (exact), rounds each
//! product to f32 and accumulates in f64. Here the widened products are fused into four `f32x8`
//! accumulators (`vfmadd`, one rounding per multiply-add; value `i` of each 32-value chunk goes to
//! accumulator `(i / 8) % 4`, lane `i % 8`), remaining 8-value chunks to the first accumulator, the
//! accumulators are summed, then their lanes, and a tail of fewer than 8 values is added last in
//! f32 (product, then sum). The result is the spec's exactly when every partial sum is
//! representable (small integers times powers of two); otherwise it differs by f32 accumulation
//! error, `<= (n/32 + 8) * 2^-24 * sum|x_i*y_i|`.

use core::arch::x86_64::*;

use half::f16;

use super::util::{f16_to_f32, hsum_ps, load_f16x8};

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[f16], a: &[f16]) -> f32 {
    assert_eq!(w.len(), a.len(), "F16 avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[f16], a: &[f16]) -> f32 {
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut wc = w.chunks_exact(32);
    let mut ac = a.chunks_exact(32);
    for (x, y) in (&mut wc).zip(&mut ac) {
        for (k, acc) in acc.iter_mut().enumerate() {
            *acc = _mm256_fmadd_ps(load_f16x8(&x[8 * k..]), load_f16x8(&y[8 * k..]), *acc);
        }
    }
    let mut wc = wc.remainder().chunks_exact(8);
    let mut ac = ac.remainder().chunks_exact(8);
    for (x, y) in (&mut wc).zip(&mut ac) {
        acc[0] = _mm256_fmadd_ps(load_f16x8(x), load_f16x8(y), acc[0]);
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut tail = 0f32;
    for (&x, &y) in wc.remainder().iter().zip(ac.remainder()) {
        tail += f16_to_f32(x) * f16_to_f32(y);
    }
    hsum_ps(sum) + tail
}
