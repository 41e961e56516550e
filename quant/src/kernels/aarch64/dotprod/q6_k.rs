//! `q6_K x q8_K` with NEON + dotprod.
//!
//! Per block the spec's integer sum `isum = Σ_j sc_j * Σ_{i in j} q_i * a_i` is formed exactly
//! (quants biased to -32..=31 in i8, never through `bsums`, which the spec does not read; `sdot`
//! per 16-value sub-block, four sub-block sums folded with `addp` and scaled in i32). The float
//! part differs from the spec only in its summation order, as in the dotprod `q3_K` kernel: one
//! f32 accumulator gets `d * isum` per block instead of the spec's 8 lane accumulators.

use core::arch::aarch64::*;

use super::q3_k::widen_scales;
use super::{hsum4, sdot};
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;
use crate::kernels::aarch64::neon::q6_k::quants;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    for (x, y) in w.iter().zip(a) {
        let sc = widen_scales(&x.scales);
        let mut acc = zero;
        for h in 0..2 {
            let ql = [
                ld_u8(arr(&x.ql, 64 * h)),
                ld_u8(arr(&x.ql, 64 * h + 16)),
                ld_u8(arr(&x.ql, 64 * h + 32)),
                ld_u8(arr(&x.ql, 64 * h + 48)),
            ];
            let qh = [ld_u8(arr(&x.qh, 32 * h)), ld_u8(arr(&x.qh, 32 * h + 16))];
            // t[k]: the products of sub-block 8h + k.
            let mut t = [zero; 8];
            for s in 0..4 {
                let [w0, w1] = quants(&ql, &qh, s);
                let base = 128 * h + 32 * s;
                t[2 * s] = sdot(zero, w0, ld_i8(arr(&y.qs, base)));
                t[2 * s + 1] = sdot(zero, w1, ld_i8(arr(&y.qs, base + 16)));
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
pub(crate) fn vec_dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q6_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
