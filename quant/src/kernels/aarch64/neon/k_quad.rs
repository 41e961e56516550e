//! The `q4_K` / `q6_K` products of both aarch64 tiers, bit-exact with the spec (llama.cpp's x86-64
//! AVX2 arithmetic, see [`crate::formats::q4_k`] and [`crate::formats::q6_k`]): on a Raspberry Pi
//! emberlm computes what x86-64 llama.cpp computes, not what ARM llama.cpp does.
//!
//! The spec's integer lanes are sums over four consecutive values (`_mm256_madd_epi16` of
//! `_mm256_maddubs_epi16`), which is what `sdot` computes per `i32` lane and what [`dot4_neon`]
//! rebuilds from `smull` products on baseline NEON; all integer sums are exact. The float steps
//! are the spec's, lane by lane (`vfmaq_f32` is an IEEE fused multiply-add), and the final
//! horizontal sums use the spec's tree.
//!
//! The kernels are written once as macros, instantiated by `neon/{q4_k,q6_k}.rs` with
//! [`dot4_neon`] and by `dotprod/{q4_k,q6_k}.rs` with `sdot`.

use core::arch::aarch64::*;

/// `acc + quads`: lane `k` gains `Σ_{j<4} a[4k+j]*b[4k+j]` (exact; the products fit in i16
/// since one operand is a small non-negative quant, at most 63 * 128).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn dot4_neon(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    let hi = vpaddlq_s16(vmull_high_s8(a, b));
    vaddq_s32(acc, vpaddq_s32(lo, hi))
}

/// `((v4+v0)+(v6+v2)) + ((v5+v1)+(v7+v3))` of `lo = v0..4`, `hi = v4..8` (`hsum_float_8`).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn hsum8_f32(lo: float32x4_t, hi: float32x4_t) -> f32 {
    let s = vaddq_f32(hi, lo);
    (vgetq_lane_f32::<0>(s) + vgetq_lane_f32::<2>(s)) + (vgetq_lane_f32::<1>(s) + vgetq_lane_f32::<3>(s))
}

/// `fma(a, b, c)` with one rounding.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn fma1(a: f32, b: f32, c: f32) -> f32 {
    vget_lane_f32::<0>(vfma_f32(vdup_n_f32(c), vdup_n_f32(a), vdup_n_f32(b)))
}

