//! `q4_K x q8_K` with NEON + dotprod.
//!
//! Per block the spec's integer sums are formed exactly: `isum = Σ_j sc_j * Σ_{i in j} q_i * a_i`
//! (`sdot` per 32-value sub-block, four sub-block sums folded with `addp` and scaled in i32) and
//! the mins term `Σ bsums * mins` (shared with the NEON kernel). The float part differs from the
//! spec only in its summation order: the spec keeps 8 f32 lane accumulators (value `i` in lane
//! `i % 8`) that it adds to the main one at the end, this kernel keeps one f32 for `d * isum`
//! (`d = d_w * d_a`) and adds it at the end; the mins go to the main accumulator exactly as in the
//! spec. Bound as for the dotprod `q3_K` kernel.

use core::arch::aarch64::*;

use super::{hsum4, sdot};
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q8_k::BlockQ8K;
use crate::kernels::aarch64::neon::q4_k::mins_sum;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8, ld_u8x8, nibbles, scales_mins_k4};

/// The 8 sub-block scales as two i32x4 (sub-blocks 0..4 and 4..8).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn widen_scales(sc: &[u8; 8]) -> [int32x4_t; 2] {
    let v = vreinterpretq_s16_u16(vmovl_u8(ld_u8x8(sc)));
    [vmovl_s16(vget_low_s16(v)), vmovl_high_s16(v)]
}

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    let mut sumd = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (sc, mn) = scales_mins_k4(&x.scales);
        let sumi = mins_sum(&mn, y);
        let sc = widen_scales(&sc);
        let mut acc = zero;
        for (g, &scales) in sc.iter().enumerate() {
            // t[k]: the products of sub-block 4g + k.
            let mut t = [zero; 4];
            for cc in 0..2 {
                let c = 2 * g + cc;
                let (l0, h0) = nibbles(ld_u8(arr(&x.qs, 32 * c)));
                let (l1, h1) = nibbles(ld_u8(arr(&x.qs, 32 * c + 16)));
                let lo = sdot(zero, vreinterpretq_s8_u8(l0), ld_i8(arr(&y.qs, 64 * c)));
                t[2 * cc] = sdot(lo, vreinterpretq_s8_u8(l1), ld_i8(arr(&y.qs, 64 * c + 16)));
                let hi = sdot(zero, vreinterpretq_s8_u8(h0), ld_i8(arr(&y.qs, 64 * c + 32)));
                t[2 * cc + 1] = sdot(hi, vreinterpretq_s8_u8(h1), ld_i8(arr(&y.qs, 64 * c + 48)));
            }
            acc = vmlaq_s32(acc, hsum4(t[0], t[1], t[2], t[3]), scales);
        }
        let isum = vaddvq_s32(acc);
        sumd += fp16(x.d) * y.d * isum as f32;
        let dmin = fp16(x.dmin) * y.d;
        sumf -= dmin * sumi as f32;
    }
    sumf + sumd
}

/// Safe wrapper, stored only in the `DOTPROD` table.
pub(crate) fn vec_dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q4_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
