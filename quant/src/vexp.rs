//! ggml's vectorized `exp` and SiLU, and the two row operations built on them (attention's
//! softmax exponentials and SwiGLU): the spec (safe scalar code) that every kernel tier
//! reproduces **bit for bit**.
//!
//! llama.cpp's CPU backend, as built for x86-64 with AVX2 and FMA, does not call libm's `expf`
//! for these: `ggml_vec_soft_max_f32`, `ggml_vec_silu_f32` and `ggml_vec_swiglu_f32`
//! (`ggml/src/ggml-cpu/vec.cpp`) run `ggml_v_expf` / `ggml_v_silu` (`vec.h`, a polynomial adapted
//! from ARM's optimized routines, with fused multiply-adds) on each whole chunk of 8 values from
//! the start of the row, and the scalar C functions (`expf`, `ggml_silu_f32`) on the last
//! `n % 8`. [`v_expf`] is one lane of `ggml_v_expf` (the lanes are independent: the vector
//! code's "any lane needs the slow path" branch picks, per lane, results that are equal to the
//! fast path's where the slow path is not needed), with every `_mm256_fmadd_ps` an IEEE fused
//! multiply-add. So the scalar spec, the AVX2 kernels and the NEON kernels all compute the
//! values llama.cpp computes on x86-64 (and on aarch64 we therefore match x86-64 llama.cpp, not
//! ARM llama.cpp, whose NEON `ggml_v_expf` is a different polynomial and uses chunks of 4).
//!
//! The scalar remainder uses [`crate::cmath::expf`]: with `std` the C library's `expf`, as
//! llama.cpp; without `std` the `libm` crate's, which differs from glibc's by one ulp on some
//! inputs, so there a row whose length is not a multiple of 8 can differ from llama.cpp in its
//! last `n % 8` values (llama.cpp's attention rows are its padded KV length, a multiple of 256,
//! and the feed-forward widths of the supported models are multiples of 8).

use crate::cmath::{expf, fmaf};

/// `0x1.8p23`: adding it rounds to an integer (the shift of `ggml_v_expf`).
const SHIFT: f32 = f32::from_bits(0x4b40_0000);
/// `0x1.715476p+0`: `1/ln 2`.
const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
/// `0x1.62e4p-1` and `0x1.7f7d1cp-20`: `ln 2` split in a high and a low part.
const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
/// The polynomial's coefficients, highest degree first.
const P0: f32 = f32::from_bits(0x3c07_2010);
const P1: f32 = f32::from_bits(0x3d2b_9f17);
const P2: f32 = f32::from_bits(0x3e2a_af33);
const P3: f32 = f32::from_bits(0x3eff_fedb);
const P4: f32 = f32::from_bits(0x3f7f_fff6);

/// One lane of ggml's AVX2 `ggml_v_expf` (overflows to `inf` above about 88.38, flushes to 0
/// below about -103.97, `exp(-inf) = 0`).
#[inline]
pub fn v_expf(x: f32) -> f32 {
    let z = fmaf(x, INV_LN2, SHIFT);
    let n = z - SHIFT;
    let b = fmaf(-n, LN2_LO, fmaf(-n, LN2_HI, x));
    let e = z.to_bits() << 23;
    let k = f32::from_bits(e.wrapping_add(1.0f32.to_bits()));
    let u = b * b;
    let j = fmaf(fmaf(fmaf(P0, b, P1), u, fmaf(P2, b, P3)), u, P4 * b);
    // `c`: |n| > 126 (false for NaN, as _CMP_GT_OQ).
    let c = fabs(n) > 126.0;
    if !c {
        return fmaf(j, k, k);
    }
    let g: u32 = if n <= 0.0 { 0x8200_0000 } else { 0 };
    let s1 = f32::from_bits(g.wrapping_add(0x7f00_0000));
    let s2 = f32::from_bits(e.wrapping_sub(g));
    if fabs(n) > 192.0 { s1 * s1 } else { fmaf(s2, j, s2) * s1 }
}

/// One lane of ggml's AVX2 `ggml_v_silu`: `x / (1 + v_expf(0 - x))`.
#[inline]
pub fn v_silu(x: f32) -> f32 {
    x / (1.0 + v_expf(0.0 - x))
}

/// ggml's scalar `ggml_silu_f32`: `x / (1 + expf(-x))` (the remainder of a row).
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0f32 + expf(-x))
}

#[inline]
fn fabs(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0x7fff_ffff)
}