/// `q4_K`: `vec_dot`, `dot_gemv`, `dot_gemm` (safe wrappers for the tier's table) built on
/// `$dot4` under `#[target_feature(enable = $feat)]`. The wrappers are sound only in the table of
/// a tier whose detection guarantees `$feat`.
macro_rules! q4k_kernels {
    ($feat:literal, $dot4:path) => {
        use core::arch::aarch64::*;

        use crate::formats::q4_k::BlockQ4K;
        use crate::formats::q8_k::BlockQ8K;
        use crate::kernels::aarch64::neon::k_quad::{fma1, hsum8_f32};
        use crate::kernels::aarch64::neon::util::{
            arr, fp16, ld_i8, ld_i16, ld_u8, ld_u8x8, nibbles, scales_mins_k4,
        };

        /// One block: per sub-block pair `p`, the spec's 8 lanes `sc[2p]*quads(2p) +
        /// sc[2p+1]*quads(2p+1)` (lanes 0..4, 4..8), and the 4 min lanes.
        #[target_feature(enable = $feat)]
        #[inline]
        fn block_ints(x: &BlockQ4K, y: &BlockQ8K) -> ([[int32x4_t; 2]; 4], int32x4_t) {
            let (sc, mn) = scales_mins_k4(&x.scales);
            let zero = vdupq_n_s32(0);
            let bs32 = vpaddq_s16(ld_i16(arr(&y.bsums, 0)), ld_i16(arr(&y.bsums, 8)));
            let mn16 = vreinterpretq_s16_u16(vmovl_u8(ld_u8x8(&mn)));
            let mins =
                vpaddq_s32(vmull_s16(vget_low_s16(mn16), vget_low_s16(bs32)), vmull_high_s16(mn16, bs32));
            let mut pairs = [[zero; 2]; 4];
            for (p, pair) in pairs.iter_mut().enumerate() {
                let (l0, h0) = nibbles(ld_u8(arr(&x.qs, 32 * p)));
                let (l1, h1) = nibbles(ld_u8(arr(&x.qs, 32 * p + 16)));
                let q = |v: uint8x16_t| vreinterpretq_s8_u8(v);
                let a = |o: usize| ld_i8(arr(&y.qs, 64 * p + o));
                let (s0, s1) = (i32::from(sc[2 * p]), i32::from(sc[2 * p + 1]));
                pair[0] =
                    vmlaq_n_s32(vmulq_n_s32($dot4(zero, q(l0), a(0)), s0), $dot4(zero, q(h0), a(32)), s1);
                pair[1] =
                    vmlaq_n_s32(vmulq_n_s32($dot4(zero, q(l1), a(16)), s0), $dot4(zero, q(h1), a(48)), s1);
            }
            (pairs, mins)
        }

        #[target_feature(enable = $feat)]
        fn dot_impl(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
            let mut acc = [vdupq_n_f32(0.0); 2];
            let mut acc_m = vdupq_n_f32(0.0);
            for (x, y) in w.iter().zip(a) {
                let d = y.d * fp16(x.d);
                let dmin = -y.d * fp16(x.dmin);
                let (pairs, mins) = block_ints(x, y);
                acc_m = vfmaq_n_f32(acc_m, vcvtq_f32_s32(mins), dmin);
                for h in 0..2 {
                    let s =
                        vaddq_s32(vaddq_s32(pairs[0][h], pairs[1][h]), vaddq_s32(pairs[2][h], pairs[3][h]));
                    acc[h] = vfmaq_n_f32(acc[h], vcvtq_f32_s32(s), d);
                }
            }
            let m = (vgetq_lane_f32::<0>(acc_m) + vgetq_lane_f32::<2>(acc_m))
                + (vgetq_lane_f32::<1>(acc_m) + vgetq_lane_f32::<3>(acc_m));
            hsum8_f32(acc[0], acc[1]) + m
        }

        #[target_feature(enable = $feat)]
        fn dot_gemv_impl(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
            let (mut acc, mut acc_m) = (0f32, 0f32);
            for (x, y) in w.iter().zip(a) {
                let (pairs, mins) = block_ints(x, y);
                let mut s = vdupq_n_s32(0);
                for pair in &pairs {
                    s = vaddq_s32(s, vaddq_s32(pair[0], pair[1]));
                }
                acc = fma1(vaddvq_s32(s) as f32, fp16(x.d) * y.d, acc);
                acc_m = fma1(vaddvq_s32(mins) as f32, fp16(x.dmin) * y.d, acc_m);
            }
            acc - acc_m
        }

        #[target_feature(enable = $feat)]
        fn dot_gemm_impl(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
            let (mut acc, mut acc_m) = (0f32, 0f32);
            for (x, y) in w.iter().zip(a) {
                let (pairs, mins) = block_ints(x, y);
                let d = fp16(x.d) * y.d;
                let dmin = fp16(x.dmin) * y.d;
                let im = [
                    vgetq_lane_s32::<0>(mins),
                    vgetq_lane_s32::<1>(mins),
                    vgetq_lane_s32::<2>(mins),
                    vgetq_lane_s32::<3>(mins),
                ];
                for (pair, &m) in pairs.iter().zip(&im) {
                    acc = fma1(vaddvq_s32(vaddq_s32(pair[0], pair[1])) as f32, d, acc);
                    acc_m = fma1(m as f32, dmin, acc_m);
                }
            }
            acc - acc_m
        }

        /// Safe wrapper (see the macro docs).
        pub(crate) fn vec_dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
            assert_eq!(w.len(), a.len(), "q4_K vec_dot: operand lengths");
            // SAFETY: only stored in the table of a tier whose detection guarantees `$feat`.
            unsafe { dot_impl(w, a) }
        }

        /// Safe wrapper (see the macro docs).
        pub(crate) fn dot_gemv(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
            assert_eq!(w.len(), a.len(), "q4_K gemv dot: operand lengths");
            // SAFETY: as in `vec_dot`.
            unsafe { dot_gemv_impl(w, a) }
        }

        /// Safe wrapper (see the macro docs).
        pub(crate) fn dot_gemm(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
            assert_eq!(w.len(), a.len(), "q4_K gemm dot: operand lengths");
            // SAFETY: as in `vec_dot`.
            unsafe { dot_gemm_impl(w, a) }
        }
    };
}

