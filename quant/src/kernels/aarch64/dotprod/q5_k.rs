//! `q5_K x q8_K` with NEON + dotprod.
//!
//! As the dotprod `q4_K` kernel, with the 5-bit quants built by the NEON `q5_K` kernel: integer
//! sums exact, one f32 accumulator for `d * isum` instead of the spec's 8 lane accumulators (float
//! summation order only; bound as for the dotprod `q3_K` kernel).

use core::arch::aarch64::*;

use super::q4_k::widen_scales;
use super::{hsum4, sdot};
use crate::formats::q5_k::BlockQ5K;
use crate::formats::q8_k::BlockQ8K;
use crate::kernels::aarch64::neon::q4_k::mins_sum;
use crate::kernels::aarch64::neon::q5_k::quants;
use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_u8, scales_mins_k4};

/// # Safety
/// The CPU must support NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn dot(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    let mut sumd = 0f32;
    for (x, y) in w.iter().zip(a) {
        let (sc, mn) = scales_mins_k4(&x.scales);
        let sumi = mins_sum(&mn, y);
        let sc = widen_scales(&sc);
        let qh0 = ld_u8(arr(&x.qh, 0));
        let qh1 = ld_u8(arr(&x.qh, 16));
        let mut acc = zero;
        for (g, &scales) in sc.iter().enumerate() {
            // t[k]: the products of sub-block 4g + k.
            let mut t = [zero; 4];
            for cc in 0..2 {
                let c = 2 * g + cc;
                let [w0, w1, w2, w3] = quants(x, qh0, qh1, c);
                let lo = sdot(zero, w0, ld_i8(arr(&y.qs, 64 * c)));
                t[2 * cc] = sdot(lo, w1, ld_i8(arr(&y.qs, 64 * c + 16)));
                let hi = sdot(zero, w2, ld_i8(arr(&y.qs, 64 * c + 32)));
                t[2 * cc + 1] = sdot(hi, w3, ld_i8(arr(&y.qs, 64 * c + 48)));
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
pub(crate) fn vec_dot(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    assert!(
        w.len() == a.len(),
        "q5_K vec_dot: {} weight blocks against {} q8_K activation blocks",
        w.len(),
        a.len()
    );
    // SAFETY: this wrapper is reachable only through the `DOTPROD` table, which `Kernels::for_tier`
    // hands out only after `Tier::Dotprod.is_supported()` (NEON and dotprod are present).
    unsafe { dot(w, a) }
}
