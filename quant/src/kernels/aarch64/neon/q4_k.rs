//! `q4_K x q8_K` with baseline NEON, bit-identical to [`Q4K::vec_dot`](crate::formats::q4_k::Q4K).
//!
//! The spec accumulates `scale * q * a` into 8 integer lanes (value `i` to lane `i % 8`), scales
//! each lane by `d_w * d_a` into its own f32 accumulator, subtracts `dmin_w*d_a * Σ bsums*mins`
//! from the main accumulator per block, and adds the 8 lane accumulators in order at the end.
//! Here the products of each 32-value sub-block are folded onto 8 i16 lanes (value `i` to lane
//! `i % 8`, at most `4 * 15 * 128`), scaled into two i32x4 (the spec's 8 lanes, exact), and the
//! float steps are the spec's, lane by lane.

use core::arch::aarch64::*;

use super::util::{Lanes8, Sums8, arr, fp16, ld_i8, ld_i16, ld_u8, ld_u8x8, nibbles, prod16, scales_mins_k4};
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q8_k::BlockQ8K;

/// `Σ_j bsums_j * mins[j / 2]` (exact: `|bsums| <= 2^15`, mins <= 63, 16 terms).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn mins_sum(mins: &[u8; 8], y: &BlockQ8K) -> i32 {
    let m = vreinterpretq_s16_u16(vmovl_u8(ld_u8x8(mins)));
    let b0 = vpaddlq_s16(ld_i16(arr(&y.bsums, 0)));
    let b1 = vpaddlq_s16(ld_i16(arr(&y.bsums, 8)));
    let t = vmulq_s32(b0, vmovl_s16(vget_low_s16(m)));
    let t = vmlaq_s32(t, b1, vmovl_high_s16(m));
    vaddvq_s32(t)
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut sums = Sums8::zero();
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (sc, mn) = scales_mins_k4(&x.scales);
        let sumi = mins_sum(&mn, y);
        let mut acc = Lanes8::zero();
        for c in 0..4 {
            let (l0, h0) = nibbles(ld_u8(arr(&x.qs, 32 * c)));
            let (l1, h1) = nibbles(ld_u8(arr(&x.qs, 32 * c + 16)));
            let y0 = ld_i8(arr(&y.qs, 64 * c));
            let y1 = ld_i8(arr(&y.qs, 64 * c + 16));
            let y2 = ld_i8(arr(&y.qs, 64 * c + 32));
            let y3 = ld_i8(arr(&y.qs, 64 * c + 48));
            let p = vaddq_s16(prod16(vreinterpretq_s8_u8(l0), y0), prod16(vreinterpretq_s8_u8(l1), y1));
            acc.add_scaled(p, i16::from(sc[2 * c]));
            let p = vaddq_s16(prod16(vreinterpretq_s8_u8(h0), y2), prod16(vreinterpretq_s8_u8(h1), y3));
            acc.add_scaled(p, i16::from(sc[2 * c + 1]));
        }
        sums.add(fp16(x.d) * y.d, acc);
        let dmin = fp16(x.dmin) * y.d;
        sumf -= dmin * sumi as f32;
    }
    sums.fold_into(sumf)
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q4_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