/// `q6_K`: `vec_dot` (safe wrapper) built on `$dot4` under `#[target_feature(enable = $feat)]`.
macro_rules! q6k_kernels {
    ($feat:literal, $dot4:path) => {
        use core::arch::aarch64::*;

        use crate::formats::q6_k::BlockQ6K;
        use crate::formats::q8_k::BlockQ8K;
        use crate::kernels::aarch64::neon::k_quad::hsum8_f32;
        use crate::kernels::aarch64::neon::util::{arr, fp16, ld_i8, ld_i16, ld_u8};

        /// The biased 6-bit quants (0..=63) of values `128h + 32s + 16k + l`, `l` in 0..16.
        #[target_feature(enable = $feat)]
        #[inline]
        fn quants(x: &BlockQ6K, h: usize, s: usize, k: usize) -> int8x16_t {
            let ql = ld_u8(arr(&x.ql, 64 * h + 32 * (s % 2) + 16 * k));
            let low = if s < 2 { vandq_u8(ql, vdupq_n_u8(0x0F)) } else { vshrq_n_u8::<4>(ql) };
            let qh = ld_u8(arr(&x.qh, 32 * h + 16 * k));
            let high = vandq_u8(vshlq_u8(qh, vdupq_n_s8(4 - 2 * s as i8)), vdupq_n_u8(0x30));
            vreinterpretq_s8_u8(vorrq_u8(low, high))
        }

        #[target_feature(enable = $feat)]
        fn dot_impl(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
            let zero = vdupq_n_s32(0);
            let mut acc = [vdupq_n_f32(0.0); 2];
            for (x, y) in w.iter().zip(a) {
                let mut sumi = [zero; 2];
                for c in 0..8 {
                    let (h, s) = (c / 4, c % 4);
                    for k in 0..2 {
                        let q = $dot4(zero, quants(x, h, s, k), ld_i8(arr(&y.qs, 32 * c + 16 * k)));
                        sumi[k] = vmlaq_n_s32(sumi[k], q, i32::from(x.scales[2 * c + k]));
                    }
                }
                // 32 * (bsums[2m]*sc[2m] + bsums[2m+1]*sc[2m+1]) in lane m
                let sc8 = ld_i8(arr(&x.scales, 0));
                let (sc, sc_hi) = (vmovl_s8(vget_low_s8(sc8)), vmovl_high_s8(sc8));
                for (k, (sc, off)) in [(sc, 0), (sc_hi, 8)].into_iter().enumerate() {
                    let b = ld_i16(arr(&y.bsums, off));
                    let p = vpaddq_s32(vmull_s16(vget_low_s16(b), vget_low_s16(sc)), vmull_high_s16(b, sc));
                    let lanes = vsubq_s32(sumi[k], vshlq_n_s32::<5>(p));
                    acc[k] = vfmaq_n_f32(acc[k], vcvtq_f32_s32(lanes), y.d * fp16(x.d));
                }
            }
            hsum8_f32(acc[0], acc[1])
        }

        /// Safe wrapper: only stored in the table of a tier whose detection guarantees `$feat`.
        pub(crate) fn vec_dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
            assert_eq!(w.len(), a.len(), "q6_K vec_dot: operand lengths");
            // SAFETY: only stored in the table of a tier whose detection guarantees `$feat`.
            unsafe { dot_impl(w, a) }
        }
    };
}

pub(crate) use {q4k_kernels, q6k_kernels};
