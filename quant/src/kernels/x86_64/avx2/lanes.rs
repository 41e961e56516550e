//! Attention's dot products in llama.cpp's order ([`crate::lanes`]) with AVX2: **bit-identical**
//! to the spec, and so to llama.cpp's own AVX2 code, whose instructions these are:
//!
//! - `VecDot`/`VecDotPadded`: four `f32x8` accumulators over the chunks of 32 (`vfmadd`), then
//!   `GGML_F32x8_REDUCE` (`(r0 + r2) + (r1 + r3)`, the 128-bit halves, two `hadd`s); the tail of
//!   `VecDot` in f64 (f16) or scalar fused multiply-adds (f32); `VecDotPadded` runs a partial
//!   last chunk through the lanes from a zero-filled copy;
//! - `Tinyblas`: one `f32x8` accumulator over the chunks of 8 (a partial last chunk from a
//!   zero-filled copy), then tinyBLAS's `hsum`.
//!
//! f16 operands are widened exactly by F16C (`vcvtph2ps`).

use core::arch::x86_64::*;

use half::f16;

use super::util::load_f16x8;
use crate::cmath::fmaf;
use crate::formats::f16::f16_to_f32;
use crate::lanes::DotOrder;

/// `GGML_F32x8_REDUCE` of four accumulators.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn reduce32(r: [__m256; 4]) -> f32 {
    let x0 = _mm256_add_ps(_mm256_add_ps(r[0], r[2]), _mm256_add_ps(r[1], r[3]));
    let t0 = _mm_add_ps(_mm256_castps256_ps128(x0), _mm256_extractf128_ps::<1>(x0));
    let t1 = _mm_hadd_ps(t0, t0);
    _mm_cvtss_f32(_mm_hadd_ps(t1, t1))
}

/// tinyBLAS's `hsum` of one accumulator.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum8(v: __m256) -> f32 {
    let x = _mm_add_ps(_mm256_extractf128_ps::<1>(v), _mm256_castps256_ps128(v));
    let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)))
}

/// Loads `s[..8]` (checked by the slice index).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load_f32x8(s: &[f32]) -> __m256 {
    let s = &s[..8];
    // SAFETY: `s` is 8 readable f32 (checked above); loadu needs no alignment.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// The three orders for one element type: `$load` widens 8 values to f32, `$tail` sums the
/// `VecDot` tail into the reduced lanes.
macro_rules! dots {
    ($name:ident, $t:ty, $zero:expr, $load:ident, $tail:ident) => {
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $name(x: &[$t], y: &[$t], order: DotOrder) -> f32 {
            let n = x.len();
            if order == DotOrder::Tinyblas {
                let mut acc = _mm256_setzero_ps();
                let mut xc = x.chunks_exact(8);
                let mut yc = y.chunks_exact(8);
                for (a, b) in (&mut xc).zip(&mut yc) {
                    acc = _mm256_fmadd_ps($load(a), $load(b), acc);
                }
                let (xr, yr) = (xc.remainder(), yc.remainder());
                if !xr.is_empty() {
                    let (mut a, mut b) = ([$zero; 8], [$zero; 8]);
                    a[..xr.len()].copy_from_slice(xr);
                    b[..yr.len()].copy_from_slice(yr);
                    acc = _mm256_fmadd_ps($load(&a), $load(&b), acc);
                }
                return hsum8(acc);
            }
            let mut r = [_mm256_setzero_ps(); 4];
            let whole = n / 32 * 32;
            for (a, b) in x[..whole].chunks_exact(32).zip(y[..whole].chunks_exact(32)) {
                for (k, r) in r.iter_mut().enumerate() {
                    *r = _mm256_fmadd_ps($load(&a[8 * k..]), $load(&b[8 * k..]), *r);
                }
            }
            let (xr, yr) = (&x[whole..], &y[whole..]);
            if order == DotOrder::VecDotPadded && !xr.is_empty() {
                let (mut a, mut b) = ([$zero; 32], [$zero; 32]);
                a[..xr.len()].copy_from_slice(xr);
                b[..yr.len()].copy_from_slice(yr);
                for (k, r) in r.iter_mut().enumerate() {
                    *r = _mm256_fmadd_ps($load(&a[8 * k..]), $load(&b[8 * k..]), *r);
                }
                return reduce32(r);
            }
            $tail(reduce32(r), xr, yr)
        }
    };
}

fn tail_f32(s: f32, x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).fold(s, |s, (&a, &b)| fmaf(a, b, s))
}

fn tail_f16(s: f32, x: &[f16], y: &[f16]) -> f32 {
    let sum = x.iter().zip(y).fold(f64::from(s), |s, (&a, &b)| s + f64::from(f16_to_f32(a) * f16_to_f32(b)));
    sum as f32
}

