//! `q4_K`: 4-bit super-blocks of 256 values with 6-bit sub-block scales and mins (4.5 bits per
//! weight).
//!
//! Layout of [`BlockQ4K`] (144 bytes, little-endian):
//!
//! | bytes   | field    | meaning                                                            |
//! |---------|----------|--------------------------------------------------------------------|
//! | 0..2    | `d`      | `f16` super-scale of the scales                                    |
//! | 2..4    | `dmin`   | `f16` super-scale of the mins                                      |
//! | 4..16   | `scales` | 8 6-bit scales `sc[j]` and 8 6-bit mins `m[j]` (below)             |
//! | 16..144 | `qs`     | 256 4-bit quants `q[i]` in 0..=15 (below)                          |
//!
//! Sub-block `j` (0..8) covers values `32*j..32*j+32`. Scale/min packing (`get_scale_min_k4`): for
//! `j < 4`, `sc[j] = scales[j] & 63` and `m[j] = scales[j+4] & 63`; for `j >= 4`, the low 4 bits of
//! `sc[j]` / `m[j]` are the low / high nibble of `scales[j+4]`, and their high 2 bits are the top 2
//! bits of `scales[j-4]` / `scales[j]`.
//!
//! Quant packing: value `64*c + l` (`c` in 0..4, `l` in 0..32) is the low nibble of `qs[32*c + l]`,
//! value `64*c + 32 + l` its high nibble.
//!
//! Value `i` (sub-block `j = i/32`) is `(d * sc[j]) * q[i] - dmin * m[j]` in `f32`
//! (`dequantize_row_q4_K`).
//!
//! Quantization (`quantize_row_q4_K_ref`): per sub-block, `make_qkx2_quants` with `nmax = 15`,
//! weights `sqrt(mean(x^2)) + |x|`, squared-error search over the inverse scales
//! `(nmax - 1 + 0.1*is) / (max - min)`, `is` in 0..=20; scales and
//! mins are quantized to 6 bits against their maxima (`d = max_scale/63`, `dmin = max_min/63`)
//! and every value is re-quantized with the rounded scale and min.
//!
//! The dot product is `ggml_vec_dot_q4_K_q8_K_generic`: exact integer sums in 8 lanes (value `i`
//! to lane `i % 8`) each scaled by `d_w * d_a` into its own `f32` accumulator; the mins are applied
//! through the activation's `bsums` into the main accumulator (`sumf -= dmin_w*d_a * sum`), which
//! receives the 8 lanes in order at the end.

use half::f16;

use crate::formats::k_common::{
    K_SCALE_SIZE, QK_K, Qkx2Search, check_dequantize, check_quantize, check_vec_dot, get_scale_min_k4,
    nearest_int, q45_scales_mins,
};
use crate::formats::q8_k::{BlockQ8K, Q8K};
use crate::{Format, QuantType};

/// One `q4_K` super-block as stored (see the [module docs](self) for the layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ4K {
    /// Super-scale of the scales.
    pub d: f16,
    /// Super-scale of the mins.
    pub dmin: f16,
    /// Packed 6-bit scales and mins.
    pub scales: [u8; K_SCALE_SIZE],
    /// 4-bit quants.
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(core::mem::size_of::<BlockQ4K>() == QuantType::Q4K.block_bytes());

/// The `q4_K` format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Q4K;

/// The 4-bit quant `i` of a block.
#[inline]
fn quant(qs: &[u8; QK_K / 2], i: usize) -> u8 {
    let byte = qs[32 * (i / 64) + i % 32];
    if i % 64 < 32 { byte & 0xF } else { byte >> 4 }
}

impl Format for Q4K {
    const TYPE: QuantType = QuantType::Q4K;
    const ELEMS: usize = QK_K;
    type Block = BlockQ4K;
    type Activation = Q8K;

    fn dequantize(blocks: &[BlockQ4K], out: &mut [f32]) {
        check_dequantize("q4_K", blocks.len(), out.len());
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
            let d = b.d.to_f32();
            let min = b.dmin.to_f32();
            for (j, ys) in y.chunks_exact_mut(32).enumerate() {
                let (sc, m) = get_scale_min_k4(j, &b.scales);
                let d1 = d * sc as f32;
                let m1 = min * m as f32;
                for (l, o) in ys.iter_mut().enumerate() {
                    *o = d1 * quant(&b.qs, 32 * j + l) as f32 - m1;
                }
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ4K]) {
        const SEARCH: Qkx2Search = Qkx2Search { rmin: -1.0, rdelta: 0.1, nstep: 20, use_mad: false };
        check_quantize("q4_K", x.len(), out.len());
        for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let mut l = [0u8; QK_K];
            let (d, dmin, scales) = q45_scales_mins(xb, 15, SEARCH, &mut l);
            let mut b = BlockQ4K { d, dmin, scales, qs: [0; QK_K / 2] };
            for j in 0..8 {
                let (sc, m) = get_scale_min_k4(j, &b.scales);
                let d = b.d.to_f32() * sc as f32;
                if d == 0.0 {
                    continue;
                }
                let dm = b.dmin.to_f32() * m as f32;
                for ii in 0..32 {
                    let q = nearest_int((xb[32 * j + ii] + dm) / d);
                    l[32 * j + ii] = q.clamp(0, 15) as u8;
                }
            }
            for c in 0..4 {
                for i in 0..32 {
                    b.qs[32 * c + i] = l[64 * c + i] | (l[64 * c + 32 + i] << 4);
                }
            }
            *y = b;
        }
    }

    fn vec_dot(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q4_K", w.len(), a.len());
        let mut sums = [0.0f32; 8];
        let mut sumf = 0.0f32;
        for (x, y) in w.iter().zip(a) {
            let mut scales = [0i32; 8];
            let mut mins = [0i32; 8];
            for j in 0..8 {
                let (sc, m) = get_scale_min_k4(j, &x.scales);
                scales[j] = sc as i32;
                mins[j] = m as i32;
            }
            let mut sumi = 0i32;
            for (j, &bs) in y.bsums.iter().enumerate() {
                sumi += bs as i32 * mins[j / 2];
            }
            let mut aux32 = [0i32; 8];
            for (i, &q8) in y.qs.iter().enumerate() {
                aux32[i % 8] += scales[i / 32] * (q8 as i32 * quant(&x.qs, i) as i32);
            }
            let d = x.d.to_f32() * y.d;
            for (s, &v) in sums.iter_mut().zip(&aux32) {
                *s += d * v as f32;
            }
            let dmin = x.dmin.to_f32() * y.d;
            sumf -= dmin * sumi as f32;
        }
        for s in sums {
            sumf += s;
        }
        sumf
    }
}
