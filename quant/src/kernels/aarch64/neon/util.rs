//! Helpers shared by the NEON and dotprod kernels: bounds-checked loads and stores from fixed-size
//! arrays (so the kernels index blocks through safe code), f16 conversions, exact integer dot
//! products, and the unpacking of the K-quant sub-block scales.
//!
//! All helpers are `#[target_feature(enable = "neon")]` (NEON is the aarch64 baseline, but Rust
//! only lets a function call the NEON intrinsics safely when it names the feature itself); they are
//! `#[inline]` and LLVM inlines them into the kernels, which enable the same or more features.

use core::arch::aarch64::*;
use core::arch::asm;

use half::f16;

/// `&s[at..at + N]` as an array reference (panics if out of bounds; every caller indexes blocks
/// with constant offsets the compiler proves in bounds).
#[inline(always)]
pub(crate) fn arr<T, const N: usize>(s: &[T], at: usize) -> &[T; N] {
    match s.get(at..at + N) {
        Some(c) => c.try_into().expect("slice of length N"),
        None => panic!("kernel load out of bounds"),
    }
}

/// Mutable version of [`arr`].
#[inline(always)]
pub(crate) fn arr_mut<T, const N: usize>(s: &mut [T], at: usize) -> &mut [T; N] {
    match s.get_mut(at..at + N) {
        Some(c) => c.try_into().expect("slice of length N"),
        None => panic!("kernel store out of bounds"),
    }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ld_u8(a: &[u8; 16]) -> uint8x16_t {
    // SAFETY: `a` is 16 readable bytes; `ld1` has no alignment requirement.
    unsafe { vld1q_u8(a.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ld_u8x8(a: &[u8; 8]) -> uint8x8_t {
    // SAFETY: `a` is 8 readable bytes; `ld1` has no alignment requirement.
    unsafe { vld1_u8(a.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ld_i8(a: &[i8; 16]) -> int8x16_t {
    // SAFETY: `a` is 16 readable bytes; `ld1` has no alignment requirement.
    unsafe { vld1q_s8(a.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ld_i16(a: &[i16; 8]) -> int16x8_t {
    // SAFETY: `a` is 8 readable i16; `ld1` needs no more than byte alignment.
    unsafe { vld1q_s16(a.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ld_u16(a: &[u16; 8]) -> uint16x8_t {
    // SAFETY: `a` is 8 readable u16; `ld1` needs no more than byte alignment.
    unsafe { vld1q_u16(a.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn ld_f32(a: &[f32; 4]) -> float32x4_t {
    // SAFETY: `a` is 4 readable f32; `ld1` needs no more than byte alignment.
    unsafe { vld1q_f32(a.as_ptr()) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn st_i8(a: &mut [i8; 16], v: int8x16_t) {
    // SAFETY: `a` is 16 writable bytes, exclusively borrowed; `st1` has no alignment requirement.
    unsafe { vst1q_s8(a.as_mut_ptr(), v) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn st_u16(a: &mut [u16; 8], v: uint16x8_t) {
    // SAFETY: `a` is 8 writable u16, exclusively borrowed; `st1` needs no more than byte alignment.
    unsafe { vst1q_u16(a.as_mut_ptr(), v) }
}

/// Four f16 (as bits) to f32 with `fcvtl` (exact, like the spec's `f16_to_f32`; NaNs are quieted
/// and keep their payload, as the spec's). `vcvt_f32_f16` needs the unstable `f16` type, hence asm.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn f16x4_to_f32(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: `fcvtl` only reads and writes the named vector registers (FP/SIMD is baseline).
    unsafe {
        asm!("fcvtl {o:v}.4s, {i:v}.4h", o = lateout(vreg) out, i = in(vreg) h,
             options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// The upper four f16 of `h` to f32 with `fcvtl2` (see [`f16x4_to_f32`]).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn f16x8_high_to_f32(h: uint16x8_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: `fcvtl2` only reads and writes the named vector registers (FP/SIMD is baseline).
    unsafe {
        asm!("fcvtl2 {o:v}.4s, {i:v}.8h", o = lateout(vreg) out, i = in(vreg) h,
             options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// Four f32 to f16 bits with `fcvtn`: round to nearest, ties to even, subnormals kept, overflow
/// to infinity (the default FPCR, which Linux gives every process). NaNs keep their upper payload
/// here; the callers replace them with the spec's canonical NaN.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn f32x4_to_f16(f: float32x4_t) -> uint16x4_t {
    let out: uint16x4_t;
    // SAFETY: `fcvtn` only reads and writes the named vector registers (FP/SIMD is baseline).
    unsafe {
        asm!("fcvtn {o:v}.4h, {i:v}.4s", o = lateout(vreg) out, i = in(vreg) f,
             options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// One f16 to f32 with the scalar `fcvt` (exact, same value as the spec's `f16_to_f32`).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn fp16(h: f16) -> f32 {
    let out: f32;
    // SAFETY: `fcvt` only reads and writes the named FP registers (FP is baseline).
    unsafe {
        asm!("fcvt {o:s}, {i:h}", o = lateout(vreg) out, i = in(vreg) h.to_bits() as i16,
             options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// The products of 16 elements folded onto 8 i16 lanes: lane `k` is `a[k]*b[k] + a[k+8]*b[k+8]`.
/// For a chunk starting at a multiple of 8, lane `k` collects exactly the elements of the spec's
/// integer lane `k` (`i % 8`). Exact while `2 * max|a*b| <= 32767` (callers state their bound).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn prod16(a: int8x16_t, b: int8x16_t) -> int16x8_t {
    vmlal_high_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), a, b)
}

/// The spec's 8 integer lanes of a K-quant block as two i32x4 (lanes 0..4 and 4..8).
#[derive(Clone, Copy)]
pub(crate) struct Lanes8 {
    pub lo: int32x4_t,
    pub hi: int32x4_t,
}

impl Lanes8 {
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn zero() -> Lanes8 {
        Lanes8 { lo: vdupq_n_s32(0), hi: vdupq_n_s32(0) }
    }

    /// `self[k] += sc * p[k]` (exact: `|sc * p| < 2^31`).
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn add_scaled(&mut self, p: int16x8_t, sc: i16) {
        self.lo = vmlal_n_s16(self.lo, vget_low_s16(p), sc);
        self.hi = vmlal_high_n_s16(self.hi, p, sc);
    }
}

/// The spec's 8 f32 lane accumulators of the K-quant dot products (`sums[8]`).
#[derive(Clone, Copy)]
pub(crate) struct Sums8 {
    lo: float32x4_t,
    hi: float32x4_t,
}

impl Sums8 {
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn zero() -> Sums8 {
        Sums8 { lo: vdupq_n_f32(0.0), hi: vdupq_n_f32(0.0) }
    }

    /// `sums[k] += d * (lanes[k] as f32)`: one rounding for the conversion (to nearest even, as
    /// `as f32`), one for the product, one for the sum, lane by lane, as the spec.
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn add(&mut self, d: f32, lanes: Lanes8) {
        let dv = vdupq_n_f32(d);
        self.lo = vaddq_f32(self.lo, vmulq_f32(dv, vcvtq_f32_s32(lanes.lo)));
        self.hi = vaddq_f32(self.hi, vmulq_f32(dv, vcvtq_f32_s32(lanes.hi)));
    }

    /// `sumf += sums[0]; ...; sumf += sums[7]`, in that order, as the spec ends.
    #[target_feature(enable = "neon")]
    #[inline]
    pub(crate) fn fold_into(self, mut sumf: f32) -> f32 {
        sumf += vgetq_lane_f32::<0>(self.lo);
        sumf += vgetq_lane_f32::<1>(self.lo);
        sumf += vgetq_lane_f32::<2>(self.lo);
        sumf += vgetq_lane_f32::<3>(self.lo);
        sumf += vgetq_lane_f32::<0>(self.hi);
        sumf += vgetq_lane_f32::<1>(self.hi);
        sumf += vgetq_lane_f32::<2>(self.hi);
        sumf += vgetq_lane_f32::<3>(self.hi);
        sumf
    }
}

/// The 5th bits of a `q5_0`/`q5_1` block as byte masks: byte `j` of the first vector is `0x10` if
/// bit `j` of `qh` is set (elements 0..16), the second vector covers bits 16..32.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn q5_high_bits(qh: [u8; 4]) -> (uint8x16_t, uint8x16_t) {
    const IDX_LO: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
    const IDX_HI: [u8; 16] = [2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3];
    const BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let v = vreinterpretq_u8_u32(vdupq_n_u32(u32::from_le_bytes(qh)));
    let bits = ld_u8(&BITS);
    let m16 = vdupq_n_u8(0x10);
    let lo = vandq_u8(vtstq_u8(vqtbl1q_u8(v, ld_u8(&IDX_LO)), bits), m16);
    let hi = vandq_u8(vtstq_u8(vqtbl1q_u8(v, ld_u8(&IDX_HI)), bits), m16);
    (lo, hi)
}

/// The low and high nibbles of 16 bytes, as i8 (0..=15).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn nibbles(q: uint8x16_t) -> (uint8x16_t, uint8x16_t) {
    (vandq_u8(q, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(q))
}

/// The 8 6-bit scales and 8 6-bit mins of a `q4_K`/`q5_K` block (the spec's `get_scale_min_k4`
/// for `j` in 0..8), unpacked with 32-bit masks.
#[inline]
pub(crate) fn scales_mins_k4(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    const KMASK1: u32 = 0x3f3f_3f3f;
    const KMASK2: u32 = 0x0f0f_0f0f;
    const KMASK3: u32 = 0x0303_0303;
    let u0 = u32::from_le_bytes([q[0], q[1], q[2], q[3]]);
    let u1 = u32::from_le_bytes([q[4], q[5], q[6], q[7]]);
    let u2 = u32::from_le_bytes([q[8], q[9], q[10], q[11]]);
    let sc_lo = u0 & KMASK1;
    let sc_hi = (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4);
    let mn_lo = u1 & KMASK1;
    let mn_hi = ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4);
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    sc[..4].copy_from_slice(&sc_lo.to_le_bytes());
    sc[4..].copy_from_slice(&sc_hi.to_le_bytes());
    mn[..4].copy_from_slice(&mn_lo.to_le_bytes());
    mn[4..].copy_from_slice(&mn_hi.to_le_bytes());
    (sc, mn)
}

/// The 16 signed 6-bit scales of a `q3_K` block (`raw - 32`, in -32..=31), unpacked with 32-bit
/// masks: scale `j` has its low nibble in `scales[j % 8]` (low nibble for `j < 8`, high for
/// `j >= 8`) and its high 2 bits at bits `2*(j/4)..` of `scales[8 + j%4]`.
#[inline]
pub(crate) fn scales_q3k(q: &[u8; 12]) -> [i8; 16] {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let a0 = u32::from_le_bytes([q[0], q[1], q[2], q[3]]);
    let a1 = u32::from_le_bytes([q[4], q[5], q[6], q[7]]);
    let t = u32::from_le_bytes([q[8], q[9], q[10], q[11]]);
    let words = [
        (a0 & KMASK2) | ((t & KMASK1) << 4),
        (a1 & KMASK2) | (((t >> 2) & KMASK1) << 4),
        ((a0 >> 4) & KMASK2) | (((t >> 4) & KMASK1) << 4),
        ((a1 >> 4) & KMASK2) | (((t >> 6) & KMASK1) << 4),
    ];
    let mut out = [0i8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(words) {
        for (o, b) in o.iter_mut().zip(w.to_le_bytes()) {
            *o = b as i8 - 32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's `get_scale_min_k4`, restated.
    fn get_scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
        if j < 4 {
            (q[j] & 63, q[j + 4] & 63)
        } else {
            ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
        }
    }

    #[test]
    fn scale_unpacking_matches_the_spec_layout() {
        let mut state = 0x1234_5678_u32;
        for _ in 0..2000 {
            let mut q = [0u8; 12];
            for b in &mut q {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (state >> 24) as u8;
            }
            let (sc, mn) = scales_mins_k4(&q);
            for j in 0..8 {
                assert_eq!((sc[j], mn[j]), get_scale_min_k4(j, &q), "q4_K scales {q:?} j {j}");
            }
            let s3 = scales_q3k(&q);
            for (j, &s) in s3.iter().enumerate() {
                let low = if j < 8 { q[j] & 0xF } else { q[j - 8] >> 4 };
                let high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
                assert_eq!(s, (low | (high << 4)) as i8 - 32, "q3_K scales {q:?} j {j}");
            }
        }
    }
}
