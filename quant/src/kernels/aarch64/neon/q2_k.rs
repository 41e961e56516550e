//! `q2_K x q8_K` with baseline NEON.
//!
//! The spec has one integer sum per block, `isum = Σ_j (sc_j & 15) * Σ_{i in j} q_i * a_i`, and the
//! mins term `summs = Σ_j bsums_j * (sc_j >> 4)`; both are formed exactly here (products of 16
//! values folded to i16, at most `2 * 3 * 128`, then scaled into i32 lanes). The float part,
//! `sumf += dall * isum - dmin * summs` with `dall = d_a * d_w`, is the spec's expression in the
//! spec's order: bit-identical to [`Q2K::vec_dot`](crate::formats::q2_k::Q2K).

use core::arch::aarch64::*;

use super::util::{Lanes8, arr, fp16, ld_i8, ld_i16, ld_u8, prod16};
use crate::formats::q2_k::BlockQ2K;
use crate::formats::q8_k::BlockQ8K;

/// `Σ_j bsums_j * (scales_j >> 4)`, exact (`|bsums| <= 2^15`, mins <= 15, 16 terms).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn mins_sum(x: &BlockQ2K, y: &BlockQ8K) -> i32 {
    let m = vshrq_n_u8::<4>(ld_u8(&x.scales));
    let m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m)));
    let m1 = vreinterpretq_s16_u16(vmovl_high_u8(m));
    let b0 = ld_i16(arr(&y.bsums, 0));
    let b1 = ld_i16(arr(&y.bsums, 8));
    let t = vmull_s16(vget_low_s16(b0), vget_low_s16(m0));
    let t = vmlal_high_s16(t, b0, m0);
    let t = vmlal_s16(t, vget_low_s16(b1), vget_low_s16(m1));
    let t = vmlal_high_s16(t, b1, m1);
    vaddvq_s32(t)
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let m3 = vdupq_n_u8(3);
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let summs = mins_sum(x, y);
        let mut acc = Lanes8::zero();
        for h in 0..2 {
            let q0 = ld_u8(arr(&x.qs, 32 * h));
            let q1 = ld_u8(arr(&x.qs, 32 * h + 16));
            for s in 0..4 {
                let shift = vdupq_n_s8(-2 * s as i8);
                let w0 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, shift), m3));
                let w1 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, shift), m3));
                let j = 8 * h + 2 * s;
                let base = 128 * h + 32 * s;
                acc.add_scaled(prod16(w0, ld_i8(arr(&y.qs, base))), i16::from(x.scales[j] & 0xF));
                acc.add_scaled(prod16(w1, ld_i8(arr(&y.qs, base + 16))), i16::from(x.scales[j + 1] & 0xF));
            }
        }
        let isum = vaddvq_s32(vaddq_s32(acc.lo, acc.hi));
        let dall = y.d * fp16(x.d);
        let dmin = y.d * fp16(x.dmin);
        sumf += dall * isum as f32 - dmin * summs as f32;
    }
    sumf
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q2_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
