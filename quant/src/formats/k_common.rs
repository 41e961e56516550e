//! Helpers shared by the K-quant formats (`q2_K` .. `q8_K`): the super-block geometry, llama.cpp's
//! rounding trick, its scale searches (`make_qx_quants`, `make_q3_quants`, `make_qkx2_quants`) and
//! the unpacking of the packed sub-block scales.
//!
//! Every float expression here is written in the operation order of `ggml/src/ggml-quants.c`
//! (C's left-to-right association, `int` operands converted to `float` where C converts them),
//! so that the quantizers built on top reproduce llama.cpp's bytes. Rust never contracts `a*b+c`
//! into an FMA, matching llama.cpp built without FMA contraction (the x86-64 baseline).

use half::f16;

/// Values per K-quant super-block (`QK_K`).
pub(crate) const QK_K: usize = 256;

/// Bytes of packed 6-bit scales and mins in `q4_K`/`q5_K`, and of packed 6-bit scales in `q3_K`.
pub(crate) const K_SCALE_SIZE: usize = 12;

/// A group whose largest magnitude is below this is treated as all zeros (`GROUP_MAX_EPS`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// llama.cpp's `nearest_int`: round half to even through the float adder, by adding 1.5 * 2^23
/// and reading the low mantissa bits.
///
/// Valid for `|fval| <= 4194303` (llama.cpp asserts this in debug builds); outside that range the
/// result is whatever the bit trick yields, as in llama.cpp release builds (NaN gives 0).
#[inline]
pub(crate) fn nearest_int(fval: f32) -> i32 {
    let val = fval + 12_582_912.0;
    (val.to_bits() as i32 & 0x007f_ffff) - 0x0040_0000
}

/// `fabsf`.
#[inline]
pub(crate) fn fabsf(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0x7fff_ffff)
}

