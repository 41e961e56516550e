//! `q6_K`: 6-bit symmetric super-blocks of 256 values with 8-bit sub-block scales (6.5625 bits
//! per weight).
//!
//! Layout of [`BlockQ6K`] (210 bytes, little-endian):
//!
//! | bytes    | field    | meaning                                                          |
//! |----------|----------|------------------------------------------------------------------|
//! | 0..128   | `ql`     | low 4 bits of each quant (below)                                 |
//! | 128..192 | `qh`     | high 2 bits of each quant (below)                                |
//! | 192..208 | `scales` | 16 `i8` scales `sc[j]`, sub-block `j` = values `16*j..16*j+16`   |
//! | 208..210 | `d`      | `f16` super-scale                                                |
//!
//! Quant packing: the block is two halves of 128 values; in half `h`, value `128*h + 32*s + l`
//! (`s` in 0..4, `l` in 0..32) has its low 4 bits in the low (`s` = 0, 1) or high (`s` = 2, 3)
//! nibble of `ql[64*h + 32*(s%2) + l]` and its high 2 bits at bits `2*s..2*s+2` of
//! `qh[32*h + l]`. The 6-bit unsigned value is biased by 32: `q[i] = raw - 32`, in -32..=31.
//!
//! Value `i` (sub-block `j = i/16`) is `(d * sc[j]) * q[i]` in `f32` (`dequantize_row_q6_K`).
//!
//! Quantization (`quantize_row_q6_K_ref`): per sub-block, `make_qx_quants(nmax = 32,
//! rmse_type = 1)`; the scales are quantized to 8 bits against the one of largest magnitude
//! (`iscale = -128 / max_scale`, `d = f16(1 / iscale)`, scales
//! `min(127, nearest_int(iscale * scale))`), and every value is re-quantized with its rounded scale.
//! A block whose scales are all below 1e-15 in magnitude is stored as all zeros.
//!
//! The dot product is llama.cpp's x86-64 AVX2 `ggml_vec_dot_q6_K_q8_K`, emulated bit for bit
//! (every emberlm tier reproduces it; q6_K is never repacked on x86): with `u[i] = q[i] + 32`
//! (0..=63), `a[i]` the activation quants and `sc[j]` the scales, eight exact `i32` lanes per block,
//! lane `l` (0..8) holding `Σ_{c<8} Σ_{k<4} sc[(32c+4l+k)/16] * u[32c+4l+k] * a[32c+4l+k] -
//! 32 * (bsums[2l]*sc[2l] + bsums[2l+1]*sc[2l+1])`, accumulated over blocks into
//! `acc[l] = fma(d_a*d_w, lane, acc[l])` (an IEEE fused multiply-add, [`libm::fmaf`]); the result
//! is `((acc4+acc0)+(acc6+acc2)) + ((acc5+acc1)+(acc7+acc3))` (`hsum_float_8`).

use half::f16;
use libm::fmaf;

use crate::formats::k_common::{
    QK_K, check_dequantize, check_quantize, check_vec_dot, fabsf, hsum8, make_qx_quants, nearest_int,
};
use crate::formats::q8_k::{BlockQ8K, Q8K};
use crate::{Format, QuantType};

/// One `q6_K` super-block as stored (see the [module docs](self) for the layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlockQ6K {
    /// Low 4 bits of the quants.
    pub ql: [u8; QK_K / 2],
    /// High 2 bits of the quants.
    pub qh: [u8; QK_K / 4],
    /// 8-bit sub-block scales.
    pub scales: [i8; QK_K / 16],
    /// Super-scale.
    pub d: f16,
}

const _: () = assert!(core::mem::size_of::<BlockQ6K>() == QuantType::Q6K.block_bytes());

/// The `q6_K` format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Q6K;

/// The signed 6-bit quant `i` (-32..=31) of a block.
#[inline]
fn quant(b: &BlockQ6K, i: usize) -> i32 {
    let (h, s, l) = (i / 128, (i % 128) / 32, i % 32);
    let byte = b.ql[64 * h + 32 * (s % 2) + l];
    let low = if s < 2 { byte & 0xF } else { byte >> 4 };
    let high = (b.qh[32 * h + l] >> (2 * s)) & 3;
    (low | (high << 4)) as i32 - 32
}

impl Q6K {
    /// Activation rows from which llama.cpp's x86-64 CPU backend computes a `q6_K` product with
    /// its tiled K-quant matmul (`ggml_compute_forward_mul_mat_tiled`, `ggml_tiled_min_batch`)
    /// instead of [`Q6K::vec_dot`].
    pub const TILED_MIN_ROWS: usize = 8;

