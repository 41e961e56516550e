//! `q3_K`: 3-bit symmetric super-blocks of 256 values with 6-bit sub-block scales (3.4375 bits
//! per weight).
//!
//! Layout of [`BlockQ3K`] (110 bytes, little-endian):
//!
//! | bytes    | field    | meaning                                                          |
//! |----------|----------|------------------------------------------------------------------|
//! | 0..32    | `hmask`  | high bit of each quant: value `i` uses bit `i / 32` of `hmask[i % 32]` |
//! | 32..96   | `qs`     | low 2 bits of each quant, packed as in `q2_K` (below)            |
//! | 96..108  | `scales` | 16 6-bit scales, biased by 32 (below)                            |
//! | 108..110 | `d`      | `f16` super-scale                                                |
//!
//! Low-bit packing: in half `h`, value `128*h + 32*s + l` (`s` in 0..4, `l` in 0..32) has its low 2
//! bits at bits `2*s..2*s+2` of `qs[32*h + l]`.
//!
//! The quant is `q[i] = low2 - (high bit set ? 0 : 4)`, in -4..=3 (the high bit is stored *set* for
//! non-negative quants).
//!
//! Scale packing: the raw 6-bit scale `r[j]` of sub-block `j` (values `16*j..16*j+16`) has its low
//! nibble in `scales[j]` bits 0..4 for `j < 8` or `scales[j-8]` bits 4..8 for `j >= 8`, and its
//! high 2 bits in `scales[8 + j%4]` at bits `2*(j/4)..2*(j/4)+2`. The signed scale is
//! `sc[j] = r[j] - 32`.
//!
//! Value `i` (sub-block `j = i/16`) is `(d * sc[j]) * q[i]` in `f32` (`dequantize_row_q3_K`).
//!
//! Quantization (`quantize_row_q3_K_ref`): per sub-block, `make_q3_quants(nmax = 4, rmse)`; the
//! sub-block scales are quantized against the one of largest magnitude (`iscale = -32 / max_scale`,
//! `d = f16(1 / iscale)`, scales `nearest_int(iscale * scale)` clamped to -32..=31),
//! then every value is re-quantized with its rounded scale.
//!
//! The dot product is `ggml_vec_dot_q3_K_q8_K_generic`: exact integer sums in 8 lanes
//! (value `i` goes to lane `i % 8`), each lane scaled by `d_w * d_a` and accumulated over blocks
//! in its own `f32`, the 8 lanes summed in order at the end.

use half::f16;

use crate::formats::k_common::{
    K_SCALE_SIZE, QK_K, check_dequantize, check_quantize, check_vec_dot, fabsf, get_2bit, make_q3_quants,
    nearest_int, pack_2bit, unpack_q3_scales,
};
use crate::formats::q8_k::{BlockQ8K, Q8K};
use crate::{Format, QuantType};

/// One `q3_K` super-block as stored (see the [module docs](self) for the layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ3K {
    /// High bits of the quants.
    pub hmask: [u8; QK_K / 8],
    /// Low 2 bits of the quants.
    pub qs: [u8; QK_K / 4],
    /// Packed 6-bit sub-block scales.
    pub scales: [u8; K_SCALE_SIZE],
    /// Super-scale.
    pub d: f16,
}

const _: () = assert!(core::mem::size_of::<BlockQ3K>() == QuantType::Q3K.block_bytes());

/// The `q3_K` format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Q3K;

/// The signed 3-bit quant `i` (-4..=3) of a block.
#[inline]
fn quant(b: &BlockQ3K, i: usize) -> i32 {
    let high = b.hmask[i % 32] & (1 << (i / 32)) != 0;
    get_2bit(&b.qs, i) as i32 - if high { 0 } else { 4 }
}

impl Format for Q3K {
    const TYPE: QuantType = QuantType::Q3K;
    const ELEMS: usize = QK_K;
    type Block = BlockQ3K;
    type Activation = Q8K;

    fn dequantize(blocks: &[BlockQ3K], out: &mut [f32]) {
        check_dequantize("q3_K", blocks.len(), out.len());
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
            let d_all = b.d.to_f32();
            let scales = unpack_q3_scales(&b.scales);
            for (j, ys) in y.chunks_exact_mut(16).enumerate() {
                let dl = d_all * scales[j] as f32;
                for (l, o) in ys.iter_mut().enumerate() {
                    *o = dl * quant(b, 16 * j + l) as f32;
                }
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ3K]) {
        check_quantize("q3_K", x.len(), out.len());
        for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let mut l = [0i8; QK_K];
            let mut scales = [0.0f32; 16];
            let mut max_scale = 0.0f32;
            let mut amax = 0.0f32;
            for j in 0..16 {
                scales[j] = make_q3_quants(4, &xb[16 * j..16 * j + 16], &mut l[16 * j..16 * j + 16], true);
                let scale = fabsf(scales[j]);
                if scale > amax {
                    amax = scale;
                    max_scale = scales[j];
                }
            }

            let mut b = BlockQ3K { hmask: [0; 32], qs: [0; 64], scales: [0; K_SCALE_SIZE], d: f16::ZERO };
            if max_scale != 0.0 {
                let iscale = -32.0f32 / max_scale;
                for (j, &scale) in scales.iter().enumerate() {
                    let q = nearest_int(iscale * scale) as i8;
                    let q = (q.clamp(-32, 31) + 32) as u8;
                    if j < 8 {
                        b.scales[j] = q & 0xF;
                    } else {
                        b.scales[j - 8] |= (q & 0xF) << 4;
                    }
                    b.scales[j % 4 + 8] |= (q >> 4) << (2 * (j / 4));
                }
                b.d = f16::from_f32(1.0 / iscale);
            }

            let d_all = b.d.to_f32();
            let sc = unpack_q3_scales(&b.scales);
            for j in 0..16 {
                let d = d_all * sc[j] as f32;
                if d == 0.0 {
                    continue;
                }
                for ii in 0..16 {
                    let q = nearest_int(xb[16 * j + ii] / d);
                    l[16 * j + ii] = (q.clamp(-4, 3) + 4) as i8;
                }
            }

            // Split each quant (0..8) into its high bit (hmask) and low 2 bits (qs).
            let mut low = [0u8; QK_K];
            for (i, (&q, lo)) in l.iter().zip(low.iter_mut()).enumerate() {
                let mut q = q as u8;
                if q > 3 {
                    b.hmask[i % 32] |= 1 << (i / 32);
                    q -= 4;
                }
                *lo = q;
            }
            pack_2bit(&low, &mut b.qs);
            *y = b;
        }
    }

    fn vec_dot(w: &[BlockQ3K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q3_K", w.len(), a.len());
        let mut sums = [0.0f32; 8];
        for (x, y) in w.iter().zip(a) {
            let scales = unpack_q3_scales(&x.scales);
            let mut aux32 = [0i32; 8];
            for (i, &q8) in y.qs.iter().enumerate() {
                aux32[i % 8] += scales[i / 16] as i32 * (q8 as i32 * quant(x, i));
            }
            let d = x.d.to_f32() * y.d;
            for (s, &v) in sums.iter_mut().zip(&aux32) {
                *s += d * v as f32;
            }
        }
        let mut sumf = 0.0f32;
        for s in sums {
            sumf += s;
        }
        sumf
    }
}