dots!(dot_f32_avx2, f32, 0f32, load_f32x8, tail_f32);
dots!(dot_f16_avx2, f16, f16::ZERO, load_f16x8, tail_f16);

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn dot_f32(x: &[f32], y: &[f32], order: DotOrder) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: crate-private, only reachable through the AVX2 table, which `Kernels::for_tier`
    // returns only after detecting avx2, fma and f16c on this CPU.
    unsafe { dot_f32_avx2(x, y, order) }
}

/// Safe entry point; only reachable through [`super::AVX2`].
pub(crate) fn dot_f16(x: &[f16], y: &[f16], order: DotOrder) -> f32 {
    assert_eq!(x.len(), y.len(), "lane dot: operand lengths");
    // SAFETY: as for `dot_f32`.
    unsafe { dot_f16_avx2(x, y, order) }
}

/// The `Tinyblas` products of 4 rows with `y` (all of `y.len()` values): each the spec's bits,
/// with `y`'s chunks loaded once for the 4 rows.
#[target_feature(enable = "avx2,fma,f16c")]
fn tinyblas_rows4(x: [&[f16]; 4], y: &[f16]) -> [f32; 4] {
    let n = y.len();
    let whole = n / 8 * 8;
    let mut acc = [_mm256_setzero_ps(); 4];
    for c in (0..whole).step_by(8) {
        let yv = load_f16x8(&y[c..]);
        for (a, x) in acc.iter_mut().zip(&x) {
            *a = _mm256_fmadd_ps(load_f16x8(&x[c..]), yv, *a);
        }
    }
    if whole < n {
        // the partial last chunk from zero-filled copies, as `dot_f16_avx2`
        let mut b = [f16::ZERO; 8];
        b[..n - whole].copy_from_slice(&y[whole..]);
        let yv = load_f16x8(&b);
        for (acc, x) in acc.iter_mut().zip(&x) {
            let mut a = [f16::ZERO; 8];
            a[..n - whole].copy_from_slice(&x[whole..n]);
            *acc = _mm256_fmadd_ps(load_f16x8(&a), yv, *acc);
        }
    }
    [hsum8(acc[0]), hsum8(acc[1]), hsum8(acc[2]), hsum8(acc[3])]
}

/// The `Tinyblas` products of `R` rows with `Q` vectors (all of `y[j].len()` values): each the
/// spec's bits, with every chunk of the rows widened once for the `Q` vectors (the query heads of
/// a KV group share their keys, and their value rows) and `R * Q` independent accumulators.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn tinyblas_tile<const R: usize, const Q: usize>(x: [&[f16]; R], y: [&[f16]; Q]) -> [[f32; R]; Q] {
    let n = y[0].len();
    let whole = n / 8 * 8;
    let mut acc = [[_mm256_setzero_ps(); R]; Q];
    for c in (0..whole).step_by(8) {
        let mut xv = [_mm256_setzero_ps(); R];
        for (v, x) in xv.iter_mut().zip(&x) {
            *v = load_f16x8(&x[c..]);
        }
        for (acc, y) in acc.iter_mut().zip(&y) {
            let yv = load_f16x8(&y[c..]);
            for (a, &xv) in acc.iter_mut().zip(&xv) {
                *a = _mm256_fmadd_ps(xv, yv, *a);
            }
        }
    }
    if whole < n {
        // the partial last chunk from zero-filled copies, as `dot_f16_avx2`
        let mut xv = [_mm256_setzero_ps(); R];
        for (v, x) in xv.iter_mut().zip(&x) {
            let mut a = [f16::ZERO; 8];
            a[..n - whole].copy_from_slice(&x[whole..n]);
            *v = load_f16x8(&a);
        }
        for (acc, y) in acc.iter_mut().zip(&y) {
            let mut b = [f16::ZERO; 8];
            b[..n - whole].copy_from_slice(&y[whole..n]);
            let yv = load_f16x8(&b);
            for (a, &xv) in acc.iter_mut().zip(&xv) {
                *a = _mm256_fmadd_ps(xv, yv, *a);
            }
        }
    }
    let mut out = [[0f32; R]; Q];
    for (o, acc) in out.iter_mut().zip(&acc) {
        for (o, &a) in o.iter_mut().zip(acc) {
            *o = hsum8(a);
        }
    }
    out
}

