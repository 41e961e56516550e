//! `q5_K x q8_K` with baseline NEON, bit-identical to [`Q5K::vec_dot`](crate::formats::q5_k::Q5K).
//!
//! Structured as the `q4_K` kernel (the spec's 8 integer lanes kept as 8 vector lanes, float steps
//! in the spec's order); the 5th bit of value `32*j + l` is bit `j` of `qh[l]`, turned into `16`
//! with a bit test. Products of a 32-value sub-block folded to i16: at most `4 * 31 * 128`.

use core::arch::aarch64::*;

use super::q4_k::mins_sum;
use super::util::{Lanes8, Sums8, arr, fp16, ld_i8, ld_u8, nibbles, prod16, scales_mins_k4};
use crate::formats::q5_k::BlockQ5K;
use crate::formats::q8_k::BlockQ8K;

/// `16` where bit `j` of `qh` is set, else `0`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn high_bit(qh: uint8x16_t, j: usize) -> uint8x16_t {
    vandq_u8(vtstq_u8(qh, vdupq_n_u8(1 << j)), vdupq_n_u8(16))
}

/// The 5-bit quants (0..=31) of sub-blocks `2c` (first pair) and `2c + 1` (second pair), values
/// `l` in 0..16 and 16..32 of each.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn quants(x: &BlockQ5K, qh0: uint8x16_t, qh1: uint8x16_t, c: usize) -> [int8x16_t; 4] {
    let (l0, h0) = nibbles(ld_u8(arr(&x.qs, 32 * c)));
    let (l1, h1) = nibbles(ld_u8(arr(&x.qs, 32 * c + 16)));
    [
        vreinterpretq_s8_u8(vorrq_u8(l0, high_bit(qh0, 2 * c))),
        vreinterpretq_s8_u8(vorrq_u8(l1, high_bit(qh1, 2 * c))),
        vreinterpretq_s8_u8(vorrq_u8(h0, high_bit(qh0, 2 * c + 1))),
        vreinterpretq_s8_u8(vorrq_u8(h1, high_bit(qh1, 2 * c + 1))),
    ]
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let mut sums = Sums8::zero();
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (sc, mn) = scales_mins_k4(&x.scales);
        let sumi = mins_sum(&mn, y);
        let qh0 = ld_u8(arr(&x.qh, 0));
        let qh1 = ld_u8(arr(&x.qh, 16));
        let mut acc = Lanes8::zero();
        for c in 0..4 {
            let [w0, w1, w2, w3] = quants(x, qh0, qh1, c);
            let y0 = ld_i8(arr(&y.qs, 64 * c));
            let y1 = ld_i8(arr(&y.qs, 64 * c + 16));
            let y2 = ld_i8(arr(&y.qs, 64 * c + 32));
            let y3 = ld_i8(arr(&y.qs, 64 * c + 48));
            acc.add_scaled(vaddq_s16(prod16(w0, y0), prod16(w1, y1)), i16::from(sc[2 * c]));
            acc.add_scaled(vaddq_s16(prod16(w2, y2), prod16(w3, y3)), i16::from(sc[2 * c + 1]));
        }
        sums.add(fp16(x.d) * y.d, acc);
        let dmin = fp16(x.dmin) * y.d;
        sumf -= dmin * sumi as f32;
    }
    sums.fold_into(sumf)
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q5_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
