//! The arithmetic of llama.cpp's x86-64 AVX2 legacy-format kernels, written as scalar code: the
//! shared pieces of the `Q4_0 Q4_1 Q5_0 Q5_1 Q8_0` dot products and of the `Q8_0`/`Q8_1`
//! activation quantizers (llama.cpp `ggml-cpu/arch/x86/quants.c`, as built with AVX2 + FMA +
//! F16C and without AVX-512/AVX-VNNI, the build this project compares against).
//!
//! A legacy dot product there keeps **one 8-lane f32 accumulator** for the whole row: per block
//! of 32 values, lane `j` receives the exact integer sum of the block's products `4j..4j+4`
//! (`_mm256_maddubs_epi16` then `_mm256_madd_epi16` with ones, converted to f32), multiplied by the
//! block's scale with a fused multiply-add (`_mm256_fmadd_ps`); after the last block the 8 lanes
//! are summed once by `hsum_float_8`. llamafile's `tinyBLAS_Q0_AVX` (llama.cpp's multi-token
//! product for `Q4_0 Q5_0 Q8_0`) computes every output with exactly the same operations (same
//! lane assignment, same `fmadd`, same horizontal sum), so one spec covers both paths.
//!
//! Every SIMD tier reproduces these functions bit for bit.

/// The 8 f32 lanes of an AVX2 accumulator.
pub(crate) type Lanes = [f32; 8];

/// `_mm256_madd_epi16(1, _mm256_maddubs_epi16(u, s))`: lane `j` is
/// `Σ_{i in 4j..4j+4} u[i] * s[i]`, `u` unsigned and `s` signed bytes. `maddubs` saturates each
/// pair sum to i16; the pairs `u*s` of its callers never reach that (|u| ≤ 128), but it is kept.
#[inline]
pub(crate) fn mul_sum_us8(u: &[u8; 32], s: &[i8; 32]) -> [i32; 8] {
    let mut out = [0i32; 8];
    for (j, o) in out.iter_mut().enumerate() {
        let p = |i: usize| i32::from(u[i]) * i32::from(s[i]);
        let pair = |i: usize| (p(i) + p(i + 1)).clamp(i32::from(i16::MIN), i32::from(i16::MAX));
        *o = pair(4 * j) + pair(4 * j + 2);
    }
    out
}

/// llama.cpp's `mul_sum_i8_pairs_float` before the conversion: the sign trick
/// `maddubs(|x|, sign(y, x))` on signed bytes. Equal to `Σ x[i]*y[i]` per lane of 4, except where
/// `y[i] == -128` and `x[i] < 0`: `_mm256_sign_epi8` negates -128 to -128, so that product is
/// `-(x[i]*y[i])`.
#[inline]
pub(crate) fn mul_sum_i8(x: &[i8; 32], y: &[i8; 32]) -> [i32; 8] {
    let mut ax = [0u8; 32];
    let mut sy = [0i8; 32];
    for i in 0..32 {
        ax[i] = x[i].unsigned_abs();
        sy[i] = match x[i] {
            0 => 0,
            v if v < 0 => y[i].wrapping_neg(),
            _ => y[i],
        };
    }
    mul_sum_us8(&ax, &sy)
}

/// `acc = _mm256_fmadd_ps(splat(d), cvtepi32_ps(q), acc)`: per lane `fma(d, q[j], acc[j])`, one
/// rounding.
#[inline]
pub(crate) fn fma_lanes(acc: &mut Lanes, d: f32, q: [i32; 8]) {
    for (a, &q) in acc.iter_mut().zip(&q) {
        *a = libm::fmaf(d, q as f32, *a);
    }
}

/// `hsum_float_8`: `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`.
#[inline]
pub(crate) fn hsum8(v: &Lanes) -> f32 {
    let s = [v[0] + v[4], v[1] + v[5], v[2] + v[6], v[3] + v[7]];
    (s[0] + s[2]) + (s[1] + s[3])
}

/// `_mm256_max_ps(a, b)` per lane: `a > b ? a : b` (the second operand when unordered).
#[inline]
fn max_ps(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// The block maximum of `|x|` as the AVX2 quantizers reduce it: `|x|` by clearing the sign bit,
/// 4 vectors of 8 folded with `_mm256_max_ps` in order, then the 8 lanes by `max(hi, lo)`,
/// `max(·, movehl)`, `max_ss(·, movehdup)`. For finite input this is `max |x|`; the order only
/// decides which NaN wins.
pub(crate) fn block_amax(x: &[f32; 32]) -> f32 {
    let abs = |v: f32| f32::from_bits(v.to_bits() & 0x7FFF_FFFF);
    let mut m = [0f32; 8];
    for (j, m) in m.iter_mut().enumerate() {
        *m = abs(x[j]);
        for k in 1..4 {
            *m = max_ps(*m, abs(x[8 * k + j]));
        }
    }
    let m4 = [max_ps(m[4], m[0]), max_ps(m[5], m[1]), max_ps(m[6], m[2]), max_ps(m[7], m[3])];
    let m2 = [max_ps(m4[0], m4[2]), max_ps(m4[1], m4[3])];
    max_ps(m2[0], m2[1])
}

/// The AVX2 quantizers' per-block core: `amax` ([`block_amax`]), `d = amax / 127`,
/// `id = 127 / amax` (0 if `amax == 0`), then per value `_mm256_cvtps_epi32(_mm256_round_ps(x *
/// id, nearest-even))` (NaN and out-of-range give `i32::MIN`). Returns `d` and the 32 `i32`s
/// before the saturating packs.
pub(crate) fn quantize_block_i32(x: &[f32; 32]) -> (f32, [i32; 32]) {
    let amax = block_amax(x);
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let mut q = [0i32; 32];
    for (q, &v) in q.iter_mut().zip(x) {
        let r = libm::rintf(v * id);
        *q = if (-2_147_483_648.0..2_147_483_648.0).contains(&r) { r as i32 } else { i32::MIN };
    }
    (d, q)
}

/// `a * b` as x86 computes it: a product of two non-NaN operands that is NaN (`∞ · 0`) is the
/// x86 "real indefinite" NaN `0xFFC0_0000` (sign set), where aarch64 produces `0x7FC0_0000`; a NaN
/// operand propagates (quieted) on both. Only the sign of such a NaN differs, and it reaches the
/// bytes where a NaN is rounded to f16 (`Q8_1`'s `s`: `f16(NaN) = sign | 0x7E00`).
#[inline]
pub(crate) fn mul_x86(a: f32, b: f32) -> f32 {
    let p = a * b;
    if p.is_nan() && !a.is_nan() && !b.is_nan() { f32::from_bits(0xFFC0_0000) } else { p }
}

/// `_mm256_packs_epi32` then `_mm256_packs_epi16`: an `i32` saturated to `i8`.
#[inline]
pub(crate) fn pack_i8(q: i32) -> i8 {
    q.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}
