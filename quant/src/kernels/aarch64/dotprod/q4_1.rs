//! `q4_1 x q8_1` with NEON + dotprod.
//!
//! Per block the integer sum `Σ q * a` is formed exactly with `sdot`, then the spec's float
//! expression `sumf += (d_w*d_a) * sumi + m_w*s_a` is evaluated in the spec's order: bit-identical
//! to [`Q4_1::vec_dot`](crate::formats::q4_1::Q4_1).

use core::arch::aarch64::*;

use super::sdot;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8, nibbles};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (lo, hi) = nibbles(ld_u8(&x.qs));
        let acc = sdot(vdupq_n_s32(0), vreinterpretq_s8_u8(lo), ld_i8(arr(&y.qs, 0)));
        let acc = sdot(acc, vreinterpretq_s8_u8(hi), ld_i8(arr(&y.qs, 16)));
        let sumi = vaddvq_s32(acc);
        sumf += (fp16(x.d) * fp16(y.d)) * sumi as f32 + fp16(x.m) * fp16(y.s);
    }
    sumf
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_1::vec_dot: operand lengths");
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