/// Group `k` (values `whole + 8k..whole + 8k + 8`) of the zero-extended last chunk of 32 of `x`
/// (which ends inside it): its whole groups of 8 read in place, only the partial group copied.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn tail_group(x: &[f16], whole: usize, k: usize) -> __m256 {
    let rem = x.len() - whole;
    if 8 * k + 8 <= rem {
        load_f16x8(&x[whole + 8 * k..])
    } else if 8 * k < rem {
        let mut xt = [f16::ZERO; 8];
        for (d, &v) in xt.iter_mut().zip(&x[whole + 8 * k..]) {
            *d = v;
        }
        load_f16x8(&xt)
    } else {
        _mm256_setzero_ps()
    }
}

/// The longest vectors [`vecdot_many`] widens once into f32 on the stack (3 of them: 24 KiB).
const WIDE_MAX: usize = 2048;

/// `ggml_vec_dot_f16` (`VecDot` over whole chunks of 32, or `VecDotPadded`) of every row with
/// `Q <= 3` vectors of `m <= WIDE_MAX` values, into `out[j * n_rows + r]`: the vectors are widened
/// once into f32 (zero-extended to whole chunks of 32, as the single-vector path extends them),
/// then each chunk of a row once for the `Q` of them (`4 Q` accumulators; the query heads of a
/// KV head when decoding). Each value the single dot's bits.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn vecdot_many<const Q: usize>(x: &[f16], stride: usize, y: [&[f16]; Q], n_rows: usize, out: &mut [f32]) {
    const { assert!(Q <= 3) };
    let m = y[0].len();
    let m32 = m.next_multiple_of(32);
    assert!(m32 <= WIDE_MAX, "vecdot_many: vectors too long");
    let mut wide = core::mem::MaybeUninit::<[f32; 3 * WIDE_MAX]>::uninit();
    let base = wide.as_mut_ptr().cast::<f32>();
    let whole = m / 32 * 32;
    let mut yw: [&[f32]; Q] = [&[]; Q];
    for (j, (yw, y)) in yw.iter_mut().zip(&y).enumerate() {
        for c in (0..m32).step_by(8) {
            let v = if c < whole { load_f16x8(&y[c..]) } else { tail_group(y, whole, (c - whole) / 8) };
            // SAFETY: j * m32 + c + 8 <= 3 * WIDE_MAX (j < Q <= 3, c + 8 <= m32 <= WIDE_MAX):
            // inside `wide`; storeu needs no alignment.
            unsafe { _mm256_storeu_ps(base.wrapping_add(j * m32 + c), v) };
        }
        // SAFETY: the loop above wrote every f32 of `wide` in j * m32..(j + 1) * m32.
        *yw = unsafe { core::slice::from_raw_parts(base.wrapping_add(j * m32), m32) };
    }
    for r in 0..n_rows {
        let xr = &x[r * stride..r * stride + m];
        let mut acc = [[_mm256_setzero_ps(); 4]; Q];
        for c in (0..whole).step_by(32) {
            for k in 0..4 {
                let xv = load_f16x8(&xr[c + 8 * k..]);
                for (acc, yw) in acc.iter_mut().zip(&yw) {
                    acc[k] = _mm256_fmadd_ps(xv, load_f32x8(&yw[c + 8 * k..]), acc[k]);
                }
            }
        }
        if whole < m {
            for k in 0..4 {
                let xv = tail_group(xr, whole, k);
                for (acc, yw) in acc.iter_mut().zip(&yw) {
                    acc[k] = _mm256_fmadd_ps(xv, load_f32x8(&yw[whole + 8 * k..]), acc[k]);
                }
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            out[j * n_rows + r] = reduce32(*acc);
        }
    }
}

