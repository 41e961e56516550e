//! Helpers shared by the AVX2 kernels: loads and stores from fixed-size arrays (the only raw
//! memory accesses of the tier, each bounds-checked by the array type or a slice index), the
//! horizontal sums, nibble and bit unpacking, the exact signed byte dot product and the scale
//! broadcasts of the K-quants.
//!
//! Every function is a safe `#[target_feature]` function: callable without `unsafe` only from
//! other AVX2 kernels, which themselves run only after the table's feature detection.

use core::arch::x86_64::*;

use half::{bf16, f16};

/// Loads `a[off..off + 32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_u8<const N: usize>(a: &[u8; N], off: usize) -> __m256i {
    let s = &a[off..off + 32];
    // SAFETY: `s` is 32 readable bytes (checked by the slice index); loadu needs no alignment.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// Loads `a[off..off + 32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_i8<const N: usize>(a: &[i8; N], off: usize) -> __m256i {
    let s = &a[off..off + 32];
    // SAFETY: `s` is 32 readable bytes (checked by the slice index); loadu needs no alignment.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// Loads `a[off..off + 16]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load128_u8<const N: usize>(a: &[u8; N], off: usize) -> __m128i {
    let s = &a[off..off + 16];
    // SAFETY: `s` is 16 readable bytes (checked by the slice index); loadu needs no alignment.
    unsafe { _mm_loadu_si128(s.as_ptr().cast()) }
}

/// Loads the 16 `i16` of `a`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_i16x16(a: &[i16; 16]) -> __m256i {
    // SAFETY: `a` is 32 readable bytes; loadu needs no alignment.
    unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
}

/// Stores `v` to `a[off..off + 32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn store_i8<const N: usize>(a: &mut [i8; N], off: usize, v: __m256i) {
    let s = &mut a[off..off + 32];
    // SAFETY: `s` is 32 writable bytes (checked by the slice index); storeu needs no alignment.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
}

/// Stores `v` to `s[..32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn store_si256(s: &mut [u8], v: __m256i) {
    let s = &mut s[..32];
    // SAFETY: `s` is 32 writable bytes (checked by the slice index); storeu needs no alignment.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
}

/// Loads `s[..8]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_ps(s: &[f32]) -> __m256 {
    let s = &s[..8];
    // SAFETY: `s` is 8 readable f32 (checked by the slice index); loadu needs no alignment.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// Loads `s[..8]` and widens it to f32 (exact; F16C).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_f16x8(s: &[f16]) -> __m256 {
    let s = &s[..8];
    // SAFETY: `s` is 16 readable bytes (checked by the slice index); loadu needs no alignment.
    let h = unsafe { _mm_loadu_si128(s.as_ptr().cast()) };
    _mm256_cvtph_ps(h)
}

/// Loads `s[..8]` and widens it to f32 (exact: a 16-bit shift).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_bf16x8(s: &[bf16]) -> __m256 {
    let s = &s[..8];
    // SAFETY: `s` is 16 readable bytes (checked by the slice index); loadu needs no alignment.
    let h = unsafe { _mm_loadu_si128(s.as_ptr().cast()) };
    _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
}

/// Stores the 8 `u16` of `v` as `s[..8]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn store_f16x8(s: &mut [f16], v: __m128i) {
    let s = &mut s[..8];
    // SAFETY: `s` is 16 writable bytes (checked by the slice index); storeu needs no alignment.
    unsafe { _mm_storeu_si128(s.as_mut_ptr().cast(), v) }
}

/// f16 -> f32 with F16C: exact, the same value as ggml's `GGML_FP16_TO_FP32`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn f16_to_f32(h: f16) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h.to_bits()))))
}

/// `h` widened to f32 (exact) in all 8 lanes.
///
/// Prefer this to broadcasting [`f16_to_f32`] in loops: when only lane 0 of a conversion is used,
/// LLVM loads the half with `vpinsrw` into an arbitrary register (an accumulator, in the dot
/// loops), chaining each block's scale conversion behind the previous block's FMA.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn f16_splat(h: f16) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi16(h.to_bits() as i16))
}

/// Sum of the 8 lanes: `((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// [`hsum_ps`] of 8 vectors at once, the same bits: `out[i] = hsum_ps(v[i])` (each sum is
/// `((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7))`, the pairs added lane-wise across the
/// vectors): 21 instructions instead of 8 x 6.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn hsum_ps8(v: &[__m256; 8]) -> [f32; 8] {
    // [a.lo + a.hi | b.lo + b.hi] for the pairs (0, 1), (2, 3), (4, 5), (6, 7)
    let halves = |a: __m256, b: __m256| {
        _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(a, b), _mm256_permute2f128_ps::<0x31>(a, b))
    };
    let (ab, cd, ef, gh) = (halves(v[0], v[1]), halves(v[2], v[3]), halves(v[4], v[5]), halves(v[6], v[7]));
    // per 128-bit lane [x0 + x2, x1 + x3] of two of them side by side
    let pairs = |x: __m256, y: __m256| {
        let (x, y) = (_mm256_castps_pd(x), _mm256_castps_pd(y));
        _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(x, y)), _mm256_castpd_ps(_mm256_unpackhi_pd(x, y)))
    };
    let (x, y) = (pairs(ab, cd), pairs(ef, gh));
    // [a, c, e, g | b, d, f, h]
    let sums =
        _mm256_add_ps(_mm256_shuffle_ps::<0b10_00_10_00>(x, y), _mm256_shuffle_ps::<0b11_01_11_01>(x, y));
    let sums = _mm256_permutevar8x32_ps(sums, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    let mut out = [0f32; 8];
    store_ps(&mut out, sums);
    out
}

