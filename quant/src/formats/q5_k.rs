//! `q5_K`: 5-bit super-blocks of 256 values with 6-bit sub-block scales and mins (5.5 bits per
//! weight).
//!
//! Layout of [`BlockQ5K`] (176 bytes, little-endian):
//!
//! | bytes   | field    | meaning                                                            |
//! |---------|----------|--------------------------------------------------------------------|
//! | 0..2    | `d`      | `f16` super-scale of the scales                                    |
//! | 2..4    | `dmin`   | `f16` super-scale of the mins                                      |
//! | 4..16   | `scales` | 8 6-bit scales `sc[j]` and 8 6-bit mins `m[j]`, packed as in `q4_K` |
//! | 16..48  | `qh`     | 5th (high) bit of each quant (below)                               |
//! | 48..176 | `qs`     | low 4 bits of each quant, packed as in `q4_K` (below)              |
//!
//! Sub-block `j` (0..8) covers values `32*j..32*j+32`. Scale/min packing (`get_scale_min_k4`): for
//! `j < 4`, `sc[j] = scales[j] & 63` and `m[j] = scales[j+4] & 63`; for `j >= 4`, the low 4 bits of
//! `sc[j]` / `m[j]` are the low / high nibble of `scales[j+4]`, and their high 2 bits are the top 2
//! bits of `scales[j-4]` / `scales[j]`.
//!
//! Quant packing: value `i = 32*j + l` (`l` in 0..32) has its low 4 bits in the low (`j` even) or
//! high (`j` odd) nibble of `qs[32*(j/2) + l]` and its high bit at bit `j` of `qh[l]`;
//! `q[i]` is in 0..=31.
//!
//! Value `i` (sub-block `j = i/32`) is `(d * sc[j]) * q[i] - dmin * m[j]` in `f32`
//! (`dequantize_row_q5_K`).
//!
//! Quantization (`quantize_row_q5_K_ref`): as `q4_K` with `nmax = 31` and the inverse scales
//! `(nmax - 0.5 + 0.1*is) / (max - min)`, `is` in 0..=15.
//!
//! The dot product is `ggml_vec_dot_q5_K_q8_K_generic`, structured as the `q4_K` one: 8 integer
//! lanes (value `i` to lane `i % 8`) each accumulated in its own `f32`, mins applied through the
//! activation's `bsums` into the main accumulator, which receives the lanes in order at the end.

use half::f16;

use crate::formats::k_common::{
    K_SCALE_SIZE, QK_K, Qkx2Search, check_dequantize, check_quantize, check_vec_dot, get_scale_min_k4,
    nearest_int, q45_scales_mins,
};
use crate::formats::q8_k::{BlockQ8K, Q8K};
use crate::{Format, QuantType};

/// One `q5_K` super-block as stored (see the [module docs](self) for the layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ5K {
    /// Super-scale of the scales.
    pub d: f16,
    /// Super-scale of the mins.
    pub dmin: f16,
    /// Packed 6-bit scales and mins.
    pub scales: [u8; K_SCALE_SIZE],
    /// High bits of the quants.
    pub qh: [u8; QK_K / 8],
    /// Low 4 bits of the quants.
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(core::mem::size_of::<BlockQ5K>() == QuantType::Q5K.block_bytes());

/// The `q5_K` format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Q5K;

/// The 5-bit quant `i` (0..=31) of a block.
#[inline]
fn quant(b: &BlockQ5K, i: usize) -> u8 {
    let (j, l) = (i / 32, i % 32);
    let byte = b.qs[32 * (j / 2) + l];
    let low = if j % 2 == 0 { byte & 0xF } else { byte >> 4 };
    low + if b.qh[l] & (1 << j) != 0 { 16 } else { 0 }
}

impl Format for Q5K {
    const TYPE: QuantType = QuantType::Q5K;
    const ELEMS: usize = QK_K;
    type Block = BlockQ5K;
    type Activation = Q8K;

    fn dequantize(blocks: &[BlockQ5K], out: &mut [f32]) {
        check_dequantize("q5_K", blocks.len(), out.len());
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
            let d = b.d.to_f32();
            let min = b.dmin.to_f32();
            for (j, ys) in y.chunks_exact_mut(32).enumerate() {
                let (sc, m) = get_scale_min_k4(j, &b.scales);
                let d1 = d * sc as f32;
                let m1 = min * m as f32;
                for (l, o) in ys.iter_mut().enumerate() {
                    *o = d1 * quant(b, 32 * j + l) as f32 - m1;
                }
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ5K]) {
        const SEARCH: Qkx2Search = Qkx2Search { rmin: -0.5, rdelta: 0.1, nstep: 15, use_mad: false };
        check_quantize("q5_K", x.len(), out.len());
        for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let mut l = [0u8; QK_K];
            let (d, dmin, scales) = q45_scales_mins(xb, 31, SEARCH, &mut l);
            let mut b = BlockQ5K { d, dmin, scales, qh: [0; QK_K / 8], qs: [0; QK_K / 2] };
            for j in 0..8 {
                let (sc, m) = get_scale_min_k4(j, &b.scales);
                let d = b.d.to_f32() * sc as f32;
                if d == 0.0 {
                    continue;
                }
                let dm = b.dmin.to_f32() * m as f32;
                for ii in 0..32 {
                    let q = nearest_int((xb[32 * j + ii] + dm) / d);
                    l[32 * j + ii] = q.clamp(0, 31) as u8;
                }
            }
            for (i, &q) in l.iter().enumerate() {
                let (j, lane) = (i / 32, i % 32);
                if q > 15 {
                    b.qh[lane] |= 1 << j;
                }
                b.qs[32 * (j / 2) + lane] |= (q & 0xF) << (4 * (j % 2));
            }
            *y = b;
        }
    }

    fn vec_dot(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q5_K", w.len(), a.len());
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
                aux32[i % 8] += scales[i / 32] * (q8 as i32 * quant(x, i) as i32);
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
