//! `q5_0 x q8_0` with baseline NEON.
//!
//! The 5th bits are spread to byte masks with a table lookup, the codes `q - 16` formed in i8, the
//! integer sum `Σ (q - 16) * a` formed exactly; then the spec's `sumf += (d_w*d_a) * sumi` in the
//! spec's order: bit-identical to [`Q5_0::vec_dot`](crate::formats::q5_0::Q5_0).

use core::arch::aarch64::*;

use super::util::{arr, dot_i8, fp16, ld_i8, ld_u8, nibbles, q5_high_bits};
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q8_0::BlockQ8_0;

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn dot(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let sixteen = vdupq_n_s8(16);
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (lo, hi) = nibbles(ld_u8(&x.qs));
        let (hb_lo, hb_hi) = q5_high_bits(x.qh);
        let lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, hb_lo)), sixteen);
        let hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, hb_hi)), sixteen);
        let acc = dot_i8(vdupq_n_s32(0), lo, ld_i8(arr(&y.qs, 0)));
        let acc = dot_i8(acc, hi, ld_i8(arr(&y.qs, 16)));
        let sumi = vaddvq_s32(acc);
        sumf += (fp16(x.d) * fp16(y.d)) * sumi as f32;
    }
    sumf
}

/// Safe wrapper, stored only in the `NEON` table.
pub(crate) fn vec_dot(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_0::vec_dot: operand lengths");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through the
    // `NEON` table, which `Kernels::for_tier` hands out after `Tier::Neon.is_supported()`.
    unsafe { dot(w, a) }
}
