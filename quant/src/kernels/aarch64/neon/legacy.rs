//! The block loop of the legacy formats' dot products on NEON (shared with the dotprod tier),
//! reproducing the spec (`formats/legacy_lanes.rs`, llama.cpp's x86-64 AVX2 arithmetic) bit for
//! bit: the 8 f32 lanes of the x86 accumulator are two `float32x4_t` (lanes 0..4 for elements
//! 0..16 of a block, 4..8 for 16..32); per block each lane gets the exact integer sum of its 4
//! products (`sum4`: `sdot`, or widening multiplies and pairwise adds), converted exactly to f32
//! and accumulated with `vfmaq` (a true fused multiply-add, like `_mm256_fmadd_ps`); the end is
//! `hsum_float_8`'s tree `((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))`; `Q4_1`/`Q5_1` add their scalar
//! `summs = fma(m_w, s_a, summs)` (`fmla` on one lane).
//!
//! The x86 sign trick (`Q4_0 Q5_0 Q8_0`, `maddubs(|x|, sign(y, x))`) differs from the exact
//! product only where an activation byte is -128 (and the weight negative): such a byte cannot
//! come from the activation quantizer on finite input (its values are within ±127), so the
//! kernel forms exact products, tracks the row's smallest activation byte, and hands the rare row
//! that holds a -128 to the scalar spec.

use core::arch::aarch64::*;

/// `[Σ_{i<4} a[i]*b[i], Σ_{4≤i<8}, Σ_{8≤i<12}, Σ_{12≤i<16}]`, exact for all i8 (baseline NEON:
/// i16 products, widened pairwise, then pairwise again).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn sum4(a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    let hi = vpaddlq_s16(vmull_high_s8(a, b));
    vpaddq_s32(lo, hi)
}

/// The spec's dot product of weight blocks `w` with activation blocks `a` (equal lengths):
/// - `expand(x)`: the 32 weights as two i8 vectors (elements 0..16, 16..32);
/// - `load(y)`: the 32 activations likewise;
/// - `sum4`: the lane sums of 4 products ([`sum4`] or `sdot`);
/// - `scale(x, y)`: `(d_w * d_a, m_w, s_a)` (the last two used only if `min`);
/// - `sign_trick`: whether the format uses the x86 sign trick: if so and an activation byte is
///   -128, `None` (the caller then uses the scalar spec).
#[target_feature(enable = "neon")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn dot<X, Y>(
    w: &[X],
    a: &[Y],
    expand: impl Fn(&X) -> (int8x16_t, int8x16_t),
    load: impl Fn(&Y) -> (int8x16_t, int8x16_t),
    sum4: impl Fn(int8x16_t, int8x16_t) -> int32x4_t,
    scale: impl Fn(&X, &Y) -> (f32, f32, f32),
    min: bool,
    sign_trick: bool,
) -> Option<f32> {
    let mut lo = vdupq_n_f32(0.0);
    let mut hi = vdupq_n_f32(0.0);
    let mut summs = vdup_n_f32(0.0);
    let mut ymin = vdupq_n_s8(0);
    for (x, y) in w.iter().zip(a) {
        let (x0, x1) = expand(x);
        let (y0, y1) = load(y);
        if sign_trick {
            ymin = vminq_s8(ymin, vminq_s8(y0, y1));
        }
        let (d, m, s) = scale(x, y);
        lo = vfmaq_n_f32(lo, vcvtq_f32_s32(sum4(x0, y0)), d);
        hi = vfmaq_n_f32(hi, vcvtq_f32_s32(sum4(x1, y1)), d);
        if min {
            summs = vfma_n_f32(summs, vdup_n_f32(m), s);
        }
    }
    if sign_trick && vminvq_s8(ymin) == i8::MIN {
        return None;
    }
    let s = vaddq_f32(lo, hi);
    let t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
    let r = vpadds_f32(t);
    Some(if min { r + vget_lane_f32::<0>(summs) } else { r })
}
