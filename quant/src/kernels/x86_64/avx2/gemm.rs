//! The block loop shared by the legacy formats' dot and multi-row (`gemm`) kernels.
//!
//! The spec (`formats/legacy_lanes.rs`) is llama.cpp's own AVX2 arithmetic: one `__m256`
//! accumulator per output, per block `acc = fmadd(splat(d_w*d_a), cvtepi32_ps(int), acc)` where
//! `int` is the block's 8 lanes of 4 products each, and one `hsum_float_8` at the end (plus a scalar
//! `summs = fma(m_w, s_a, summs)` for `Q4_1`/`Q5_1`). Here that is done for a tile of `R` weight rows
//! times `T` activation rows at once: each weight block is unpacked once per tile and reused for
//! the `T` tokens, the `R*T` accumulators are independent FMA chains, and no horizontal sum is
//! needed before the end of the rows. Every output keeps its own accumulator and its own block
//! order, so every tile shape gives the spec's bits.
//!
//! Tiles (see [`gemm`]) are 8 rows x 1 token when decoding, 2 x 4 or 3 x 3 for a batch (at most
//! 9 accumulators and a few unpacked vectors: the 16 `ymm` registers), then rows x 1 for the
//! last tokens and smaller tiles for the last rows. The next tile's weight rows are prefetched a
//! few lines per block (the interleaved row streams are followed poorly by the hardware
//! prefetchers).

use core::arch::x86_64::*;

use super::util::{hsum_ps, prefetch};

/// How many tiles (of rows) ahead the weights are prefetched.
const PREFETCH_TILES: usize = 2;
/// The most cache lines prefetched per block: an 8-row tile of `Q8_0` spans 4.25 per block.
const MAX_LINES_PER_BLOCK: usize = 5;

pub(super) use crate::kernels::gemm_operands as check;

/// One legacy format's pieces of the block loop (weight block `X`, activation block `Y`), as
/// closures written inside the format's `#[target_feature]` kernel (so they inherit its features).
pub(super) struct Ops<X, Y, E, Ld, I> {
    /// Whether the format has a minimum (`Q4_1`, `Q5_1`): `summs` and the final `+ summs`.
    pub min: bool,
    /// The weight block's 32 bytes as `int` wants them (unpacked once per tile).
    pub expand: E,
    /// The activation block's 32 bytes.
    pub load: Ld,
    /// The block's 8 lane sums of 4 products each, as f32 (exact integers).
    pub int: I,
    pub _blocks: core::marker::PhantomData<fn(&X, &Y)>,
}

/// [`Ops`] with its closure types hidden.
pub(in crate::kernels::x86_64) trait Legacy {
    type X: bytemuck::Pod;
    type Y: bytemuck::Pod;
    fn min(&self) -> bool;
    fn expand(&self, x: &Self::X) -> __m256i;
    fn load(&self, y: &Self::Y) -> __m256i;
    fn int(&self, q: __m256i, y: __m256i) -> __m256;
}

impl<X, Y, E, Ld, I> Legacy for Ops<X, Y, E, Ld, I>
where
    X: bytemuck::Pod,
    Y: bytemuck::Pod,
    E: Fn(&X) -> __m256i,
    Ld: Fn(&Y) -> __m256i,
    I: Fn(__m256i, __m256i) -> __m256,
{
    type X = X;
    type Y = Y;
    #[inline(always)]
    fn min(&self) -> bool {
        self.min
    }
    #[inline(always)]
    fn expand(&self, x: &X) -> __m256i {
        (self.expand)(x)
    }
    #[inline(always)]
    fn load(&self, y: &Y) -> __m256i {
        (self.load)(y)
    }
    #[inline(always)]
    fn int(&self, q: __m256i, y: __m256i) -> __m256 {
        (self.int)(q, y)
    }
}