/// llama.cpp's `make_qx_quants`: symmetric quantization of `x` to `L[i] + (-nmax)`,
/// `L[i] in 0..2*nmax`, returning the scale. `rmse_type` selects the weighting (0: no search,
/// 1: `x^2`, 2: 1, 3: `|x|`, else `sqrt|x|`; negative: one refinement step only); `qw` overrides it.
pub(crate) fn make_qx_quants(
    nmax: i32,
    x: &[f32],
    out_l: &mut [i8],
    rmse_type: i32,
    qw: Option<&[f32]>,
) -> f32 {
    let n = x.len();
    assert_eq!(out_l.len(), n);
    let mut max = 0.0f32;
    let mut amax = 0.0f32;
    for &xi in x {
        let ax = fabsf(xi);
        if ax > amax {
            amax = ax;
            max = xi;
        }
    }
    if amax < GROUP_MAX_EPS {
        out_l.fill(0);
        return 0.0;
    }
    let mut iscale = -(nmax as f32) / max;
    if rmse_type == 0 {
        for (li, &xi) in out_l.iter_mut().zip(x) {
            let l = nearest_int(iscale * xi);
            *li = (nmax + l.clamp(-nmax, nmax - 1)) as i8;
        }
        return 1.0 / iscale;
    }
    let (rmse_type, return_early) = if rmse_type < 0 { (-rmse_type, true) } else { (rmse_type, false) };
    let weight = |i: usize| -> f32 {
        match qw {
            Some(qw) => qw[i],
            None => match rmse_type {
                1 => x[i] * x[i],
                2 => 1.0,
                3 => fabsf(x[i]),
                _ => libm::sqrtf(fabsf(x[i])),
            },
        }
    };
    let mut sumlx = 0.0f32;
    let mut suml2 = 0.0f32;
    for i in 0..n {
        let l = nearest_int(iscale * x[i]).clamp(-nmax, nmax - 1);
        out_l[i] = (l + nmax) as i8;
        let w = weight(i);
        let lf = l as f32;
        sumlx += w * x[i] * lf;
        suml2 += w * lf * lf;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    if return_early {
        return if suml2 > 0.0 { 0.5 * (scale + 1.0 / iscale) } else { 1.0 / iscale };
    }
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for (i, &xi) in x.iter().enumerate() {
            let l = nearest_int(iscale * xi).clamp(-nmax, nmax - 1);
            let w = weight(i);
            let lf = l as f32;
            sumlx += w * xi * lf;
            suml2 += w * lf * lf;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (li, &xi) in out_l.iter_mut().zip(x) {
                let l = nearest_int(iscale * xi);
                *li = (nmax + l.clamp(-nmax, nmax - 1)) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// llama.cpp's `make_q3_quants`: symmetric quantization of `x` to `L[i] - nmax`,
/// `L[i] in 0..2*nmax`, returning the scale; with `do_rmse`, up to 5 passes of coordinate descent
/// on the `x^2`-weighted error.
pub(crate) fn make_q3_quants(nmax: i32, x: &[f32], out_l: &mut [i8], do_rmse: bool) -> f32 {
    let n = x.len();
    assert_eq!(out_l.len(), n);
    let mut max = 0.0f32;
    let mut amax = 0.0f32;
    for &xi in x {
        let ax = fabsf(xi);
        if ax > amax {
            amax = ax;
            max = xi;
        }
    }
    if amax < GROUP_MAX_EPS {
        out_l.fill(0);
        return 0.0;
    }
    let iscale = -(nmax as f32) / max;
    if do_rmse {
        let mut sumlx = 0.0f32;
        let mut suml2 = 0.0f32;
        for (li, &xi) in out_l.iter_mut().zip(x) {
            let l = nearest_int(iscale * xi).clamp(-nmax, nmax - 1);
            *li = l as i8;
            let w = xi * xi;
            let lf = l as f32;
            sumlx += w * xi * lf;
            suml2 += w * lf * lf;
        }
        for _ in 0..5 {
            let mut n_changed = 0;
            for (li, &xi) in out_l.iter_mut().zip(x) {
                let w = xi * xi;
                let old = *li as f32;
                let mut slx = sumlx - w * xi * old;
                if slx > 0.0 {
                    let mut sl2 = suml2 - w * old * old;
                    let new_l = nearest_int(xi * sl2 / slx).clamp(-nmax, nmax - 1);
                    if new_l != *li as i32 {
                        let nf = new_l as f32;
                        slx += w * xi * nf;
                        sl2 += w * nf * nf;
                        if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                            *li = new_l as i8;
                            sumlx = slx;
                            suml2 = sl2;
                            n_changed += 1;
                        }
                    }
                }
            }
            if n_changed == 0 {
                break;
            }
        }
        for li in out_l.iter_mut() {
            *li += nmax as i8;
        }
        return if suml2 > 0.0 { sumlx / suml2 } else { 0.0 };
    }
    for (li, &xi) in out_l.iter_mut().zip(x) {
        let l = nearest_int(iscale * xi).clamp(-nmax, nmax - 1);
        *li = (l + nmax) as i8;
    }
    1.0 / iscale
}

/// The scale search grid of [`make_qkx2_quants`]: candidate inverse scales
/// `(rmin + rdelta*is + nmax) / (max - min)` for `is in 0..=nstep`, judged by absolute
/// (`use_mad`) or squared weighted error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Qkx2Search {
    pub rmin: f32,
    pub rdelta: f32,
    pub nstep: i32,
    pub use_mad: bool,
}

/// llama.cpp's `make_qkx2_quants`: asymmetric quantization `x[i] ~ scale*L[i] - the_min`,
/// `L[i] in 0..=nmax`, with a weighted least-squares refit of scale and min for each candidate
/// of `search`. Returns `(scale, the_min)`; `the_min >= 0` (the offset is never positive). At most
/// 32 values.
pub(crate) fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    out_l: &mut [u8],
    search: Qkx2Search,
) -> (f32, f32) {
    let n = x.len();
    assert!((1..=32).contains(&n) && weights.len() == n && out_l.len() == n);
    let mut laux = [0u8; 32];
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        out_l.fill(0);
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        let l = nearest_int(iscale * (x[i] - min));
        out_l[i] = l.clamp(0, nmax) as u8;
        let mut diff = scale * out_l[i] as f32 + min - x[i];
        diff = if search.use_mad { fabsf(diff) } else { diff * diff };
        best_error += weights[i] * diff;
    }
    if search.nstep < 1 {
        return (scale, -min);
    }
    for is in 0..=search.nstep {
        iscale = (search.rmin + search.rdelta * is as f32 + nmax as f32) / (max - min);
        let mut sum_l = 0.0f32;
        let mut sum_l2 = 0.0f32;
        let mut sum_xl = 0.0f32;
        for i in 0..n {
            let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = l as u8;
            let w = weights[i];
            let lf = l as f32;
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                let mut diff = this_scale * laux[i] as f32 + this_min - x[i];
                diff = if search.use_mad { fabsf(diff) } else { diff * diff };
                cur_error += weights[i] * diff;
            }
            if cur_error < best_error {
                out_l.copy_from_slice(&laux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// llama.cpp's `get_scale_min_k4`: the 6-bit scale and 6-bit min of sub-block `j` (0..8) of a
/// `q4_K`/`q5_K` super-block.
///
/// Sub-blocks 0..4: scale = `q[j] & 63`, min = `q[j+4] & 63`. Sub-blocks 4..8: the low 4 bits
/// are the nibbles of `q[j+4]` (scale low, min high), the high 2 bits are the top bits of
/// `q[j-4]` (scale) and `q[j]` (min).
#[inline]
pub(crate) fn get_scale_min_k4(j: usize, q: &[u8; K_SCALE_SIZE]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Packs 6-bit scales `ls` and mins `lm` (each `<= 63`) of 8 sub-blocks into the 12-byte layout
/// read by [`get_scale_min_k4`] (the packing loop of `quantize_row_q4_K_ref`).
pub(crate) fn pack_scale_min_k4(ls: &[u8; 8], lm: &[u8; 8]) -> [u8; K_SCALE_SIZE] {
    let mut q = [0u8; K_SCALE_SIZE];
    for j in 0..8 {
        if j < 4 {
            q[j] = ls[j];
            q[j + 4] = lm[j];
        } else {
            q[j + 4] = (ls[j] & 0xF) | ((lm[j] & 0xF) << 4);
            q[j - 4] |= (ls[j] >> 4) << 6;
            q[j] |= (lm[j] >> 4) << 6;
        }
    }
    q
}

/// The first half of `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref`: per sub-block of 32,
/// weights `sqrt(mean(x^2)) + |x|` and `make_qkx2_quants(nmax, search)` (writing the initial quants
/// to `l`); then the 6-bit quantization of the sub-block scales and mins against their maxima.
/// Returns the block header: `d`, `dmin` and the packed scales.
pub(crate) fn q45_scales_mins(
    xb: &[f32],
    nmax: i32,
    search: Qkx2Search,
    l: &mut [u8; QK_K],
) -> (f16, f16, [u8; K_SCALE_SIZE]) {
    assert_eq!(xb.len(), QK_K);
    let mut weights = [0.0f32; 32];
    let mut scales = [0.0f32; 8];
    let mut mins = [0.0f32; 8];
    let mut max_scale = 0.0f32;
    let mut max_min = 0.0f32;
    for j in 0..8 {
        let xs = &xb[32 * j..32 * j + 32];
        let mut sum_x2 = 0.0f32;
        for &v in xs {
            sum_x2 += v * v;
        }
        let av_x = libm::sqrtf(sum_x2 / 32.0);
        for (w, &v) in weights.iter_mut().zip(xs) {
            *w = av_x + fabsf(v);
        }
        let (scale, min) = make_qkx2_quants(nmax, xs, &weights, &mut l[32 * j..32 * j + 32], search);
        scales[j] = scale;
        mins[j] = min;
        if scale > max_scale {
            max_scale = scale;
        }
        if min > max_min {
            max_min = min;
        }
    }
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut ls = [0u8; 8];
    let mut lm = [0u8; 8];
    for j in 0..8 {
        ls[j] = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        lm[j] = (nearest_int(inv_min * mins[j]) as u8).min(63);
    }
    (f16::from_f32(max_scale / 63.0), f16::from_f32(max_min / 63.0), pack_scale_min_k4(&ls, &lm))
}

/// The 16 signed 6-bit scales of a `q3_K` super-block (`raw - 32`, in -32..=31).
///
/// Scale `j`: low 4 bits are the low (`j < 8`) or high (`j >= 8`) nibble of `scales[j % 8]`, high 2
/// bits are bits `2*(j/4)..2*(j/4)+2` of `scales[8 + j%4]`.
#[inline]
pub(crate) fn unpack_q3_scales(scales: &[u8; K_SCALE_SIZE]) -> [i8; 16] {
    let mut out = [0i8; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let low = if j < 8 { scales[j] & 0xF } else { scales[j - 8] >> 4 };
        let high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = (low | (high << 4)) as i8 - 32;
    }
    out
}

/// Packs 256 2-bit values (`< 4`) as `q2_K`/`q3_K` store them: in each half of 128 values, byte
/// `l` (0..32) holds values `l`, `l+32`, `l+64`, `l+96` at bit offsets 0, 2, 4, 6.
pub(crate) fn pack_2bit(l: &[u8; QK_K], qs: &mut [u8; QK_K / 4]) {
    for h in 0..2 {
        let lh = &l[128 * h..128 * h + 128];
        for i in 0..32 {
            qs[32 * h + i] = lh[i] | (lh[i + 32] << 2) | (lh[i + 64] << 4) | (lh[i + 96] << 6);
        }
    }
}

/// The 2-bit value `e` (0..256) of a `q2_K`/`q3_K` `qs` array (inverse of [`pack_2bit`]).
#[inline]
pub(crate) fn get_2bit(qs: &[u8; QK_K / 4], e: usize) -> u8 {
    let (h, r) = (e / 128, e % 128);
    (qs[32 * h + r % 32] >> (2 * (r / 32))) & 3
}

/// `hsum_float_8` of llama.cpp's x86 code: `((v4+v0)+(v6+v2)) + ((v5+v1)+(v7+v3))`.
#[inline]
pub(crate) fn hsum8(v: &[f32; 8]) -> f32 {
    ((v[4] + v[0]) + (v[6] + v[2])) + ((v[5] + v[1]) + (v[7] + v[3]))
}

#[track_caller]
pub(crate) fn check_dequantize(name: &str, blocks: usize, out: usize) {
    assert!(
        blocks.checked_mul(QK_K) == Some(out),
        "{name} dequantize: {blocks} blocks hold {blocks}*{QK_K} values but the output has {out}"
    );
}

#[track_caller]
pub(crate) fn check_quantize(name: &str, values: usize, blocks: usize) {
    assert!(
        blocks.checked_mul(QK_K) == Some(values),
        "{name} quantize: {values} input values do not fill the {blocks} output blocks of {QK_K}"
    );
}

#[track_caller]
pub(crate) fn check_vec_dot(name: &str, w: usize, a: usize) {
    assert!(w == a, "{name} vec_dot: {w} weight blocks against {a} q8_K activation blocks");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        for (x, r) in
            [(0.5f32, 0), (1.5, 2), (2.5, 2), (-0.5, 0), (-1.5, -2), (-2.49, -2), (3.7, 4), (-3.7, -4)]
        {
            assert_eq!(nearest_int(x), r, "{x}");
        }
    }

    #[test]
    fn scale_min_k4_packing_round_trips() {
        let ls = [0, 63, 17, 42, 1, 62, 33, 48];
        let lm = [63, 0, 5, 31, 60, 2, 47, 16];
        let q = pack_scale_min_k4(&ls, &lm);
        for j in 0..8 {
            assert_eq!(get_scale_min_k4(j, &q), (ls[j], lm[j]), "sub-block {j}");
        }
    }

    #[test]
    fn two_bit_packing_round_trips() {
        let mut l = [0u8; QK_K];
        for (i, v) in l.iter_mut().enumerate() {
            *v = ((i * 7 + i / 5) % 4) as u8;
        }
        let mut qs = [0u8; QK_K / 4];
        pack_2bit(&l, &mut qs);
        for (e, &v) in l.iter().enumerate() {
            assert_eq!(get_2bit(&qs, e), v, "value {e}");
        }
    }
}
