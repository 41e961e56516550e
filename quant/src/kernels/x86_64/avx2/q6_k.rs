//! `q6_K x q8_K` dot product: llama.cpp's x86-64 AVX2 `ggml_vec_dot_q6_K_q8_K`, bit-exact with
//! the spec ([`crate::formats::q6_k`]).
//!
//! As llama.cpp: the biased 6-bit quants (0..=63, the unsigned operand of `_mm256_maddubs_epi16`;
//! pair sums at most `2 * 63 * 128`, never saturating) times the activations (any `i8`), the signed
//! sub-block scales applied by `_mm256_madd_epi16` (lane `m` holds values `32c + 4m..4m+4`), and the
//! bias removed per lane as `32 * (bsums[2m]*sc[2m] + bsums[2m+1]*sc[2m+1])`; the 8 lanes are
//! fused into an `f32x8` accumulator with `d_a * d_w` and summed by `hsum_float_8` at the end,
//! exactly the spec's float operations.

use core::arch::x86_64::*;

use super::util::{
    f16_to_f32, hsum_epi32, hsum_ps, i16_bcast_ctrl, load_i8, load_i16x16, load_u8, load128_u8,
};
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;

/// Safe entry point of the kernel; only reachable through [`super::AVX2`].
pub(crate) fn dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "q6_K avx2 dot: operand lengths");
    // SAFETY: this wrapper is crate-private and only reachable through the AVX2 table, which
    // `Kernels::for_tier` returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_avx2(w, a) }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. `w.len() == a.len()`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let d = _mm256_set1_ps(y.d * f16_to_f32(x.d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(block_sumi(x, y)), acc);
    }
    hsum_ps(acc)
}

/// The 8 `i32` lanes of one block (see the module docs), bias removed.
/// Safe entry point of [`crate::formats::q6_k::Q6K::dot_tiled`]'s kernel; only reachable through
/// [`super::AVX2`].
pub(crate) fn dot_tiled(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "q6_K avx2 tiled dot: operand lengths");
    // SAFETY: as in `dot`: only reachable after avx2, fma and f16c were detected.
    unsafe { dot_tiled_avx2(w, a) }
}

/// The block's exact integer sum (llama.cpp's tiled kernel forms it per pair as
/// `u*a + u'*a' - (32a + 32a')`; here as `vec_dot` does, the bias through the activations'
/// `bsums`: integer sums, exact either way, so the same integer), then the tiled kernel's float
/// steps: `fma(d_w * s1, d_a, acc)`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_tiled_avx2(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let madd_add = |sumi, scales, p16| _mm256_add_epi32(sumi, _mm256_madd_epi16(scales, p16));
    let mut acc = [_mm_setzero_ps()];
    for (x, y) in w.iter().zip(a) {
        tiled_block(x, [y], &mut acc, &madd_add);
    }
    _mm_cvtss_f32(acc[0])
}

/// One weight block of the tiled product against the same block of `T` activation rows, into
/// their accumulators (lane 0): the block is unpacked once for the `T` rows.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn tiled_block<const T: usize, M: Fn(__m256i, __m256i, __m256i) -> __m256i>(
    x: &BlockQ6K,
    y: [&BlockQ8K; T],
    acc: &mut [__m128; T],
    madd_add: &M,
) {
    let d = f16_to_f32(x.d);
    // the block's integer sums as `block_sumi` forms them (the bias through the activations'
    // `bsums`): the same integers as llama.cpp's `u*a - 32*a` per pair, being exact; the weight
    // quants unpacked 32 at a time and used for the `T` rows at once (integer sums: any order)
    let mut sumi = [_mm256_setzero_si256(); T];
    let all = unpack_chunks(x, |c, raw, scales| {
        for (sumi, y) in sumi.iter_mut().zip(&y) {
            let p16 = _mm256_maddubs_epi16(raw, load_i8(&y.qs, 32 * c));
            *sumi = madd_add(*sumi, scales, p16);
        }
    });
    for ((y, acc), sumi) in y.iter().zip(acc.iter_mut()).zip(sumi) {
        let sub = _mm256_slli_epi32::<5>(_mm256_madd_epi16(load_i16x16(&y.bsums), all));
        let s1 = hsum_epi32(_mm256_sub_epi32(sumi, sub));
        let res = _mm_set_ss(d * s1 as f32);
        *acc = _mm_fmadd_ss(res, _mm_set_ss(y.d), *acc);
    }
}

