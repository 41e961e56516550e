//! `q3_K x q8_K` with NEON + dotprod.
//!
//! Per block the spec's integer sum `isum = Σ_j sc_j * Σ_{i in j} q_i * a_i` is formed exactly
//! (`sdot` per 16-value sub-block, the four sub-block sums of a group folded with `addp` and
//! scaled in i32). The float part differs from the spec only in its summation order: the spec
//! keeps 8 f32 accumulators `sums[k] += d * aux[k]` (value `i` in lane `i % 8`) and adds them at
//! the end, this kernel adds `d * isum` to one f32 per block (`d = d_w * d_a` as in the spec).
//! The difference is float rounding only, bounded by `~(n_blocks + 8) * 2^-24 * Σ_b |d_b| * Σ_k
//! |aux_b[k]|`; with exactly representable sums (e.g. power-of-two scales) it is bit-identical.

use core::arch::aarch64::*;

use super::{hsum4, sdot};
use crate::formats::q3_k::BlockQ3K;
use crate::formats::q8_k::BlockQ8K;
use crate::kernels::aarch64::neon::q3_k::quants;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8, scales_q3k};

/// The 16 i8 sub-block scales as four i32x4 (sub-blocks 0..4, 4..8, 8..12, 12..16).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn widen_scales(sc: &[i8; 16]) -> [int32x4_t; 4] {
    let v = ld_i8(sc);
    let lo = vmovl_s8(vget_low_s8(v));
    let hi = vmovl_high_s8(v);
    [vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo), vmovl_s16(vget_low_s16(hi)), vmovl_high_s16(hi)]
}

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let sc = widen_scales(&scales_q3k(&x.scales));
        let hm0 = ld_u8(arr(&x.hmask, 0));
        let hm1 = ld_u8(arr(&x.hmask, 16));
        let mut acc = zero;
        for h in 0..2 {
            let q0 = ld_u8(arr(&x.qs, 32 * h));
            let q1 = ld_u8(arr(&x.qs, 32 * h + 16));
            // t[k]: the products of sub-block 8h + k.
            let mut t = [zero; 8];
            for s in 0..4 {
                let base = 128 * h + 32 * s;
                t[2 * s] = sdot(zero, quants(q0, hm0, h, s), ld_i8(arr(&y.qs, base)));
                t[2 * s + 1] = sdot(zero, quants(q1, hm1, h, s), ld_i8(arr(&y.qs, base + 16)));
            }
            acc = vmlaq_s32(acc, hsum4(t[0], t[1], t[2], t[3]), sc[2 * h]);
            acc = vmlaq_s32(acc, hsum4(t[4], t[5], t[6], t[7]), sc[2 * h + 1]);
        }
        let isum = vaddvq_s32(acc);
        sumf += fp16(x.d) * y.d * isum as f32;
    }
    sumf
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q3_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
