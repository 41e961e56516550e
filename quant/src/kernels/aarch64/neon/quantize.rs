//! The activation quantizers with baseline NEON (shared by the dotprod tier). Each produces the
//! bytes of its scalar spec for every input, NaN and infinities included:
//!
//! - F16: `fcvtn` (round to nearest even, subnormals kept, overflow to infinity under the default
//!   FPCR) is exactly ggml's portable `fp32_to_fp16` for non-NaN values; NaNs are replaced by the
//!   spec's `0x7E00 | sign`.
//! - Q8_0 / Q8_1: the activation spec (`q8_0::quantize_activations`, llama.cpp's x86 AVX2
//!   quantizer): `id = 127/amax`, ties to even (`fcvtns`), `i32::MIN` for NaN/out-of-range lanes
//!   (as `vcvtps2dq`), saturating narrows (as `packs`), `s` from the wrapping sum of the `i32`s. The
//!   block maximum of non-NaN values does not depend on the order; a block holding a NaN goes
//!   through the spec itself (where the x86 `maxps` operand order decides).
//! - Q8_K: the spec rounds with llama.cpp's `nearest_int` (add `1.5 * 2^23`, read the mantissa),
//!   done here with the same float addition lane by lane; the running maximum is the spec's
//!   strict `>` comparison (so NaNs are skipped, as in the spec).

use core::arch::aarch64::*;

use half::f16;

use super::util::{arr, arr_mut, f32x4_to_f16, ld_f32, st_i8, st_u16};
use crate::Format;
use crate::formats::f16::f32_to_f16;
use crate::formats::legacy_lanes::mul_x86;
use crate::formats::q8_0::{BlockQ8_0, QK8_0};
use crate::formats::q8_1::{BlockQ8_1, QK8_1};
use crate::formats::q8_k::{BlockQ8K, Q8K};
use crate::formats::{q8_0, q8_1};

const QK_K: usize = 256;

/// Four f32 to the spec's f16 bits.
#[target_feature(enable = "neon")]
#[inline]
fn to_f16x4(f: float32x4_t) -> uint16x4_t {
    let h = f32x4_to_f16(f);
    let sign = vshrn_n_u32::<16>(vandq_u32(vreinterpretq_u32_f32(f), vdupq_n_u32(0x8000_0000)));
    let canonical_nan = vorr_u16(sign, vdup_n_u16(0x7E00));
    let is_nan = vmovn_u32(vmvnq_u32(vceqq_f32(f, f)));
    vbsl_u16(is_nan, canonical_nan, h)
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn f16_kernel(x: &[f32], out: &mut [f16]) {
    let out: &mut [u16] = bytemuck::cast_slice_mut(out);
    let xc = x.chunks_exact(8);
    let xr = xc.remainder();
    let mut oc = out.chunks_exact_mut(8);
    for (xs, os) in xc.zip(&mut oc) {
        let lo = to_f16x4(ld_f32(arr(xs, 0)));
        let hi = to_f16x4(ld_f32(arr(xs, 4)));
        st_u16(arr_mut(os, 0), vcombine_u16(lo, hi));
    }
    for (h, &v) in oc.into_remainder().iter_mut().zip(xr) {
        *h = f32_to_f16(v).to_bits();
    }
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn quantize_f16(x: &[f32], out: &mut [f16]) {
    assert_eq!(x.len(), out.len(), "F16::quantize: input length");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU (NEON, or NEON + dotprod).
    unsafe { f16_kernel(x, out) }
}

/// The 32 values of a block as 8 vectors, and the spec's `amax` (NaN if any value is NaN).
#[target_feature(enable = "neon")]
#[inline]
fn load32(xb: &[f32]) -> ([float32x4_t; 8], f32) {
    let mut v = [vdupq_n_f32(0.0); 8];
    for (k, v) in v.iter_mut().enumerate() {
        *v = ld_f32(arr(xb, 4 * k));
    }
    let m0 =
        vmaxq_f32(vmaxq_f32(vabsq_f32(v[0]), vabsq_f32(v[1])), vmaxq_f32(vabsq_f32(v[2]), vabsq_f32(v[3])));
    let m1 =
        vmaxq_f32(vmaxq_f32(vabsq_f32(v[4]), vabsq_f32(v[5])), vmaxq_f32(vabsq_f32(v[6]), vabsq_f32(v[7])));
    (v, vmaxvq_f32(vmaxq_f32(m0, m1)))
}

/// The 16 activation-spec integers of `v` (before the saturating packs): round to nearest even
/// (`fcvtns`, the x86 `vroundps` + `vcvtps2dq` for in-range values), `i32::MIN` where `v * id`
/// is NaN or out of the i32 range (`vcvtps2dq`'s "integer indefinite").
#[target_feature(enable = "neon")]
#[inline]
fn round16(v: &[float32x4_t], id: f32) -> [int32x4_t; 4] {
    let limit = vdupq_n_f32(2_147_483_648.0);
    let indefinite = vdupq_n_s32(i32::MIN);
    let mut q = [vdupq_n_s32(0); 4];
    for (q, &v) in q.iter_mut().zip(v) {
        let t = vmulq_n_f32(v, id);
        *q = vbslq_s32(vcaltq_f32(t, limit), vcvtnq_s32_f32(t), indefinite);
    }
    q
}

/// 16 `i32` saturated to `i8` (the x86 `packs_epi32` then `packs_epi16`).
#[target_feature(enable = "neon")]
#[inline]
fn pack16(q: &[int32x4_t; 4]) -> int8x16_t {
    let lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
    let hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
    vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi))
}

