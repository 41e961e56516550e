//! `q2_K`: 2-bit super-blocks of 256 values with 4-bit sub-block scales and mins (2.625 bits per
//! weight).
//!
//! Layout of [`BlockQ2K`] (84 bytes, little-endian):
//!
//! | bytes   | field    | meaning                                                             |
//! |---------|----------|---------------------------------------------------------------------|
//! | 0..16   | `scales` | sub-block `j` (values `16*j..16*j+16`): `sc[j]` low nibble, `m[j]` high |
//! | 16..80  | `qs`     | 256 2-bit quants `q[i]` in 0..=3 (packing below)                    |
//! | 80..82  | `d`      | `f16` super-scale of the scales                                     |
//! | 82..84  | `dmin`   | `f16` super-scale of the mins                                       |
//!
//! Quant packing: the block is two halves of 128 values; in half `h`, value `128*h + 32*s + l`
//! (`s` in 0..4, `l` in 0..32) is bits `2*s..2*s+2` of `qs[32*h + l]`.
//!
//! Value `i` (sub-block `j = i/16`) is `(d * sc[j]) * q[i] - dmin * m[j]`, evaluated in `f32` in that
//! order (`dequantize_row_q2_K`).
//!
//! Quantization (`quantize_row_q2_K_ref`): per sub-block, `make_qkx2_quants` with `nmax = 3`,
//! weights `|x|`, absolute-error search over the inverse scales `(nmax - 0.5 + 0.1*is) / (max - min)`,
//! `is` in 0..=15; scales and mins are then
//! quantized to 4 bits against their maxima (`d = max_scale/15`, `dmin = max_min/15`) and every
//! value is re-quantized with the rounded scale and min.
//!
//! The dot product is `ggml_vec_dot_q2_K_q8_K_generic`: exact integer sums per block, mins applied
//! through the activation's `bsums`, one `f32` accumulator over blocks.

use half::f16;

use crate::formats::k_common::{
    QK_K, Qkx2Search, check_dequantize, check_quantize, check_vec_dot, fabsf, get_2bit, make_qkx2_quants,
    nearest_int, pack_2bit,
};
use crate::formats::q8_k::{BlockQ8K, Q8K};
use crate::{Format, QuantType};

/// One `q2_K` super-block as stored (see the [module docs](self) for the layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ2K {
    /// 4-bit scales (low nibbles) and mins (high nibbles) of the 16 sub-blocks.
    pub scales: [u8; QK_K / 16],
    /// 2-bit quants.
    pub qs: [u8; QK_K / 4],
    /// Super-scale of the scales.
    pub d: f16,
    /// Super-scale of the mins.
    pub dmin: f16,
}

const _: () = assert!(core::mem::size_of::<BlockQ2K>() == QuantType::Q2K.block_bytes());

/// The `q2_K` format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Q2K;

impl Format for Q2K {
    const TYPE: QuantType = QuantType::Q2K;
    const ELEMS: usize = QK_K;
    type Block = BlockQ2K;
    type Activation = Q8K;

    fn dequantize(blocks: &[BlockQ2K], out: &mut [f32]) {
        check_dequantize("q2_K", blocks.len(), out.len());
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
            let d = b.d.to_f32();
            let min = b.dmin.to_f32();
            for (j, ys) in y.chunks_exact_mut(16).enumerate() {
                let sc = b.scales[j];
                let dl = d * (sc & 0xF) as f32;
                let ml = min * (sc >> 4) as f32;
                for (l, o) in ys.iter_mut().enumerate() {
                    *o = dl * get_2bit(&b.qs, 16 * j + l) as f32 - ml;
                }
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ2K]) {
        const Q4SCALE: f32 = 15.0;
        const SEARCH: Qkx2Search = Qkx2Search { rmin: -0.5, rdelta: 0.1, nstep: 15, use_mad: true };
        check_quantize("q2_K", x.len(), out.len());
        for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let mut l = [0u8; QK_K];
            let mut weights = [0.0f32; 16];
            let mut scales = [0.0f32; 16];
            let mut mins = [0.0f32; 16];
            let mut max_scale = 0.0f32;
            let mut max_min = 0.0f32;
            for j in 0..16 {
                let xs = &xb[16 * j..16 * j + 16];
                for (w, &v) in weights.iter_mut().zip(xs) {
                    *w = fabsf(v);
                }
                let (scale, min) = make_qkx2_quants(3, xs, &weights, &mut l[16 * j..16 * j + 16], SEARCH);
                scales[j] = scale;
                mins[j] = min;
                if scale > max_scale {
                    max_scale = scale;
                }
                if min > max_min {
                    max_min = min;
                }
            }

            let mut b = BlockQ2K { scales: [0; 16], qs: [0; 64], d: f16::ZERO, dmin: f16::ZERO };
            if max_scale > 0.0 {
                let iscale = Q4SCALE / max_scale;
                for (s, &scale) in b.scales.iter_mut().zip(&scales) {
                    *s = nearest_int(iscale * scale) as u8;
                }
                b.d = f16::from_f32(max_scale / Q4SCALE);
            }
            if max_min > 0.0 {
                let iscale = Q4SCALE / max_min;
                for (s, &min) in b.scales.iter_mut().zip(&mins) {
                    *s |= (nearest_int(iscale * min) << 4) as u8;
                }
                b.dmin = f16::from_f32(max_min / Q4SCALE);
            }
            let d_all = b.d.to_f32();
            let dmin_all = b.dmin.to_f32();
            for j in 0..16 {
                let d = d_all * (b.scales[j] & 0xF) as f32;
                if d == 0.0 {
                    continue;
                }
                let dm = dmin_all * (b.scales[j] >> 4) as f32;
                for ii in 0..16 {
                    let q = nearest_int((xb[16 * j + ii] + dm) / d);
                    l[16 * j + ii] = q.clamp(0, 3) as u8;
                }
            }
            pack_2bit(&l, &mut b.qs);
            *y = b;
        }
    }

    fn vec_dot(w: &[BlockQ2K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q2_K", w.len(), a.len());
        let mut sumf = 0.0f32;
        for (x, y) in w.iter().zip(a) {
            let mut summs = 0i32;
            for (&bs, &sc) in y.bsums.iter().zip(&x.scales) {
                summs += bs as i32 * (sc >> 4) as i32;
            }
            let dall = y.d * x.d.to_f32();
            let dmin = y.d * x.dmin.to_f32();
            let mut isum = 0i32;
            for (j, &sc) in x.scales.iter().enumerate() {
                let mut isuml = 0i32;
                for l in 16 * j..16 * j + 16 {
                    isuml += y.qs[l] as i32 * get_2bit(&x.qs, l) as i32;
                }
                isum += (sc & 0xF) as i32 * isuml;
            }
            sumf += dall * isum as f32 - dmin * summs as f32;
        }
        sumf
    }
}
