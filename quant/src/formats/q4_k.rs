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
//! ## Products: llama.cpp's x86-64 AVX2 arithmetic
//!
//! The products are bit-exact emulations of what llama.cpp computes on x86-64 with AVX2 (FMA,
//! no AVX-512), so that teacher-forced logits match it bit for bit; every emberlm tier (AVX2,
//! NEON, dotprod) reproduces these bits, so on aarch64 emberlm matches *x86* llama.cpp. A fused
//! multiply-add below is an IEEE `fma` ([`libm::fmaf`]). Let, per block, `sc[j]`/`m[j]` be the
//! 6-bit scales/mins, `q[i]` the 4-bit quants, `a[i]` the activation quants, and
//! `dot32[j] = Σ_{i in sub-block j} q[i]*a[i]`, `bs32[j] = bsums[2j] + bsums[2j+1]` (`i16`,
//! wrapping). Integer sums are exact. llama.cpp has three paths:
//!
//! - [`Format::vec_dot`] (`ggml_vec_dot_q4_K_q8_K`, AVX2), used when the weight matrix is not
//!   repacked (its row count is not a multiple of 8). Eight `i32` lanes, lane `l` (0..8) holding
//!   `Σ_j sc[j] * Σ_{k<4} q[32j+4l+k]*a[32j+4l+k]`, accumulated over blocks into `acc[l] =
//!   fma(d_a*d_w, lane, acc[l])`; four min lanes `k` (0..4) holding `m[2k]*bs32[2k] +
//!   m[2k+1]*bs32[2k+1]` into `accm[k] = fma((-d_a)*dmin_w, lane, accm[k])`. Result:
//!   `hsum8(acc) + ((accm[0]+accm[2]) + (accm[1]+accm[3]))` with
//!   `hsum8(v) = ((v4+v0)+(v6+v2)) + ((v5+v1)+(v7+v3))`.
//! - [`Q4K::dot_gemv`] (`ggml_gemv_q4_K_8x8_q8_K`, AVX2): the repacked product (weight row count
//!   a multiple of 8, llama.cpp's default on AVX2) for an activation row outside the groups of four
//!   (below). Per block `acc = fma(Σ_j sc[j]*dot32[j], d_w*d_a, acc)`,
//!   `accm = fma(Σ_j m[j]*bs32[j], dmin_w*d_a, accm)`; result `acc - accm`.
//! - [`Q4K::dot_gemm`] (`ggml_gemm_q4_K_8x8_q8_K`, AVX2): the repacked product for activation rows
//!   in groups of four. Per block and per pair `p` (0..4) of sub-blocks,
//!   `acc = fma(sc[2p]*dot32[2p] + sc[2p+1]*dot32[2p+1], d_w*d_a, acc)` and
//!   `accm = fma(m[2p]*bs32[2p] + m[2p+1]*bs32[2p+1], dmin_w*d_a, accm)`; result `acc - accm`.
//!
//! Which path an output takes ([`Q4K::path`]): with `n` activation rows against a weight matrix
//! of `rows` rows, if `rows % 8 != 0` every row takes `vec_dot` (activations quantized by
//! [`Q8K::quantize`]); otherwise rows `t < n - n % 4` take `dot_gemm` with activations quantized by
//! [`Q8K::quantize_4rows`], and the last `n % 4` rows take `dot_gemv` with [`Q8K::quantize`].

use half::f16;
use libm::fmaf;

use crate::formats::k_common::{
    K_SCALE_SIZE, QK_K, Qkx2Search, check_dequantize, check_quantize, check_vec_dot, get_scale_min_k4, hsum8,
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
        let mut acc = [0.0f32; 8];
        let mut accm = [0.0f32; 4];
        for (x, y) in w.iter().zip(a) {
            let (sc, mn) = scales_mins(x);
            let d = y.d * x.d.to_f32();
            let dmin = -y.d * x.dmin.to_f32();
            let bs = bs32(y);
            for (k, am) in accm.iter_mut().enumerate() {
                let prod = mn[2 * k] * bs[2 * k] + mn[2 * k + 1] * bs[2 * k + 1];
                *am = fmaf(dmin, prod as f32, *am);
            }
            let mut sumi = [0i32; 8];
            for (j, &s) in sc.iter().enumerate() {
                let quads = quad_dots(x, y, j);
                for (l, q) in quads.iter().enumerate() {
                    sumi[l] += s * q;
                }
            }
            for (acc, &v) in acc.iter_mut().zip(&sumi) {
                *acc = fmaf(d, v as f32, *acc);
            }
        }
        hsum8(&acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]))
    }
}

