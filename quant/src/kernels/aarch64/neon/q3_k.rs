//! `q3_K x q8_K` with baseline NEON, bit-identical to [`Q3K::vec_dot`](crate::formats::q3_k::Q3K).
//!
//! The spec accumulates `scale * q * a` into 8 integer lanes (value `i` to lane `i % 8`), scales
//! each lane by `d_w * d_a` into its own f32 accumulator, and sums the 8 accumulators in order at
//! the end. Here the products of each 16-value sub-block are folded onto 8 i16 lanes (value `i` to
//! lane `i % 8`, at most `2 * 4 * 128`), scaled into two i32x4 (the spec's 8 lanes, exact), and
//! the float steps are the spec's, lane by lane.

use core::arch::aarch64::*;

use super::util::{Lanes8, Sums8, arr, fp16, ld_i8, ld_u8, prod16, scales_q3k};
use crate::formats::q3_k::BlockQ3K;
use crate::formats::q8_k::BlockQ8K;

/// The signed quants (-4..=3) of values `128*h + 32*s + l`, `l` in `16*half..16*half+16`:
/// `low2 - (high bit set ? 0 : 4)`, given the `qs` and `hmask` vectors for those `l`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn quants(q: uint8x16_t, hm: uint8x16_t, h: usize, s: usize) -> int8x16_t {
    let low = vandq_u8(vshlq_u8(q, vdupq_n_s8(-2 * s as i8)), vdupq_n_u8(3));
    let set = vtstq_u8(hm, vdupq_n_u8(1 << (4 * h + s)));
    vreinterpretq_s8_u8(vsubq_u8(low, vbicq_u8(vdupq_n_u8(4), set)))
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let mut sums = Sums8::zero();
    for (x, y) in w.iter().zip(a) {
        let scales = scales_q3k(&x.scales);
        let hm0 = ld_u8(arr(&x.hmask, 0));
        let hm1 = ld_u8(arr(&x.hmask, 16));
        let mut acc = Lanes8::zero();
        for h in 0..2 {
            let q0 = ld_u8(arr(&x.qs, 32 * h));
            let q1 = ld_u8(arr(&x.qs, 32 * h + 16));
            for s in 0..4 {
                let j = 8 * h + 2 * s;
                let base = 128 * h + 32 * s;
                let p0 = prod16(quants(q0, hm0, h, s), ld_i8(arr(&y.qs, base)));
                let p1 = prod16(quants(q1, hm1, h, s), ld_i8(arr(&y.qs, base + 16)));
                acc.add_scaled(p0, i16::from(scales[j]));
                acc.add_scaled(p1, i16::from(scales[j + 1]));
            }
        }
        sums.add(fp16(x.d) * y.d, acc);
    }
    sums.fold_into(0.0)
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q3_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
