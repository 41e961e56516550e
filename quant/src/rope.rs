//! RoPE's rotation of one head, as ggml's `rotate_pairs` computes it on x86-64: the spec (safe
//! scalar code) that every kernel tier reproduces **bit for bit**.
//!
//! Pair `i` of a head, `(x0, x1)`, turns by the angle whose cosine and sine are `cache[2i]` and
//! `cache[2i + 1]`. GCC compiles ggml's `x0*cos - x1*sin` and `x0*sin + x1*cos` (with FMA) as
//! `fma(x0, cos, -(x1*sin))` and `fma(x0, sin, x1*cos)`; so do we. Which values pair up is the
//! model's RoPE type: neighbours (`(2i, 2i+1)`, llama.cpp's NORM mode: Llama, SmolLM2) or the
//! two halves of the rotated dimensions (`(i, i + n/2)`, NEOX mode: Gemma, Qwen).

use crate::cmath::fmaf;

/// Which values of a head are rotated together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopePairs {
    /// `(2i, 2i + 1)` (llama.cpp's NORM mode).
    Adjacent,
    /// `(i, i + n/2)` for `n` rotated dimensions (llama.cpp's NEOX mode).
    Halves,
}

/// A tier's [`rotate`].
pub type RopeFn = fn(RopePairs, &[f32], &mut [f32]);

/// Rotate the first `cache.len()` values of `head` (`cache`: `[cos, sin]` of every pair, in pair
/// order); the values past them are left as they are.
///
/// # Panics
/// If `cache.len()` is odd or longer than `head`.
pub fn rotate(pairs: RopePairs, cache: &[f32], head: &mut [f32]) {
    check(cache, head);
    let half = cache.len() / 2;
    for (i, c) in cache.chunks_exact(2).enumerate() {
        let (a, b) = match pairs {
            RopePairs::Adjacent => (2 * i, 2 * i + 1),
            RopePairs::Halves => (i, i + half),
        };
        (head[a], head[b]) = turn(head[a], head[b], c[0], c[1]);
    }
}

/// One pair turned: `(fma(x0, cos, -(x1*sin)), fma(x0, sin, x1*cos))`.
#[inline]
pub(crate) fn turn(x0: f32, x1: f32, cos: f32, sin: f32) -> (f32, f32) {
    (fmaf(x0, cos, -(x1 * sin)), fmaf(x0, sin, x1 * cos))
}

/// The operands of [`rotate`], checked alike by every tier.
pub(crate) fn check(cache: &[f32], head: &[f32]) {
    assert!(
        cache.len() % 2 == 0 && cache.len() <= head.len(),
        "rope: {} cache values for a head of {}",
        cache.len(),
        head.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_turn_moves_each_pair() {
        // cos 0, sin 1: (x0, x1) -> (-x1, x0)
        let cache = [0.0, 1.0, 0.0, 1.0];
        let mut head = [1.0, 2.0, 3.0, 4.0, 5.0];
        rotate(RopePairs::Adjacent, &cache, &mut head);
        assert_eq!(head, [-2.0, 1.0, -4.0, 3.0, 5.0]);
        let mut head = [1.0, 2.0, 3.0, 4.0, 5.0];
        rotate(RopePairs::Halves, &cache, &mut head);
        assert_eq!(head, [-3.0, -4.0, 1.0, 2.0, 5.0]);
    }

    #[test]
    #[should_panic(expected = "rope")]
    fn a_cache_longer_than_the_head_is_refused() {
        rotate(RopePairs::Halves, &[1.0, 0.0, 1.0, 0.0], &mut [0.0; 3]);
    }
}