/// Which of llama.cpp's three `q4_K` products computes an output (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Q4KPath {
    /// [`Format::vec_dot`], activations by [`Q8K::quantize`].
    VecDot,
    /// [`Q4K::dot_gemv`], activations by [`Q8K::quantize`].
    Gemv,
    /// [`Q4K::dot_gemm`], activations by [`Q8K::quantize_4rows`].
    Gemm,
}

impl Q4K {
    /// The path of activation row `t` of `n` against a weight matrix of `rows` rows.
    pub const fn path(rows: usize, n: usize, t: usize) -> Q4KPath {
        if rows % 8 != 0 {
            Q4KPath::VecDot
        } else if t < n - n % 4 {
            Q4KPath::Gemm
        } else {
            Q4KPath::Gemv
        }
    }

    /// `ggml_gemv_q4_K_8x8_q8_K` (AVX2) for one weight row: see the [module docs](self).
    ///
    /// # Panics
    /// If the operands have different lengths.
    pub fn dot_gemv(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q4_K", w.len(), a.len());
        let mut acc = 0.0f32;
        let mut accm = 0.0f32;
        for (x, y) in w.iter().zip(a) {
            let (sc, mn) = scales_mins(x);
            let bs = bs32(y);
            let mut isum = 0i32;
            let mut imin = 0i32;
            for j in 0..8 {
                isum += sc[j] * quad_dots(x, y, j).iter().sum::<i32>();
                imin += mn[j] * bs[j];
            }
            acc = fmaf(isum as f32, x.d.to_f32() * y.d, acc);
            accm = fmaf(imin as f32, x.dmin.to_f32() * y.d, accm);
        }
        acc - accm
    }

    /// `ggml_gemm_q4_K_8x8_q8_K` (AVX2) for one weight row and one activation row of a group of
    /// four: see the [module docs](self).
    ///
    /// # Panics
    /// If the operands have different lengths.
    pub fn dot_gemm(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
        check_vec_dot("q4_K", w.len(), a.len());
        let mut acc = 0.0f32;
        let mut accm = 0.0f32;
        for (x, y) in w.iter().zip(a) {
            let (sc, mn) = scales_mins(x);
            let bs = bs32(y);
            let d = x.d.to_f32() * y.d;
            let dmin = x.dmin.to_f32() * y.d;
            for p in 0..4 {
                let (j0, j1) = (2 * p, 2 * p + 1);
                let ip = sc[j0] * quad_dots(x, y, j0).iter().sum::<i32>()
                    + sc[j1] * quad_dots(x, y, j1).iter().sum::<i32>();
                acc = fmaf(ip as f32, d, acc);
                let im = mn[j0] * bs[j0] + mn[j1] * bs[j1];
                accm = fmaf(im as f32, dmin, accm);
            }
        }
        acc - accm
    }
}

/// The 6-bit scales and mins of a block, as `i32`.
fn scales_mins(x: &BlockQ4K) -> ([i32; 8], [i32; 8]) {
    let mut sc = [0i32; 8];
    let mut mn = [0i32; 8];
    for j in 0..8 {
        let (s, m) = get_scale_min_k4(j, &x.scales);
        sc[j] = s as i32;
        mn[j] = m as i32;
    }
    (sc, mn)
}

/// `bs32[j] = bsums[2j] + bsums[2j+1]` (`i16` wrapping, as `_mm_hadd_epi16`), as `i32`.
fn bs32(y: &BlockQ8K) -> [i32; 8] {
    core::array::from_fn(|j| y.bsums[2 * j].wrapping_add(y.bsums[2 * j + 1]) as i32)
}

/// Sub-block `j`'s products in four-value groups: lane `l` is `Σ_{k<4} q[32j+4l+k]*a[32j+4l+k]`.
fn quad_dots(x: &BlockQ4K, y: &BlockQ8K, j: usize) -> [i32; 8] {
    core::array::from_fn(|l| {
        (0..4)
            .map(|k| {
                let i = 32 * j + 4 * l + k;
                quant(&x.qs, i) as i32 * y.qs[i] as i32
            })
            .sum()
    })
}