/// The first 4 bytes of a block: every legacy block starts with its f16 `d`, and the `_1`
/// formats follow it with their f16 `m` (weights) or `s` (`Q8_1` activations); for the others
/// the next 2 bytes are ignored.
#[inline(always)]
fn head<X: bytemuck::Pod>(x: &X) -> i32 {
    let b = bytemuck::bytes_of(x);
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The `R x T` outputs of weight rows `w[i]` and activation rows `a[t]` (all equally long):
/// `out[t][i]`, each the spec's value. While computing, asks for `lines_per_block` (at most
/// [`MAX_LINES_PER_BLOCK`]) cache lines of `next` per block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn tile<L: Legacy, const R: usize, const T: usize>(
    ops: &L,
    w: [&[L::X]; R],
    a: [&[L::Y]; T],
    next: &[u8],
    lines_per_block: usize,
) -> [[f32; R]; T] {
    // the rows' scales go in groups of 4 (one `__m256` of [d, m] pairs each): R <= 8
    const { assert!(R <= 8) };
    let groups = R.div_ceil(4);
    let rb = w[0].len();
    let mut acc = [[_mm256_setzero_ps(); R]; T];
    // lane 2i + 1 of group g: row 4g + i's `summs` (the even lanes collect unused values)
    let mut summs = [[_mm256_setzero_ps(); 2]; T];
    for b in 0..rb {
        let pf = next.as_ptr().wrapping_add(b * lines_per_block * 64);
        for l in 0..MAX_LINES_PER_BLOCK {
            if l < lines_per_block {
                prefetch(pf.wrapping_add(l * 64));
            }
        }
        // (plain loops, not `array::from_fn`: its closure would not be inlined, being compiled
        // with this function's target features while `from_fn` is not)
        let mut q = [_mm256_setzero_si256(); R];
        let mut heads = [0i32; 8];
        for i in 0..R {
            q[i] = ops.expand(&w[i][b]);
            heads[i] = head(&w[i][b]);
        }
        // [d_0, m_0, d_1, m_1, ..] of each group of 4 rows, exactly (F16C)
        let mut dm = [_mm256_setzero_ps(); 2];
        for (g, dm) in dm.iter_mut().enumerate().take(groups) {
            let h = &heads[4 * g..];
            *dm = _mm256_cvtph_ps(_mm_setr_epi32(h[0], h[1], h[2], h[3]));
        }
        for t in 0..T {
            let y = &a[t][b];
            // [d_a, s_a, ..] (exact)
            let ds = _mm_cvtph_ps(_mm_cvtsi32_si128(head(y)));
            let yv = ops.load(y);
            let mut dd = [_mm256_setzero_ps(); 2];
            for g in 0..groups {
                // lane 2i: d_w(4g + i) * d_a, the spec's f32 product
                dd[g] = _mm256_mul_ps(dm[g], _mm256_broadcastss_ps(ds));
                if ops.min() {
                    // lane 2i + 1: fma(m_w(4g + i), s_a, summs), the spec's scalar FMA
                    let s_a = _mm256_broadcastss_ps(_mm_movehdup_ps(ds));
                    summs[t][g] = _mm256_fmadd_ps(dm[g], s_a, summs[t][g]);
                }
            }
            for i in 0..R {
                let d = _mm256_permutevar8x32_ps(dd[i / 4], _mm256_set1_epi32(2 * (i % 4) as i32));
                acc[t][i] = _mm256_fmadd_ps(d, ops.int(q[i], yv), acc[t][i]);
            }
        }
    }
    let mut out = [[0f32; R]; T];
    for t in 0..T {
        let mut sm = [0f32; 16];
        let (lo, hi) = sm.split_at_mut(8);
        // SAFETY: `lo` and `hi` are 32 writable bytes each; storeu needs no alignment.
        unsafe { _mm256_storeu_ps(lo.as_mut_ptr(), summs[t][0]) };
        // SAFETY: as above.
        unsafe { _mm256_storeu_ps(hi.as_mut_ptr(), summs[t][1]) };
        for i in 0..R {
            let h = hsum_ps(acc[t][i]);
            out[t][i] = if ops.min() { h + sm[2 * i + 1] } else { h };
        }
    }
    out
}

/// The single-row dot product (`w.len() == a.len()`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn dot<L: Legacy>(ops: &L, w: &[L::X], a: &[L::Y]) -> f32 {
    if w.is_empty() {
        return 0.0;
    }
    tile::<L, 1, 1>(ops, [w], [a], &[], 0)[0][0]
}

