//! ggml's x86-64 vector `exp` and SiLU ([`crate::vexp`]) with NEON: **bit-identical** to the spec
//! (and so to x86-64 llama.cpp, not to ARM llama.cpp's own NEON `ggml_v_expf`). Two 4-lane halves
//! make one x86 chunk of 8; the lanes are independent, so the x86 code's "any lane on the slow
//! path" branch becomes a per-lane select. `fmla`/`fmls` are fused (as `vfmadd`/`vfnmadd`).

use core::arch::aarch64::*;

use super::util::{arr, arr_mut, ld_f32};
use crate::vexp;

/// One lane group of `ggml_v_expf`.
#[target_feature(enable = "neon")]
#[inline]
fn v_expf(x: float32x4_t) -> float32x4_t {
    let c = |b: u32| vdupq_n_f32(f32::from_bits(b));
    let r = c(0x4b40_0000);
    let z = vfmaq_f32(r, x, c(0x3fb8_aa3b));
    let n = vsubq_f32(z, r);
    let b = vfmsq_f32(vfmsq_f32(x, n, c(0x3f31_7200)), n, c(0x35bf_be8e));
    let e = vshlq_n_u32::<23>(vreinterpretq_u32_f32(z));
    let k = vreinterpretq_f32_u32(vaddq_u32(e, vreinterpretq_u32_f32(vdupq_n_f32(1.0))));
    let cm = vcagtq_f32(n, vdupq_n_f32(126.0));
    let u = vmulq_f32(b, b);
    let j = vfmaq_f32(
        vmulq_f32(c(0x3f7f_fff6), b),
        vfmaq_f32(
            vfmaq_f32(c(0x3eff_fedb), c(0x3e2a_af33), b),
            vfmaq_f32(c(0x3d2b_9f17), c(0x3c07_2010), b),
            u,
        ),
        u,
    );
    let fast = vfmaq_f32(k, j, k);
    let g = vandq_u32(vcleq_f32(n, vdupq_n_f32(0.0)), vdupq_n_u32(0x8200_0000));
    let s1 = vreinterpretq_f32_u32(vaddq_u32(g, vdupq_n_u32(0x7f00_0000)));
    let s2 = vreinterpretq_f32_u32(vsubq_u32(e, g));
    let d = vcagtq_f32(n, vdupq_n_f32(192.0));
    let slow = vmulq_f32(vfmaq_f32(s2, s2, j), s1);
    vbslq_f32(d, vmulq_f32(s1, s1), vbslq_f32(cm, slow, fast))
}

/// `ggml_v_silu` for one lane group.
#[target_feature(enable = "neon")]
#[inline]
fn v_silu(x: float32x4_t) -> float32x4_t {
    let e = v_expf(vsubq_f32(vdupq_n_f32(0.0), x));
    vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0), e))
}

#[target_feature(enable = "neon")]
#[inline]
fn st(a: &mut [f32; 4], v: float32x4_t) {
    // SAFETY: `a` is 4 writable f32; `st1` needs no more than element alignment.
    unsafe { vst1q_f32(a.as_mut_ptr(), v) }
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn softmax_exp_neon(x: &mut [f32], max: f32) -> f64 {
    let m = vdupq_n_f32(max);
    let mut sum = 0f64;
    let mut chunks = x.chunks_exact_mut(8);
    for ch in &mut chunks {
        let lo = v_expf(vsubq_f32(ld_f32(arr(ch, 0)), m));
        let hi = v_expf(vsubq_f32(ld_f32(arr(ch, 4)), m));
        st(arr_mut(ch, 0), lo);
        st(arr_mut(ch, 4), hi);
        let a = vaddq_f32(hi, lo);
        let b = vadd_f32(vget_low_f32(a), vget_high_f32(a));
        sum += f64::from(vget_lane_f32::<0>(b) + vget_lane_f32::<1>(b));
    }
    vexp::softmax_exp_rest(chunks.into_remainder(), max, sum)
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn swiglu_neon(gate: &mut [f32], up: &[f32]) {
    let mut gc = gate.chunks_exact_mut(8);
    let mut uc = up.chunks_exact(8);
    for (g, u) in (&mut gc).zip(&mut uc) {
        for h in [0, 4] {
            let v = vmulq_f32(v_silu(ld_f32(arr(g, h))), ld_f32(arr(u, h)));
            st(arr_mut(g, h), v);
        }
    }
    vexp::swiglu(gc.into_remainder(), uc.remainder());
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn softmax_exp(x: &mut [f32], max: f32) -> f64 {
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU.
    unsafe { softmax_exp_neon(x, max) }
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn swiglu(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "swiglu: operand lengths");
    // SAFETY: as for `softmax_exp`.
    unsafe { swiglu_neon(gate, up) }
}