/// The activation spec's `d` and `id` from the block maximum (`id = 127 / amax`).
#[inline]
fn scale(amax: f32) -> (f32, f32) {
    (amax / 127.0, if amax != 0.0 { 127.0 / amax } else { 0.0 })
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn q8_0_kernel(x: &[f32], out: &mut [BlockQ8_0]) {
    for (xb, y) in x.chunks_exact(QK8_0).zip(out.iter_mut()) {
        let (v, amax) = load32(xb);
        if amax.is_nan() {
            q8_0::quantize_activations(xb, core::slice::from_mut(y));
            continue;
        }
        let (d, id) = scale(amax);
        y.d = f32_to_f16(d);
        st_i8(arr_mut(&mut y.qs, 0), pack16(&round16(&v[..4], id)));
        st_i8(arr_mut(&mut y.qs, 16), pack16(&round16(&v[4..], id)));
    }
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn quantize_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), out.len() * QK8_0, "Q8_0 quantize_activations: input length");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU (NEON, or NEON + dotprod).
    unsafe { q8_0_kernel(x, out) }
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn q8_1_kernel(x: &[f32], out: &mut [BlockQ8_1]) {
    for (xb, y) in x.chunks_exact(QK8_1).zip(out.iter_mut()) {
        let (v, amax) = load32(xb);
        if amax.is_nan() {
            q8_1::quantize_activations(xb, core::slice::from_mut(y));
            continue;
        }
        let (d, id) = scale(amax);
        y.d = f32_to_f16(d);
        let q0 = round16(&v[..4], id);
        let q1 = round16(&v[4..], id);
        st_i8(arr_mut(&mut y.qs, 0), pack16(&q0));
        st_i8(arr_mut(&mut y.qs, 16), pack16(&q1));
        // the i32s before the packs, summed with wrapping adds like `hsum_i32_8`
        let s4 = vaddq_s32(
            vaddq_s32(vaddq_s32(q0[0], q0[1]), vaddq_s32(q0[2], q0[3])),
            vaddq_s32(vaddq_s32(q1[0], q1[1]), vaddq_s32(q1[2], q1[3])),
        );
        let sum = vaddvq_s32(s4);
        y.s = f32_to_f16(mul_x86(d, sum as f32));
    }
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn quantize_q8_1(x: &[f32], out: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), out.len() * QK8_1, "Q8_1 quantize_activations: input length");
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU (NEON, or NEON + dotprod).
    unsafe { q8_1_kernel(x, out) }
}

/// `b` where `b > a`, else `a`, lane by lane: the spec's `if ax > amax { amax = ax }`, which
/// never picks a NaN.
#[target_feature(enable = "neon")]
#[inline]
fn gt_max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
    vbslq_f32(vcgtq_f32(b, a), b, a)
}

/// The spec's `amax` of a super-block: the largest `|v|` that is not NaN, 0 if none is larger.
#[target_feature(enable = "neon")]
#[inline]
fn amax256(xb: &[f32]) -> f32 {
    let mut m = [vdupq_n_f32(0.0); 4];
    for c in xb.chunks_exact(16) {
        for (k, m) in m.iter_mut().enumerate() {
            *m = gt_max(*m, vabsq_f32(ld_f32(arr(c, 4 * k))));
        }
    }
    let m = gt_max(gt_max(m[0], m[1]), gt_max(m[2], m[3]));
    let mut amax = 0f32;
    for v in [vgetq_lane_f32::<0>(m), vgetq_lane_f32::<1>(m), vgetq_lane_f32::<2>(m), vgetq_lane_f32::<3>(m)]
    {
        if v > amax {
            amax = v;
        }
    }
    amax
}

/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
unsafe fn q8_k_kernel(x: &[f32], out: &mut [BlockQ8K]) {
    let magic = vdupq_n_f32(12_582_912.0);
    let mantissa = vdupq_n_s32(0x007f_ffff);
    let bias = vdupq_n_s32(0x0040_0000);
    let q_max = vdupq_n_s32(127);
    for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let amax = amax256(xb);
        if amax == 0.0 {
            *y = bytemuck::Zeroable::zeroed();
            continue;
        }
        // The spec's `max`: the first value of largest magnitude.
        let Some(&max) = xb.iter().find(|v| v.abs() == amax) else {
            // Unreachable (`amax` is one of the magnitudes); the spec decides if it ever is not.
            Q8K::quantize(xb, core::slice::from_mut(y));
            continue;
        };
        let iscale = -127.0f32 / max;
        for (g, xs) in xb.chunks_exact(16).enumerate() {
            let mut q = [vdupq_n_s32(0); 4];
            for (k, q) in q.iter_mut().enumerate() {
                let t = vmulq_n_f32(ld_f32(arr(xs, 4 * k)), iscale);
                let bits = vreinterpretq_s32_f32(vaddq_f32(t, magic));
                *q = vminq_s32(vsubq_s32(vandq_s32(bits, mantissa), bias), q_max);
            }
            let lo = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
            let hi = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
            let q8 = vcombine_s8(vmovn_s16(lo), vmovn_s16(hi));
            st_i8(arr_mut(&mut y.qs, 16 * g), q8);
            y.bsums[g] = vaddlvq_s8(q8);
        }
        y.d = 1.0 / iscale;
    }
}

/// Safe wrapper, stored only in the `NEON` and `DOTPROD` tables.
pub(crate) fn quantize_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    assert!(
        out.len().checked_mul(QK_K) == Some(x.len()),
        "q8_K quantize: {} input values do not fill the {} output blocks of {QK_K}",
        x.len(),
        out.len()
    );
    // SAFETY: NEON is part of the aarch64 baseline, and this wrapper is reachable only through
    // tables that `Kernels::for_tier` hands out after checking the CPU (NEON, or NEON + dotprod).
    unsafe { q8_k_kernel(x, out) }
}
