//! The multi-row product shared by the legacy formats' `gemm` kernels: 8 weight rows at a time,
//! up to [`TOKENS`] activation rows per pass over them, row `r`'s spec sum in lane `r`.
//!
//! Per block, each of the 8 weight blocks is unpacked once (`expand`) and reused for every
//! activation row of the pass; `int` gives a block's 8 partial integer sums for one (row, token)
//! pair, [`hsum8_epi32`] turns the 8 rows' partials into one vector of exact per-row sums, and
//! `term` applies the format's float formula, lane-wise, with the spec's operations in the spec's
//! order. Adding the terms to the accumulator block by block is then exactly the spec's loop in
//! every lane. Rows past the last multiple of 8 use the format's single-row `dot`.

use core::arch::x86_64::*;

use super::util::{hsum8_epi32, load128_head, prefetch, store_ps};

/// How many tiles ahead of the one being computed the weights are prefetched.
const PREFETCH_TILES: usize = 2;

/// Activation rows computed per pass over a tile of weight rows.
pub(super) const TOKENS: usize = 8;

/// Checks the operands of a [`crate::kernels::GemmFn`] (whole rows, output long enough, output
/// rows that do not overlap) and returns `(n_rows, n_tok)`; `None` for an empty product.
pub(super) fn check(
    n_w: usize,
    n_a: usize,
    rb: usize,
    out: usize,
    stride: usize,
    what: &str,
) -> Option<(usize, usize)> {
    if rb == 0 {
        return None;
    }
    assert!(n_w % rb == 0 && n_a % rb == 0, "{what} gemm: partial rows");
    let (n_rows, n_tok) = (n_w / rb, n_a / rb);
    assert!(n_tok <= 1 || stride >= n_rows, "{what} gemm: overlapping output rows");
    assert!(
        n_tok == 0 || n_rows == 0 || out >= (n_tok - 1) * stride + n_rows,
        "{what} gemm: output too short"
    );
    Some((n_rows, n_tok))
}

/// The tiled product (operands checked by [`check`]).
///
/// - `expand(x)`: a weight block unpacked for `int` (once per block, shared by the tokens);
/// - `scales(heads)`: the 8 rows' block scales (and mins, or anything) from the first 16 bytes
///   of each row's block;
/// - `int(q, y)`: the 8 partial `i32` sums of a block with activation block `y`;
/// - `term(scales, y, sumi)`: the block's float term in every lane, as the spec computes it;
/// - `dot`: the single-row kernel, for the rows left over.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)] // register arrays in lockstep
pub(super) fn gemm8<X: bytemuck::Pod, Y, Q: Copy, S: Copy>(
    w: &[X],
    a: &[Y],
    rb: usize,
    out: &mut [f32],
    stride: usize,
    expand: impl Fn(&X) -> Q,
    scales: impl Fn(&[__m128i; 8]) -> S,
    int: impl Fn(Q, &Y) -> __m256i,
    term: impl Fn(S, &Y, __m256) -> __m256,
    dot: impl Fn(&[X], &[Y]) -> f32,
) {
    let n_rows = w.len() / rb;
    let n_tok = a.len() / rb;
    let full = n_rows / 8 * 8;
    for r0 in (0..full).step_by(8) {
        let rows = &w[r0 * rb..(r0 + 8) * rb];
        // The 8 rows are read block by block, 8 streams at once, which the hardware prefetchers
        // follow poorly: ask for the next tile's bytes (contiguous) a few lines per block.
        let ahead = r0 + 8 * PREFETCH_TILES;
        let next: &[u8] =
            if ahead + 8 <= n_rows { bytemuck::cast_slice(&w[ahead * rb..(ahead + 8) * rb]) } else { &[] };
        let lines_per_block = next.len().div_ceil(64).div_ceil(rb);
        let mut t0 = 0;
        while t0 < n_tok {
            let nt = (n_tok - t0).min(TOKENS);
            let mut acc = [_mm256_setzero_ps(); TOKENS];
            for b in 0..rb {
                if t0 == 0 {
                    for l in b * lines_per_block..(b + 1) * lines_per_block {
                        if let Some(x) = next.get(l * 64) {
                            prefetch(x);
                        }
                    }
                }
                let mut head = [_mm_setzero_si128(); 8];
                let first = expand(&rows[b]);
                let mut q = [first; 8];
                for i in 0..8 {
                    let x = &rows[i * rb + b];
                    if i > 0 {
                        q[i] = expand(x);
                    }
                    head[i] = load128_head(bytemuck::bytes_of(x));
                }
                let s = scales(&head);
                for t in 0..nt {
                    let y = &a[(t0 + t) * rb + b];
                    let mut p = [_mm256_setzero_si256(); 8];
                    for i in 0..8 {
                        p[i] = int(q[i], y);
                    }
                    let sumi = _mm256_cvtepi32_ps(hsum8_epi32(&p));
                    acc[t] = _mm256_add_ps(acc[t], term(s, y, sumi));
                }
            }
            for t in 0..nt {
                store_ps(&mut out[(t0 + t) * stride + r0..], acc[t]);
            }
            t0 += nt;
        }
    }
    for r in full..n_rows {
        let wr = &w[r * rb..(r + 1) * rb];
        for t in 0..n_tok {
            out[t * stride + r] = dot(wr, &a[t * rb..(t + 1) * rb]);
        }
    }
}