    /// The dot product of llama.cpp's tiled K-quant matmul (ggml-cpu/tiled, the AVX2
    /// micro-tile), which computes a batch of [`Q6K::TILED_MIN_ROWS`] or more activation rows:
    /// per block the exact `i32` sum `s1 = Σ sc[i/16] * q[i] * a[i]`, then `res = d_w * (f32)s1`
    /// (rounded) and `acc = fma(res, d_a, acc)`, blocks in order from `acc = 0`.
    ///
    /// # Panics
    /// If the operands cover different numbers of blocks.
    pub fn dot_tiled(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q6_K", w.len(), a.len());
        let mut acc = 0.0f32;
        for (x, y) in w.iter().zip(a) {
            let s1: i32 = (0..QK_K).map(|i| x.scales[i / 16] as i32 * quant(x, i) * y.qs[i] as i32).sum();
            acc = fmaf(x.d.to_f32() * s1 as f32, y.d, acc);
        }
        acc
    }
}

impl Format for Q6K {
    const TYPE: QuantType = QuantType::Q6K;
    const ELEMS: usize = QK_K;
    type Block = BlockQ6K;
    type Activation = Q8K;

    fn dequantize(blocks: &[BlockQ6K], out: &mut [f32]) {
        check_dequantize("q6_K", blocks.len(), out.len());
        for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
            let d = b.d.to_f32();
            for (j, ys) in y.chunks_exact_mut(16).enumerate() {
                let sc = b.scales[j] as f32;
                for (l, o) in ys.iter_mut().enumerate() {
                    *o = d * sc * quant(b, 16 * j + l) as f32;
                }
            }
        }
    }

    fn quantize(x: &[f32], out: &mut [BlockQ6K]) {
        check_quantize("q6_K", x.len(), out.len());
        for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let mut l = [0i8; QK_K];
            let mut scales = [0.0f32; 16];
            let mut max_scale = 0.0f32;
            let mut max_abs_scale = 0.0f32;
            for ib in 0..16 {
                let scale =
                    make_qx_quants(32, &xb[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16], 1, None);
                scales[ib] = scale;
                let abs_scale = fabsf(scale);
                if abs_scale > max_abs_scale {
                    max_abs_scale = abs_scale;
                    max_scale = scale;
                }
            }

            let mut b = BlockQ6K { ql: [0; QK_K / 2], qh: [0; QK_K / 4], scales: [0; 16], d: f16::ZERO };
            if max_abs_scale < 1e-15 {
                *y = b;
                continue;
            }
            let iscale = -128.0f32 / max_scale;
            b.d = f16::from_f32(1.0 / iscale);
            for (s, &scale) in b.scales.iter_mut().zip(&scales) {
                *s = nearest_int(iscale * scale).min(127) as i8;
            }
            for j in 0..16 {
                let d = b.d.to_f32() * b.scales[j] as f32;
                if d == 0.0 {
                    continue;
                }
                for ii in 0..16 {
                    let q = nearest_int(xb[16 * j + ii] / d);
                    l[16 * j + ii] = (q.clamp(-32, 31) + 32) as i8;
                }
            }
            for (i, &q) in l.iter().enumerate() {
                let q = q as u8;
                let (h, s, lane) = (i / 128, (i % 128) / 32, i % 32);
                b.ql[64 * h + 32 * (s % 2) + lane] |= (q & 0xF) << if s < 2 { 0 } else { 4 };
                b.qh[32 * h + lane] |= (q >> 4) << (2 * s);
            }
            *y = b;
        }
    }

    fn vec_dot(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q6_K", w.len(), a.len());
        let mut acc = [0.0f32; 8];
        for (x, y) in w.iter().zip(a) {
            let d = y.d * x.d.to_f32();
            let mut sumi = [0i32; 8];
            for (l, s) in sumi.iter_mut().enumerate() {
                for c in 0..8 {
                    for k in 0..4 {
                        let i = 32 * c + 4 * l + k;
                        *s += x.scales[i / 16] as i32 * ((quant(x, i) + 32) * y.qs[i] as i32);
                    }
                }
                let sub = y.bsums[2 * l] as i32 * x.scales[2 * l] as i32
                    + y.bsums[2 * l + 1] as i32 * x.scales[2 * l + 1] as i32;
                *s -= sub << 5;
            }
            for (acc, &v) in acc.iter_mut().zip(&sumi) {
                *acc = fmaf(d, v as f32, *acc);
            }
        }
        hsum8(&acc)
    }
}