/// [`hsum_ps8`] of two groups of 8 vectors: `[hsum(v[0]), .., hsum(v[15])]`, the same bits.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn hsum_ps16(v: &[__m256; 16]) -> [f32; 16] {
    let (lo, hi) = (
        hsum_ps8(&[v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]),
        hsum_ps8(&[v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]]),
    );
    let mut out = [0f32; 16];
    out[..8].copy_from_slice(&lo);
    out[8..].copy_from_slice(&hi);
    out
}

/// Sum of the 8 `i32` lanes (wrapping; the callers' sums are far below `i32::MAX`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// The 32 nibbles of a legacy block's `qs[16]` as bytes 0..=15, in element order: byte `j` is
/// the low nibble of `qs[j]` (element `j`), byte `16 + j` its high nibble (element `16 + j`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn nibbles_32(qs: &[u8; 16]) -> __m256i {
    let b = _mm256_broadcastsi128_si256(load128_u8(qs, 0));
    // the high 128 bits shifted right by 4: one variable shift instead of a shift and an insert
    let both = _mm256_srlv_epi64(b, _mm256_set_epi64x(4, 4, 0, 0));
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// Spreads the 32 bits of `qh` (little-endian) to 32 bytes: byte `i` is `0xFF` iff bit `i` is set.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn bytes_from_bits_32(qh: [u8; 4]) -> __m256i {
    let bits = _mm256_set1_epi32(i32::from_le_bytes(qh));
    // byte i <- byte i/8 of qh
    let spread = _mm256_shuffle_epi8(
        bits,
        _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0),
    );
    // byte i keeps only bit i%8: all other bits forced to 1, then compare with all-ones
    let other = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
    _mm256_cmpeq_epi8(_mm256_or_si256(spread, other), _mm256_set1_epi8(-1))
}

/// `0xFF` in the bytes of `v` that have bit `bit` (0..8) set, `0` elsewhere.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn bit_set(v: __m256i, bit: u32) -> __m256i {
    let m = _mm256_set1_epi8((1u8 << bit) as i8);
    _mm256_cmpeq_epi8(_mm256_and_si256(v, m), m)
}

/// Pairwise sums `x[2k]*y[2k] + x[2k+1]*y[2k+1]` as 16 `i16`, **exact** for any `y` (the full
/// `i8` range, -128 included) provided every `x[i]` is in -127..=127: then each pair sum is at
/// most `2 * 127 * 128 = 32512` in magnitude and fits `i16` without saturating.
///
/// `_mm256_maddubs_epi16` multiplies unsigned by signed bytes, so the unsigned operand is `|y|`
/// (`abs(-128)` is `0x80`, read as 128) and the signed one is `x` with `y`'s sign applied, which
/// cannot wrap since `x != -128`. (llama.cpp does the opposite, `|x|` times `y` signed by `x`, which
/// wraps for `y = -128`.)
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn mul_i8_small(x: __m256i, y: __m256i) -> __m256i {
    _mm256_maddubs_epi16(_mm256_abs_epi8(y), _mm256_sign_epi8(x, y))
}

/// `pshufb` control that broadcasts `i16` lane `lo` of each 128-bit half to the whole low half and
/// `i16` lane `hi` to the whole high half (the half being read is the same in both halves when the
/// source is a duplicated 128-bit vector).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn i16_bcast_ctrl(lo: i8, hi: i8) -> __m256i {
    let l = i16::from_le_bytes([(2 * lo) as u8, (2 * lo + 1) as u8]);
    let h = i16::from_le_bytes([(2 * hi) as u8, (2 * hi + 1) as u8]);
    _mm256_set_m128i(_mm_set1_epi16(h), _mm_set1_epi16(l))
}

/// Narrows 32 `i32` (in `a`, `b`, `c`, `d`, element order) to their low bytes (C's `(int8_t)`
/// conversion, wrapping), in element order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn low_bytes_32(a: __m256i, b: __m256i, c: __m256i, d: __m256i) -> __m256i {
    let m = _mm256_set1_epi32(0xFF);
    let ab = _mm256_packus_epi32(_mm256_and_si256(a, m), _mm256_and_si256(b, m));
    let cd = _mm256_packus_epi32(_mm256_and_si256(c, m), _mm256_and_si256(d, m));
    // 32-bit groups now: a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
    let abcd = _mm256_packus_epi16(ab, cd);
    _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// The sums of the 32 signed bytes of `v` in its two groups of 16 (a `q8_K` block's `bsums` pair,
