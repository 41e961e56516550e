//! `q2_K x q8_K` with NEON + dotprod, bit-identical to [`Q2K::vec_dot`](crate::formats::q2_k::Q2K).
//!
//! The spec has a single integer sum per block, `isum = Σ_j (sc_j & 15) * Σ_{i in j} q_i * a_i`:
//! each 2-bit quant is multiplied by its 4-bit scale first (at most `3 * 15 = 45`, still an i8),
//! then `sdot` sums everything exactly. The mins term comes from the NEON kernel, and the float
//! part `sumf += dall * isum - dmin * summs` is the spec's expression in the spec's order.

use core::arch::aarch64::*;

use super::sdot;
use crate::formats::q2_k::BlockQ2K;
use crate::formats::q8_k::BlockQ8K;
use crate::kernels::aarch64::neon::q2_k::mins_sum;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    let m3 = vdupq_n_u8(3);
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let summs = mins_sum(x, y);
        let mut acc0 = vdupq_n_s32(0);
        let mut acc1 = vdupq_n_s32(0);
        for h in 0..2 {
            let q0 = ld_u8(arr(&x.qs, 32 * h));
            let q1 = ld_u8(arr(&x.qs, 32 * h + 16));
            for s in 0..4 {
                let shift = vdupq_n_s8(-2 * s as i8);
                let j = 8 * h + 2 * s;
                let w0 = vmulq_u8(vandq_u8(vshlq_u8(q0, shift), m3), vdupq_n_u8(x.scales[j] & 0xF));
                let w1 = vmulq_u8(vandq_u8(vshlq_u8(q1, shift), m3), vdupq_n_u8(x.scales[j + 1] & 0xF));
                let base = 128 * h + 32 * s;
                acc0 = sdot(acc0, vreinterpretq_s8_u8(w0), ld_i8(arr(&y.qs, base)));
                acc1 = sdot(acc1, vreinterpretq_s8_u8(w1), ld_i8(arr(&y.qs, base + 16)));
            }
        }
        let isum = vaddvq_s32(vaddq_s32(acc0, acc1));
        let dall = y.d * fp16(x.d);
        let dmin = y.d * fp16(x.dmin);
        sumf += dall * isum as f32 - dmin * summs as f32;
    }
    sumf
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q2_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