/// The horizontal sum of 8 values as ggml's AVX2 code does it (`hsum` of tinyBLAS, the sum in
/// `ggml_vec_soft_max_f32`): the 128-bit halves (`v[l] + v[l+4]`), then `(a0 + a2) + (a1 + a3)`.
#[inline]
pub fn hsum8(v: &[f32; 8]) -> f32 {
    let a = [v[4] + v[0], v[5] + v[1], v[6] + v[2], v[7] + v[3]];
    (a[0] + a[2]) + (a[1] + a[3])
}

/// ggml's `ggml_vec_soft_max_f32` in place: `x[i] = exp(x[i] - max)` ([`v_expf`] on the whole
/// chunks of 8, libm `expf` on the last `n % 8`), returning their sum: each chunk's [`hsum8`]
/// in f32, then the chunks and the remainder's values in order in f64.
pub fn softmax_exp(x: &mut [f32], max: f32) -> f64 {
    let mut sum = 0f64;
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut v = [0f32; 8];
        for (v, x) in v.iter_mut().zip(c.iter_mut()) {
            *v = v_expf(*x - max);
            *x = *v;
        }
        sum += f64::from(hsum8(&v));
    }
    softmax_exp_rest(chunks.into_remainder(), max, sum)
}

/// The scalar part of [`softmax_exp`]: `x[i] = expf(x[i] - max)` for the last `n % 8` values of
/// a row, each added to `sum` (the chunks' sum so far) in f64, in order.
pub fn softmax_exp_rest(x: &mut [f32], max: f32, mut sum: f64) -> f64 {
    for x in x {
        let e = expf(*x - max);
        sum += f64::from(e);
        *x = e;
    }
    sum
}

/// ggml's `ggml_vec_swiglu_f32` in place: `gate[i] = silu(gate[i]) * up[i]`, with [`v_silu`] on
/// the whole chunks of 8 and [`silu`] on the last `n % 8`.
///
/// # Panics
/// If the lengths differ.
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "swiglu: operand lengths");
    let whole = gate.len() / 8 * 8;
    let (gv, gs) = gate.split_at_mut(whole);
    let (uv, us) = up.split_at(whole);
    for (g, &u) in gv.iter_mut().zip(uv) {
        *g = v_silu(*g) * u;
    }
    for (g, &u) in gs.iter_mut().zip(us) {
        *g = silu(*g) * u;
    }
}

/// [`softmax_exp`] as stored in the [`Kernels`](crate::Kernels) tables.
pub type SoftmaxExpFn = fn(&mut [f32], f32) -> f64;
/// [`swiglu`] as stored in the [`Kernels`](crate::Kernels) tables.
pub type SwigluFn = fn(&mut [f32], &[f32]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v_expf_is_close_to_exp_and_saturates() {
        for i in -870..=880 {
            let x = i as f32 * 0.1;
            let want = libm::exp(f64::from(x));
            let got = f64::from(v_expf(x));
            assert!((got - want).abs() <= want * 4e-7, "{x}: {got} vs {want}");
        }
        assert_eq!(v_expf(f32::NEG_INFINITY), 0.0);
        assert_eq!(v_expf(-200.0), 0.0);
        assert_eq!(v_expf(100.0), f32::INFINITY);
        assert_eq!(v_expf(0.0), 1.0);
        assert!(v_expf(f32::NAN).is_nan());
    }

    #[test]
    fn softmax_exp_uses_the_vector_exp_on_whole_chunks_only() {
        let mut x: [f32; 11] = core::array::from_fn(|i| i as f32 * 0.37 - 2.0);
        let orig = x;
        let sum = softmax_exp(&mut x, 1.5);
        for i in 0..8 {
            assert_eq!(x[i].to_bits(), v_expf(orig[i] - 1.5).to_bits());
        }
        for i in 8..11 {
            assert_eq!(x[i].to_bits(), expf(orig[i] - 1.5).to_bits());
        }
        let first: [f32; 8] = x[..8].try_into().unwrap();
        let want = f64::from(hsum8(&first)) + f64::from(x[8]) + f64::from(x[9]) + f64::from(x[10]);
        assert_eq!(sum, want);
    }

    #[test]
    fn swiglu_values() {
        let mut g: [f32; 10] = core::array::from_fn(|i| i as f32 - 4.5);
        let up = [2.0f32; 10];
        let orig = g;
        swiglu(&mut g, &up);
        for i in 0..10 {
            let s = if i < 8 { v_silu(orig[i]) } else { silu(orig[i]) };
            assert_eq!(g[i], s * 2.0);
            let exact = f64::from(orig[i]) / (1.0 + libm::exp(-f64::from(orig[i]))) * 2.0;
            assert!((f64::from(g[i]) - exact).abs() < 1e-5, "{i}");
        }
    }
}