/// exact).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn sum_i8_groups16(v: __m256i) -> [i16; 2] {
    // q + 128 as unsigned bytes, summed 8 at a time by psadbw, then the bias removed
    let biased = _mm256_xor_si256(v, _mm256_set1_epi8(-128));
    let sums = _mm256_sub_epi64(_mm256_sad_epu8(biased, _mm256_setzero_si256()), _mm256_set1_epi64x(8 * 128));
    let mut s = [0i64; 4];
    // SAFETY: `s` is 32 writable bytes; storeu needs no alignment.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), sums) };
    [(s[0] + s[1]) as i16, (s[2] + s[3]) as i16]
}

/// The 8 6-bit scales and the 8 6-bit mins of a `q4_K`/`q5_K` super-block, unpacked from their 12
/// bytes as the spec's `get_scale_min_k4` does, four at a time in `u32` words.
#[inline]
pub(super) fn scales_mins_k4(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    const LOW6: u32 = 0x3f3f_3f3f;
    const LOW4: u32 = 0x0f0f_0f0f;
    const LOW2: u32 = 0x0303_0303;
    let u0 = u32::from_le_bytes([q[0], q[1], q[2], q[3]]);
    let u1 = u32::from_le_bytes([q[4], q[5], q[6], q[7]]);
    let u2 = u32::from_le_bytes([q[8], q[9], q[10], q[11]]);
    // sub-blocks 0..4: low 6 bits of q[j] / q[j+4]; 4..8: nibbles of q[j+4], top bits of q[j-4] / q[j]
    let sc = [u0 & LOW6, (u2 & LOW4) | (((u0 >> 6) & LOW2) << 4)];
    let mn = [u1 & LOW6, ((u2 >> 4) & LOW4) | (((u1 >> 6) & LOW2) << 4)];
    let bytes = |w: [u32; 2]| {
        let (a, b) = (w[0].to_le_bytes(), w[1].to_le_bytes());
        [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
    };
    (bytes(sc), bytes(mn))
}

/// Asks for the cache line holding `x` (a hint: no effect on results; `x` is never dereferenced,
/// and a prefetch of an address outside the operands cannot fault).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn prefetch(x: *const u8) {
    _mm_prefetch::<_MM_HINT_T0>(x.cast())
}

/// Asks for share `i` of `parts` equal shares of the cache lines of `next` (the weights a kernel
/// reads after the current ones, spread over `parts` steps of its current pass; the last shares
/// may be short or empty). A hint, as [`prefetch`]; nothing for an empty `next`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn prefetch_share(next: &[u8], parts: usize, i: usize) {
    let lines = next.len().div_ceil(64);
    let per = lines.div_ceil(parts.max(1));
    for l in (i * per..(i + 1) * per).take_while(|&l| l < lines) {
        prefetch(next.as_ptr().wrapping_add(l * 64));
    }
}

/// llama.cpp's `mul_sum_i8_pairs_float(x, y)`: the sign trick `maddubs(|x|, sign(y, x))`, pairs
/// summed by `madd` with ones, as f32. Lane `j` is the sum of products `4j..4j+4`; equal to
/// `Σ x*y` except that a product with `y = -128` and `x < 0` comes out negated (`sign` maps -128
/// to -128), which is what llama.cpp computes (and the spec, `formats/legacy_lanes.rs`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn mul_sum_i8_pairs_float(x: __m256i, y: __m256i) -> __m256 {
    mul_sum_us8_pairs_float(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x))
}

/// llama.cpp's `mul_sum_us8_pairs_float(u, s)`: `madd(maddubs(u, s), 1)` as f32, `u` unsigned.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn mul_sum_us8_pairs_float(u: __m256i, s: __m256i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
}

/// Stores the 8 lanes of `v` to `s[..8]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn store_ps(s: &mut [f32], v: __m256) {
    let s = &mut s[..8];
    // SAFETY: `s` is 8 writable f32 (checked by the slice index); storeu needs no alignment.
    unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) }
}

/// Lane `r` of the result is the (exact, wrapping) sum of the 8 `i32` lanes of `p[r]`: the
/// per-block integer sums of 8 weight rows side by side.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum8_epi32(p: &[__m256i; 8]) -> __m256i {
    let h01 = _mm256_hadd_epi32(p[0], p[1]);
    let h23 = _mm256_hadd_epi32(p[2], p[3]);
    let h45 = _mm256_hadd_epi32(p[4], p[5]);
    let h67 = _mm256_hadd_epi32(p[6], p[7]);
    // each 128-bit half: the sums of that half of rows 0..4 / 4..8
    let h0123 = _mm256_hadd_epi32(h01, h23);
    let h4567 = _mm256_hadd_epi32(h45, h67);
    let lo = _mm256_permute2x128_si256::<0x20>(h0123, h4567);
    let hi = _mm256_permute2x128_si256::<0x31>(h0123, h4567);
    _mm256_add_epi32(lo, hi)
}
