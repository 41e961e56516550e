//! `q6_K x q8_K` with baseline NEON, bit-identical to [`Q6K::vec_dot`](crate::formats::q6_k::Q6K).
//!
//! The spec accumulates `scale * q * a` into 8 integer lanes (value `i` to lane `i % 8`); here the
//! products of each 16-value sub-block are folded onto 8 i16 lanes (value `i` to lane `i % 8`,
//! at most `2 * 32 * 128`), scaled into two i32x4 (the spec's 8 lanes, exact), and the float steps
//! are the spec's, lane by lane. The quants are biased in i8 (`raw - 32`), never through `bsums`
//! (the spec does not read them).

use core::arch::aarch64::*;

use super::util::{Lanes8, Sums8, arr, fp16, ld_i8, ld_u8, prod16};
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;

/// The signed 6-bit quants (-32..=31) of values `128*h + 32*s + l` for `l` in 0..16 and 16..32,
/// given the 4 `ql` vectors and 2 `qh` vectors of half `h`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn quants(ql: &[uint8x16_t; 4], qh: &[uint8x16_t; 2], s: usize) -> [int8x16_t; 2] {
    let m4 = vdupq_n_u8(0x0F);
    let m30 = vdupq_n_u8(0x30);
    let bias = vdupq_n_s8(32);
    // Low nibbles of ql[0..32] for s = 0, of ql[32..64] for s = 1, high nibbles for s = 2, 3.
    let (a, b) = (ql[2 * (s % 2)], ql[2 * (s % 2) + 1]);
    let (a, b) =
        if s < 2 { (vandq_u8(a, m4), vandq_u8(b, m4)) } else { (vshrq_n_u8::<4>(a), vshrq_n_u8::<4>(b)) };
    // Bits 2s..2s+2 of qh, moved to bits 4..6.
    let shift = vdupq_n_s8(4 - 2 * s as i8);
    let ha = vandq_u8(vshlq_u8(qh[0], shift), m30);
    let hb = vandq_u8(vshlq_u8(qh[1], shift), m30);
    [
        vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(a, ha)), bias),
        vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(b, hb)), bias),
    ]
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut sums = Sums8::zero();
    for (x, y) in w.iter().zip(a) {
        let mut acc = Lanes8::zero();
        for h in 0..2 {
            let ql = [
                ld_u8(arr(&x.ql, 64 * h)),
                ld_u8(arr(&x.ql, 64 * h + 16)),
                ld_u8(arr(&x.ql, 64 * h + 32)),
                ld_u8(arr(&x.ql, 64 * h + 48)),
            ];
            let qh = [ld_u8(arr(&x.qh, 32 * h)), ld_u8(arr(&x.qh, 32 * h + 16))];
            for s in 0..4 {
                let [w0, w1] = quants(&ql, &qh, s);
                let j = 8 * h + 2 * s;
                let base = 128 * h + 32 * s;
                acc.add_scaled(prod16(w0, ld_i8(arr(&y.qs, base))), i16::from(x.scales[j]));
                acc.add_scaled(prod16(w1, ld_i8(arr(&y.qs, base + 16))), i16::from(x.scales[j + 1]));
            }
        }
        sums.add(fp16(x.d) * y.d, acc);
    }
    sums.fold_into(0.0)
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q6_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