/// The `Tinyblas` products of every row with the `Q` vectors `y` (`m` values each), into
/// `out[j * n_rows + r]`: rows 2 at a time (8 accumulators for 4 vectors; 3 rows would need 12
/// and spill one), the last one alone. Per chunk of 8: `2 + Q` conversions for `2 Q`
/// multiply-adds, where one vector at a time takes `1 + 4` for 4 (4 x 256 keys of 256 values
/// against 4 queries: 24 -> 37 GMAC/s on Zen 3).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn tinyblas_many<const Q: usize>(x: &[f16], stride: usize, y: [&[f16]; Q], n_rows: usize, out: &mut [f32]) {
    let m = y[0].len();
    let row = |r: usize| &x[r * stride..r * stride + m];
    let mut r = 0;
    while r + 2 <= n_rows {
        let v = tinyblas_tile::<2, Q>([row(r), row(r + 1)], y);
        for (j, v) in v.iter().enumerate() {
            out[j * n_rows + r..][..2].copy_from_slice(v);
        }
        r += 2;
    }
    while r < n_rows {
        let v = tinyblas_tile::<1, Q>([row(r)], y);
        for (j, v) in v.iter().enumerate() {
            out[j * n_rows + r] = v[0];
        }
        r += 1;
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by `check_rows`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16_rows_avx2(x: &[f16], stride: usize, y: &[f16], order: DotOrder, out: &mut [f32]) {
    let n = y.len();
    let row = |r: usize| &x[r * stride..r * stride + n];
    let mut r = 0;
    if order == DotOrder::Tinyblas {
        while r + 4 <= out.len() {
            out[r..r + 4].copy_from_slice(&tinyblas_rows4([row(r), row(r + 1), row(r + 2), row(r + 3)], y));
            r += 4;
        }
    } else if order == DotOrder::VecDotPadded || n % 32 == 0 {
        // `ggml_vec_dot_f16` without an f64 tail: 2 rows at a time, `y` (and its zero-extended
        // last chunk) loaded once for both
        let whole = n / 32 * 32;
        let mut yt = [f16::ZERO; 32];
        yt[..n - whole].copy_from_slice(&y[whole..]);
        while r + 2 <= out.len() {
            let x = [row(r), row(r + 1)];
            let mut acc = [[_mm256_setzero_ps(); 4]; 2];
            for c in (0..whole).step_by(32) {
                for k in 0..4 {
                    let yv = load_f16x8(&y[c + 8 * k..]);
                    for (acc, x) in acc.iter_mut().zip(&x) {
                        acc[k] = _mm256_fmadd_ps(load_f16x8(&x[c + 8 * k..]), yv, acc[k]);
                    }
                }
            }
            if whole < n {
                for (acc, x) in acc.iter_mut().zip(&x) {
                    for (k, acc) in acc.iter_mut().enumerate() {
                        *acc = _mm256_fmadd_ps(tail_group(x, whole, k), load_f16x8(&yt[8 * k..]), *acc);
                    }
                }
            }
            out[r] = reduce32(acc[0]);
            out[r + 1] = reduce32(acc[1]);
            r += 2;
        }
    }
    for (i, o) in out.iter_mut().enumerate().skip(r) {
        // SAFETY: as this function's contract.
        *o = unsafe { dot_f16_avx2(row(i), y, order) };
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C. Operands checked by `check_rows` (`n_y` vectors of
/// `m` values, `n_rows` rows).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16_rows_many_avx2(
    x: &[f16],
    stride: usize,
    y: &[f16],
    (n_y, m, n_rows): (usize, usize, usize),
    order: DotOrder,
    out: &mut [f32],
) {
    let mut j = 0;
    if order == DotOrder::Tinyblas && m > 0 && n_rows > 0 {
        // the vectors 4 at a time, then the last 1-3 together
        let v = |j: usize| &y[j * m..(j + 1) * m];
        while j < n_y {
            let o = &mut out[j * n_rows..];
            match n_y - j {
                1 => break,
                2 => tinyblas_many::<2>(x, stride, [v(j), v(j + 1)], n_rows, o),
                3 => tinyblas_many::<3>(x, stride, [v(j), v(j + 1), v(j + 2)], n_rows, o),
                _ => tinyblas_many::<4>(x, stride, [v(j), v(j + 1), v(j + 2), v(j + 3)], n_rows, o),
            }
            j += (n_y - j).min(4);
        }
    }
    let lanes = order == DotOrder::VecDotPadded || (order == DotOrder::VecDot && m % 32 == 0);
    if lanes && m > 0 && n_rows > 0 && m.next_multiple_of(32) <= WIDE_MAX {
        // the vectors 3 at a time, then the last 2 together (1 alone below)
        let v = |j: usize| &y[j * m..(j + 1) * m];
        while n_y - j >= 2 {
            let o = &mut out[j * n_rows..];
            if n_y - j == 2 {
                vecdot_many::<2>(x, stride, [v(j), v(j + 1)], n_rows, o);
                j += 2;
            } else {
                vecdot_many::<3>(x, stride, [v(j), v(j + 1), v(j + 2)], n_rows, o);
                j += 3;
            }
        }
    }
    for j in j..n_y {
        // SAFETY: as this function's contract.
        unsafe {
            dot_f16_rows_avx2(
                x,
                stride,
                &y[j * m..(j + 1) * m],
                order,
                &mut out[j * n_rows..(j + 1) * n_rows],
            )
        };
    }
}

/// Safe entry point ([`crate::lanes::LaneRowsFn`]); only reachable through [`super::AVX2`].
pub(crate) fn dot_f16_rows(
    x: &[f16],
    stride: usize,
    y: &[f16],
    n_y: usize,
    order: DotOrder,
    out: &mut [f32],
) {
    let (m, n_rows) = crate::lanes::check_rows(x, stride, y, n_y, out);
    // SAFETY: as for `dot_f32`; operands checked above.
    unsafe { dot_f16_rows_many_avx2(x, stride, y, (n_y, m, n_rows), order, out) }
}
