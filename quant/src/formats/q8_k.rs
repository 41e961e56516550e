//! `q8_K`: 8-bit super-blocks of 256 values, the activation format of every K-quant dot product.
//!
//! Layout of [`BlockQ8K`] (292 bytes, little-endian, 4-byte aligned):
//!
//! | bytes     | field   | meaning                                                         |
//! |-----------|---------|-----------------------------------------------------------------|
//! | 0..4      | `d`     | `f32` scale (not f16, unlike every other block format)          |
//! | 4..260    | `qs`    | 256 `i8` quants, value `i` is `qs[i]`                           |
//! | 260..292  | `bsums` | 16 `i16`: `bsums[j]` = sum of `qs[16*j..16*j+16]`               |
//!
//! Value `i` is `d * qs[i]`. `bsums` is redundant: the `q2_K`/`q4_K`/`q5_K` dot products read it to
//! apply their per-sub-block mins without touching `qs`, so it must be consistent with `qs` (as
//! [`Q8K::quantize`] writes it) for their results to equal the dot of the dequantized values.
//!
//! Quantization (`quantize_row_q8_K_ref`): with `max` the value of largest magnitude (first one on
//! ties) and `iscale = -127 / max`, `qs[i] = min(127, nearest_int(iscale * x[i]))` and
//! `d = 1 / iscale`, so quants
//! are in -127..=127 (-128 never occurs). One deviation from llama.cpp: for an all-zero block,
//! llama.cpp zeroes `d` and `qs` but leaves `bsums` as whatever the output buffer held; here
//! `bsums` is zeroed too (llama.cpp's own dot products then see the same consistent zero block).
//!
//! A second quantizer, [`Q8K::quantize_4rows`], is `ggml_quantize_mat_q8_K_4x8` (AVX2), which
//! llama.cpp uses for the activation rows that its repacked `q4_K` product takes in groups of
//! four (see [`crate::formats::q4_k`]): the same bytes except on a tie of magnitudes, where it takes
//! the sign of the largest magnitude to be positive if any value equals `+amax` (the reference
//! takes the sign of the first such value). The two blocks are then exact negations of each other
//! (`d` and every `qs` negated: the rounding is symmetric), so every product computed from them is
//! the same; the spec still follows llama.cpp byte for byte.
//!
//! llama.cpp has no `q8_K x q8_K` dot product. Here `Activation = Q8K` and [`Q8K::vec_dot`] is the
//! straightforward one: per block, the exact `i32` sum of `qs_w[i] * qs_a[i]` times `d_w * d_a`
//! (both in `f32`), accumulated over blocks in order in an `f32`.

use crate::formats::k_common::{QK_K, check_dequantize, check_quantize, check_vec_dot, fabsf, nearest_int};
use crate::{Format, QuantType};

impl Q8K {
    /// `ggml_quantize_mat_q8_K_4x8` as built for AVX2, one row at a time (the interleaving of four
    /// rows is a storage detail): `amax = max |x|`; `iscale = -127/amax` if some `x[i] == amax`,
    /// else `127/amax`; `qs[i] = round_half_even(iscale * x[i])` (in -127..=127), `d = 1/iscale`,
    /// `bsums` the sums of 16. An all-zero block is all zeros. Differs from [`Q8K::quantize`]
    /// only when `+amax` and `-amax` both occur and `-amax` comes first.
    ///
    /// # Panics
    /// If `x.len() != out.len() * 256`.
    pub fn quantize_4rows(x: &[f32], out: &mut [BlockQ8K]) {
        check_quantize("q8_K", x.len(), out.len());
        for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let mut amax = 0.0f32;
            for &v in xb {
                let ax = fabsf(v);
                if ax > amax {
                    amax = ax;
                }
            }
            if amax == 0.0 {
                *y = bytemuck::Zeroable::zeroed();
                continue;
            }
            let positive = xb.contains(&amax);
            let iscale = if positive { -127.0f32 / amax } else { 127.0f32 / amax };
            for (q, &v) in y.qs.iter_mut().zip(xb) {
                *q = nearest_int(iscale * v).clamp(-128, 127) as i8;
            }
            for (s, g) in y.bsums.iter_mut().zip(y.qs.chunks_exact(16)) {
                *s = g.iter().map(|&q| q as i32).sum::<i32>() as i16;
            }
            y.d = 1.0 / iscale;
        }
    }
}

/// One `q8_K` super-block as stored (see the [module docs](self) for the layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ8K {
    /// Scale.
    pub d: f32,
    /// Quants.
    pub qs: [i8; QK_K],
    /// Sums of `qs` in groups of 16.
    pub bsums: [i16; QK_K / 16],
}

const _: () = assert!(core::mem::size_of::<BlockQ8K>() == QuantType::Q8K.block_bytes());

/// The `q8_K` format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Q8K;

impl Format for Q8K {
    const TYPE: QuantType = QuantType::Q8K;
    const ELEMS: usize = QK_K;
    type Block = BlockQ8K;
    type Activation = Q8K;

    /// `dequantize_row_q8_K`: `out[i] = d * qs[i]`.
    fn dequantize(blocks: &[BlockQ8K], out: &mut [f32]) {
        check_dequantize("q8_K", blocks.len(), out.len());
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
            for (o, &q) in y.iter_mut().zip(&b.qs) {
                *o = b.d * q as f32;
            }
        }
    }

    /// `quantize_row_q8_K_ref` (all-zero blocks also get zero `bsums`, see the module docs).
    fn quantize(x: &[f32], out: &mut [BlockQ8K]) {
        check_quantize("q8_K", x.len(), out.len());
        for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let mut max = 0.0f32;
            let mut amax = 0.0f32;
            for &v in xb {
                let ax = fabsf(v);
                if ax > amax {
                    amax = ax;
                    max = v;
                }
            }
            if amax == 0.0 {
                *y = bytemuck::Zeroable::zeroed();
                continue;
            }
            let iscale = -127.0f32 / max;
            for (q, &v) in y.qs.iter_mut().zip(xb) {
                *q = nearest_int(iscale * v).min(127) as i8;
            }
            for (s, g) in y.bsums.iter_mut().zip(y.qs.chunks_exact(16)) {
                *s = g.iter().map(|&q| q as i32).sum::<i32>() as i16;
            }
            y.d = 1.0 / iscale;
        }
    }

    /// Per block `(d_w * d_a) * sum(qs_w[i] * qs_a[i])`, summed over blocks in `f32`.
    fn vec_dot(w: &[BlockQ8K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q8_K", w.len(), a.len());
        let mut sumf = 0.0f32;
        for (x, y) in w.iter().zip(a) {
            let isum: i32 = x.qs.iter().zip(&y.qs).map(|(&p, &q)| p as i32 * q as i32).sum();
            sumf += x.d * y.d * isum as f32;
        }
        sumf
    }
}