/// Rows `r0..r0 + R` against every token, in tiles of `R x T` then `R x 1` for the last tokens;
/// prefetches `next` during the first tile.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn rows<L: Legacy, const R: usize, const T: usize>(
    ops: &L,
    w: &[L::X],
    a: &[L::Y],
    rb: usize,
    r0: usize,
    out: &mut [f32],
    stride: usize,
    next: &[u8],
) {
    let n_tok = a.len() / rb;
    let mut wr: [&[L::X]; R] = [&[]; R];
    for (i, wr) in wr.iter_mut().enumerate() {
        *wr = &w[(r0 + i) * rb..(r0 + i + 1) * rb];
    }
    let lines_per_block = next.len().div_ceil(64).div_ceil(rb);
    let tok = |t: usize| &a[t * rb..(t + 1) * rb];
    let mut t = 0;
    while t + T <= n_tok {
        let (nx, lpb) = if t == 0 { (next, lines_per_block) } else { (&[][..], 0) };
        let mut at: [&[L::Y]; T] = [&[]; T];
        for (j, at) in at.iter_mut().enumerate() {
            *at = tok(t + j);
        }
        let v = tile::<L, R, T>(ops, wr, at, nx, lpb);
        for (j, v) in v.iter().enumerate() {
            out[(t + j) * stride + r0..][..R].copy_from_slice(v);
        }
        t += T;
    }
    while t < n_tok {
        let (nx, lpb) = if t == 0 { (next, lines_per_block) } else { (&[][..], 0) };
        let v = tile::<L, R, 1>(ops, wr, [tok(t)], nx, lpb);
        out[t * stride + r0..][..R].copy_from_slice(&v[0]);
        t += 1;
    }
}

/// Rows in tiles of `R` rows (each [`rows`] with `T` tokens at a time), the last `n_rows % R`
/// rows together; weights prefetched `PREFETCH_TILES` tiles ahead.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn by_tiles<L: Legacy, const R: usize, const T: usize>(
    ops: &L,
    w: &[L::X],
    a: &[L::Y],
    rb: usize,
    out: &mut [f32],
    stride: usize,
) {
    let n_rows = w.len() / rb;
    let full = n_rows / R * R;
    for r0 in (0..full).step_by(R) {
        let ahead = r0 + R * PREFETCH_TILES;
        let next: &[u8] =
            if ahead + R <= n_rows { bytemuck::cast_slice(&w[ahead * rb..(ahead + R) * rb]) } else { &[] };
        rows::<L, R, T>(ops, w, a, rb, r0, out, stride, next);
    }
    // the last rows: fewer than R (R <= 8)
    let mut r0 = full;
    if n_rows - r0 >= 4 {
        rows::<L, 4, T>(ops, w, a, rb, r0, out, stride, &[]);
        r0 += 4;
    }
    match n_rows - r0 {
        1 => rows::<L, 1, T>(ops, w, a, rb, r0, out, stride, &[]),
        2 => rows::<L, 2, T>(ops, w, a, rb, r0, out, stride, &[]),
        3 => rows::<L, 3, T>(ops, w, a, rb, r0, out, stride, &[]),
        _ => {}
    }
}

/// The multi-row product (operands checked by [`check`]). Tile shapes as measured fastest on
/// Zen 3 (`cargo run --release -p emberlm-benches --example gemm-throughput`): one token
/// (decoding) in tiles of 8 rows, which share the token's per-block work; a batch in 2 rows x 4
/// tokens, or 3 x 3 for the formats with a minimum (whose per-token `summs` work favours more
/// rows per token).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn gemm<L: Legacy>(ops: &L, w: &[L::X], a: &[L::Y], rb: usize, out: &mut [f32], stride: usize) {
    if a.len() == rb {
        by_tiles::<L, 8, 1>(ops, w, a, rb, out, stride)
    } else if ops.min() {
        by_tiles::<L, 3, 3>(ops, w, a, rb, out, stride)
    } else {
        by_tiles::<L, 2, 4>(ops, w, a, rb, out, stride)
    }
}

/// [`gemm`] for the outputs outside rows `0..rows_done` x tokens `0..toks_done`, which a faster
/// kernel has computed (nothing done: everything).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(in crate::kernels::x86_64) fn gemm_rest<L: Legacy>(
    ops: &L,
    w: &[L::X],
    a: &[L::Y],
    rb: usize,
    out: &mut [f32],
    stride: usize,
    (rows_done, toks_done): (usize, usize),
) {
    if rows_done == 0 || toks_done == 0 {
        return gemm(ops, w, a, rb, out, stride);
    }
    // the last tokens against the rows done, then the last rows against every token
    if toks_done * rb < a.len() {
        gemm(ops, &w[..rows_done * rb], &a[toks_done * rb..], rb, &mut out[toks_done * stride..], stride);
    }
    if rows_done * rb < w.len() {
        gemm(ops, &w[rows_done * rb..], a, rb, &mut out[rows_done..], stride);
    }
}
