//! RoPE's rotation of one head ([`crate::rope`]), 8 values at a time: the spec's two fused
//! multiply-adds per pair, lane for lane, so the same bits.
//!
//! - neighbours (`(2i, 2i+1)`): with `x = [x0, x1, ..]` and `c = [cos, sin, ..]` of 4 pairs,
//!   `fma(dup_even(x), c, dup_odd(x) * [-sin, cos, ..])` gives `fma(x0, cos, -(x1*sin))` in the
//!   even lanes and `fma(x0, sin, x1*cos)` in the odd ones (`x1 * -sin` is `-(x1*sin)` exactly);
//! - halves (`(i, i + n/2)`): the cosines and sines of 8 pairs gathered from the cache, then
//!   `fmsub(x0, cos, x1*sin)` and `fmadd(x0, sin, x1*cos)`.
//!
//! The pairs left over (fewer than 4, resp. 8) go through the spec.

use core::arch::x86_64::*;

use super::util::{load_ps, store_ps};
use crate::rope::{self, RopePairs};

/// # Safety
/// The CPU must support AVX2 and FMA. Operands checked by `rope::check`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn rotate_avx2(pairs: RopePairs, cache: &[f32], head: &mut [f32]) {
    let n = cache.len();
    match pairs {
        RopePairs::Adjacent => {
            let flip = _mm256_setr_ps(-0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0);
            let whole = n / 8 * 8;
            for (h, c) in head[..whole].chunks_exact_mut(8).zip(cache.chunks_exact(8)) {
                let (x, c) = (load_ps(h), load_ps(c));
                // [-sin, cos] per pair: the pair swapped, the even lanes negated
                let sc = _mm256_xor_ps(_mm256_permute_ps::<0b10_11_00_01>(c), flip);
                let d = _mm256_mul_ps(_mm256_movehdup_ps(x), sc);
                store_ps(h, _mm256_fmadd_ps(_mm256_moveldup_ps(x), c, d));
            }
            let (h, c) = (&mut head[whole..n], &cache[whole..]);
            rope::rotate(pairs, c, h);
        }
        RopePairs::Halves => {
            let half = n / 2;
            let whole = half / 8 * 8;
            let (lo, hi) = head[..n].split_at_mut(half);
            for ((a, b), c) in lo[..whole]
                .chunks_exact_mut(8)
                .zip(hi[..whole].chunks_exact_mut(8))
                .zip(cache.chunks_exact(16))
            {
                let (c0, c1) = (load_ps(&c[..8]), load_ps(&c[8..]));
                // [c0 c1 c4 c5 | c2 c3 c6 c7] -> in order
                let cos = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                    _mm256_shuffle_ps::<0b10_00_10_00>(c0, c1),
                )));
                let sin = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                    _mm256_shuffle_ps::<0b11_01_11_01>(c0, c1),
                )));
                let (x0, x1) = (load_ps(a), load_ps(b));
                store_ps(a, _mm256_fmsub_ps(x0, cos, _mm256_mul_ps(x1, sin)));
                store_ps(b, _mm256_fmadd_ps(x0, sin, _mm256_mul_ps(x1, cos)));
            }
            // the pairs left: a rotation of the halves' tails by the cache's tail
            for i in whole..half {
                (lo[i], hi[i]) = rope::turn(lo[i], hi[i], cache[2 * i], cache[2 * i + 1]);
            }
        }
    }
}

/// Safe entry point ([`crate::rope::RopeFn`]); only reachable through [`super::AVX2`].
pub(crate) fn rotate(pairs: RopePairs, cache: &[f32], head: &mut [f32]) {
    rope::check(cache, head);
    // SAFETY: crate-private, only reachable through the AVX2 table, which `Kernels::for_tier`
    // returns only after detecting avx2, fma and f16c on this CPU; operands checked above.
    unsafe { rotate_avx2(pairs, cache, head) }
}