/// Safe entry point of the tiled product's multi-row kernel (a [`crate::kernels::GemmFn`] of
/// [`crate::formats::q6_k::Q6K::dot_tiled`]); only reachable through [`super::AVX2`].
pub(crate) fn gemm_tiled(w: &[BlockQ6K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    if super::gemm::check(w.len(), a.len(), rb, out.len(), stride, "q6_K tiled").is_some() {
        // SAFETY: as in `dot`; operands checked, every slice access below is bounds-checked.
        unsafe { gemm_tiled_avx2(w, a, rb, out, stride) }
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by [`gemm_tiled`].
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_tiled_avx2(w: &[BlockQ6K], a: &[BlockQ8K], rb: usize, out: &mut [f32], stride: usize) {
    let madd_add = |sumi, scales, p16| _mm256_add_epi32(sumi, _mm256_madd_epi16(scales, p16));
    gemm_tiled_with(w, a, rb, out, stride, &madd_add);
}

/// Every weight row against the tokens 4 at a time (each weight block unpacked once for 4
/// tokens), then one at a time; every output the spec's bits. `madd_add(sumi, scales, p16)` is
/// `sumi + madd(scales, p16)` (the VNNI tier's is one `vpdpwssd`: the same integers). Operands
/// checked by the caller (whole rows of `rb >= 1` blocks, `out` long enough).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn gemm_tiled_with<M: Fn(__m256i, __m256i, __m256i) -> __m256i>(
    w: &[BlockQ6K],
    a: &[BlockQ8K],
    rb: usize,
    out: &mut [f32],
    stride: usize,
    madd_add: &M,
) {
    let (n_rows, n_tok) = (w.len() / rb, a.len() / rb);
    const T: usize = 4;
    let tok = |t: usize| &a[t * rb..(t + 1) * rb];
    for r in 0..n_rows {
        let wr = &w[r * rb..(r + 1) * rb];
        let mut t = 0;
        while t + T <= n_tok {
            let ys = [tok(t), tok(t + 1), tok(t + 2), tok(t + 3)];
            let mut acc = [_mm_setzero_ps(); T];
            for (b, x) in wr.iter().enumerate() {
                tiled_block(x, [&ys[0][b], &ys[1][b], &ys[2][b], &ys[3][b]], &mut acc, madd_add);
            }
            for (j, acc) in acc.iter().enumerate() {
                out[(t + j) * stride + r] = _mm_cvtss_f32(*acc);
            }
            t += T;
        }
        for t in t..n_tok {
            let mut acc = [_mm_setzero_ps()];
            for (x, y) in wr.iter().zip(tok(t)) {
                tiled_block(x, [y], &mut acc, madd_add);
            }
            out[t * stride + r] = _mm_cvtss_f32(acc[0]);
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn block_sumi(x: &BlockQ6K, y: &BlockQ8K) -> __m256i {
    let (raw, scales, all) = unpack(x);
    let mut sumi = _mm256_setzero_si256();
    for c in 0..8 {
        let p16 = _mm256_maddubs_epi16(raw[c], load_i8(&y.qs, 32 * c));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scales[c], p16));
    }
    let sub = _mm256_slli_epi32::<5>(_mm256_madd_epi16(load_i16x16(&y.bsums), all));
    _mm256_sub_epi32(sumi, sub)
}

/// A block unpacked: the biased quants (0..=63) of values `32c..32c+32`, the `i16` scales of
/// their two sub-blocks (`sc[2c]` in the low 128-bit half, `sc[2c+1]` in the high one), and the 16
/// scales as `i16` in order (for the bias term).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn unpack(x: &BlockQ6K) -> ([__m256i; 8], [__m256i; 8], __m256i) {
    let mut raw = [_mm256_setzero_si256(); 8];
    let mut scales = [_mm256_setzero_si256(); 8];
    let all = unpack_chunks(x, |c, r, sc| {
        raw[c] = r;
        scales[c] = sc;
    });
    (raw, scales, all)
}

/// [`unpack`] one chunk of 32 values at a time: `f(c, raw[c], scales[c])` for c = 0..8 in turn
/// (so that a caller using each chunk at once keeps only one in registers); returns `all`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn unpack_chunks(x: &BlockQ6K, mut f: impl FnMut(usize, __m256i, __m256i)) -> __m256i {
    let m4 = _mm256_set1_epi8(0xF);
    let all = _mm256_cvtepi8_epi16(load128_u8(bytemuck::cast_ref::<[i8; 16], [u8; 16]>(&x.scales), 0));
    let halves = [_mm256_permute2x128_si256::<0x00>(all, all), _mm256_permute2x128_si256::<0x11>(all, all)];
    for (h, &sc) in halves.iter().enumerate() {
        // value 128h + 32s + l: low 4 bits in ql[64h + 32(s % 2) + l] (low nibble for s < 2,
        // high for s >= 2), high 2 bits at bits 2s..2s+2 of qh[32h + l]
        let b1 = load_u8(&x.ql, 64 * h);
        let b2 = load_u8(&x.ql, 64 * h + 32);
        let hb = load_u8(&x.qh, 32 * h);
        let raw = [
            _mm256_or_si256(
                _mm256_and_si256(b1, m4),
                _mm256_slli_epi16::<4>(_mm256_and_si256(hb, _mm256_set1_epi8(0x03))),
            ),
            _mm256_or_si256(
                _mm256_and_si256(b2, m4),
                _mm256_slli_epi16::<2>(_mm256_and_si256(hb, _mm256_set1_epi8(0x0C))),
            ),
            _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(b1), m4),
                _mm256_and_si256(hb, _mm256_set1_epi8(0x30)),
            ),
            _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(b2), m4),
                _mm256_srli_epi16::<2>(_mm256_and_si256(hb, _mm256_set1_epi8(0xC0u8 as i8))),
            ),
        ];
        for (s, &raw) in raw.iter().enumerate() {
            // sub-block 8h + 2s (low lane), 8h + 2s + 1 (high lane)
            f(4 * h + s, raw, _mm256_shuffle_epi8(sc, i16_bcast_ctrl(2 * s as i8, 2 * s as i8 + 1)));
        }
    }
    all
}
