//! `q5_1 x q8_1` with NEON + dotprod.
//!
//! The 5th bits are spread to byte masks with a table lookup, the unsigned codes (0..=31) dotted
//! exactly with the activations (`sdot`); then the spec's
//! `sumf += (d_w*d_a) * sumi + m_w*s_a` in the spec's order: bit-identical to
//! [`Q5_1::vec_dot`](crate::formats::q5_1::Q5_1).

use core::arch::aarch64::*;

use super::sdot;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_1::BlockQ8_1;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8, nibbles, q5_high_bits};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (lo, hi) = nibbles(ld_u8(&x.qs));
        let (hb_lo, hb_hi) = q5_high_bits(x.qh);
        let lo = vreinterpretq_s8_u8(vorrq_u8(lo, hb_lo));
        let hi = vreinterpretq_s8_u8(vorrq_u8(hi, hb_hi));
        let acc = sdot(vdupq_n_s32(0), lo, ld_i8(arr(&y.qs, 0)));
        let acc = sdot(acc, hi, ld_i8(arr(&y.qs, 16)));
        let sumi = vaddvq_s32(acc);
        sumf += (fp16(x.d) * fp16(y.d)) * sumi as f32 + fp16(x.m) * fp16(y.s);
    }
    sumf
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_1::vec_dot: operand lengths");
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
