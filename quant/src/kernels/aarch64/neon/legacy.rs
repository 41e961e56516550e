//! The block loop of the legacy formats' dot products and multi-row products on NEON (shared with
//! the dotprod tier; the multi-row kernels run tiles of rows x tokens, each weight block expanded
//! once per tile and each activation block loaded once, every output with its own accumulators),
//! reproducing the spec (`formats/legacy_lanes.rs`, llama.cpp's x86-64 AVX2 arithmetic) bit for
//! bit: the 8 f32 lanes of the x86 accumulator are two `float32x4_t` (lanes 0..4 for elements
//! 0..16 of a block, 4..8 for 16..32); per block each lane gets the exact integer sum of its 4
//! products (`sum4`: `sdot`, or widening multiplies and pairwise adds), converted exactly to f32
//! and accumulated with `vfmaq` (a true fused multiply-add, like `_mm256_fmadd_ps`); the end is
//! `hsum_float_8`'s tree `((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))`; `Q4_1`/`Q5_1` add their scalar
//! `summs = fma(m_w, s_a, summs)` (`fmla` on one lane).
//!
//! The x86 sign trick (`Q4_0 Q5_0 Q8_0`, `maddubs(|x|, sign(y, x))`) differs from the exact
//! product only where an activation byte is -128 (and the weight negative): such a byte cannot
//! come from the activation quantizer on finite input (its values are within ±127), so the
//! kernel forms exact products, tracks the row's smallest activation byte, and hands the rare row
//! that holds a -128 to the scalar spec.

use core::arch::aarch64::*;

/// `[Σ_{i<4} a[i]*b[i], Σ_{4≤i<8}, Σ_{8≤i<12}, Σ_{12≤i<16}]`, exact for all i8 (baseline NEON:
/// i16 products, widened pairwise, then pairwise again).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn sum4(a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    let hi = vpaddlq_s16(vmull_high_s8(a, b));
    vpaddq_s32(lo, hi)
}

/// One legacy format's pieces of the block loop (weight block `X`, activation block `Y`), as
/// closures written inside the format's `#[target_feature]` kernel:
/// - `expand(x)`: the 32 weights as two i8 vectors (elements 0..16, 16..32);
/// - `load(y)`: the 32 activations likewise;
/// - `sum4`: the lane sums of 4 products ([`sum4`] or `sdot`);
/// - `scale(x, y)`: `(d_w * d_a, m_w, s_a)` (the last two used only if `min`);
/// - `min`: the format adds `summs` (`Q4_1`, `Q5_1`);
/// - `sign_trick`: the format uses the x86 sign trick: an output whose activation row holds a
///   -128 is `spec`'s instead;
/// - `spec`: the format's scalar dot product.
pub(crate) struct Ops<X, Y, E, L, S, C> {
    pub(crate) expand: E,
    pub(crate) load: L,
    pub(crate) sum4: S,
    pub(crate) scale: C,
    pub(crate) min: bool,
    pub(crate) sign_trick: bool,
    pub(crate) spec: fn(&[X], &[Y]) -> f32,
}

/// [`Ops`] with its closure types hidden (what a format's `ops()` returns).
pub(crate) trait Legacy {
    type X;
    type Y;
    fn expand(&self, x: &Self::X) -> (int8x16_t, int8x16_t);
    fn load(&self, y: &Self::Y) -> (int8x16_t, int8x16_t);
    fn sum4(&self, a: int8x16_t, b: int8x16_t) -> int32x4_t;
    fn scale(&self, x: &Self::X, y: &Self::Y) -> (f32, f32, f32);
    fn min(&self) -> bool;
    fn sign_trick(&self) -> bool;
    fn spec(&self, w: &[Self::X], a: &[Self::Y]) -> f32;
}

impl<X, Y, E, L, S, C> Legacy for Ops<X, Y, E, L, S, C>
where
    E: Fn(&X) -> (int8x16_t, int8x16_t),
    L: Fn(&Y) -> (int8x16_t, int8x16_t),
    S: Fn(int8x16_t, int8x16_t) -> int32x4_t,
    C: Fn(&X, &Y) -> (f32, f32, f32),
{
    type X = X;
    type Y = Y;
    #[inline(always)]
    fn expand(&self, x: &X) -> (int8x16_t, int8x16_t) {
        (self.expand)(x)
    }
    #[inline(always)]
    fn load(&self, y: &Y) -> (int8x16_t, int8x16_t) {
        (self.load)(y)
    }
    #[inline(always)]
    fn sum4(&self, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        (self.sum4)(a, b)
    }
    #[inline(always)]
    fn scale(&self, x: &X, y: &Y) -> (f32, f32, f32) {
        (self.scale)(x, y)
    }
    #[inline(always)]
    fn min(&self) -> bool {
        self.min
    }
    #[inline(always)]
    fn sign_trick(&self) -> bool {
        self.sign_trick
    }
    #[inline(always)]
    fn spec(&self, w: &[X], a: &[Y]) -> f32 {
        (self.spec)(w, a)
    }
}

/// The `R x T` outputs of weight rows `w[i]` and activation rows `a[t]` (all `rb` blocks long),
/// `out[t][i]`, each the spec's value: per output the two `f32x4` accumulators, `summs` and the
/// final tree of the single dot product, with each weight block expanded once for the `T` rows
/// and each activation block loaded once for the `R` rows.
#[target_feature(enable = "neon")]
#[inline]
fn tile<O: Legacy, const R: usize, const T: usize>(
    ops: &O,
    w: [&[O::X]; R],
    a: [&[O::Y]; T],
) -> [[f32; R]; T] {
    let rb = w[0].len();
    let mut lo = [[vdupq_n_f32(0.0); R]; T];
    let mut hi = [[vdupq_n_f32(0.0); R]; T];
    let mut summs = [[vdup_n_f32(0.0); R]; T];
    let mut ymin = [vdupq_n_s8(0); T];
    for b in 0..rb {
        let mut xs = [(vdupq_n_s8(0), vdupq_n_s8(0)); R];
        for i in 0..R {
            xs[i] = ops.expand(&w[i][b]);
        }
        for t in 0..T {
            let y = &a[t][b];
            let (y0, y1) = ops.load(y);
            if ops.sign_trick() {
                ymin[t] = vminq_s8(ymin[t], vminq_s8(y0, y1));
            }
            for i in 0..R {
                let (d, m, s) = ops.scale(&w[i][b], y);
                lo[t][i] = vfmaq_n_f32(lo[t][i], vcvtq_f32_s32(ops.sum4(xs[i].0, y0)), d);
                hi[t][i] = vfmaq_n_f32(hi[t][i], vcvtq_f32_s32(ops.sum4(xs[i].1, y1)), d);
                if ops.min() {
                    summs[t][i] = vfma_n_f32(summs[t][i], vdup_n_f32(m), s);
                }
            }
        }
    }
    let mut out = [[0f32; R]; T];
    for t in 0..T {
        let exact = !ops.sign_trick() || vminvq_s8(ymin[t]) != i8::MIN;
        for i in 0..R {
            out[t][i] = if exact {
                let s = vaddq_f32(lo[t][i], hi[t][i]);
                let r = vpadds_f32(vadd_f32(vget_low_f32(s), vget_high_f32(s)));
                if ops.min() { r + vget_lane_f32::<0>(summs[t][i]) } else { r }
            } else {
                ops.spec(w[i], a[t])
            };
        }
    }
    out
}

/// Rows `r0..r0 + R` against every token, `T` tokens at a time, then one at a time.
#[target_feature(enable = "neon")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn rows<O: Legacy, const R: usize, const T: usize>(
    ops: &O,
    w: &[O::X],
    a: &[O::Y],
    rb: usize,
    r0: usize,
    out: &mut [f32],
    stride: usize,
) {
    let n_tok = a.len() / rb;
    let mut wr: [&[O::X]; R] = [&[]; R];
    for (i, wr) in wr.iter_mut().enumerate() {
        *wr = &w[(r0 + i) * rb..(r0 + i + 1) * rb];
    }
    let tok = |t: usize| &a[t * rb..(t + 1) * rb];
    let mut t = 0;
    while t + T <= n_tok {
        let mut at: [&[O::Y]; T] = [&[]; T];
        for (j, at) in at.iter_mut().enumerate() {
            *at = tok(t + j);
        }
        let v = tile::<O, R, T>(ops, wr, at);
        for (j, v) in v.iter().enumerate() {
            out[(t + j) * stride + r0..][..R].copy_from_slice(v);
        }
        t += T;
    }
    while t < n_tok {
        let v = tile::<O, R, 1>(ops, wr, [tok(t)]);
        out[t * stride + r0..][..R].copy_from_slice(&v[0]);
        t += 1;
    }
}

/// Every row in tiles of `R` rows, then the last rows one at a time.
#[target_feature(enable = "neon")]
#[inline]
fn by_tiles<O: Legacy, const R: usize, const T: usize>(
    ops: &O,
    w: &[O::X],
    a: &[O::Y],
    rb: usize,
    out: &mut [f32],
    stride: usize,
) {
    let n_rows = w.len() / rb;
    let full = n_rows / R * R;
    for r0 in (0..full).step_by(R) {
        rows::<O, R, T>(ops, w, a, rb, r0, out, stride);
    }
    for r0 in full..n_rows {
        rows::<O, 1, T>(ops, w, a, rb, r0, out, stride);
    }
}

/// The multi-row product ([`crate::kernels::GemmFn`], operands checked by
/// [`crate::kernels::gemm_operands`]; `rb > 0`): every output the spec's bits. One token
/// (decoding) in tiles of 4 rows; a batch in 2 rows x 4 tokens (16 accumulators of the 32 vector
/// registers).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn gemm<O: Legacy>(ops: &O, w: &[O::X], a: &[O::Y], rb: usize, out: &mut [f32], stride: usize) {
    if a.len() == rb {
        by_tiles::<O, 4, 1>(ops, w, a, rb, out, stride)
    } else {
        by_tiles::<O, 2, 4>(ops, w, a, rb, out, stride)
    }
}

/// The single dot product (`w.len() == a.len()`) through [`gemm`].
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn dot<O: Legacy>(ops: &O, w: &[O::X], a: &[O::Y]) -> f32 {
    if w.is_empty() {
        return 0.0;
    }
    tile::<O, 1, 1>(ops, [w], [a])[0][0]
}

/// The entry points of one legacy format on one tier, around the format's `ops()` (in scope
/// where this is invoked): the kernels `dot` and `products`, compiled with the tier's features,
/// and their safe wrappers `vec_dot` and `gemm`, stored only in the tier's table.
macro_rules! entry_points {
    ($x:ty, $y:ty, $what:literal, $feat:literal) => {
        /// # Safety
        /// The CPU must have the tier's features. `w.len() == a.len()`.
        #[target_feature(enable = $feat)]
        unsafe fn dot(w: &[$x], a: &[$y]) -> f32 {
            $crate::kernels::aarch64::neon::legacy::dot(&ops(), w, a)
        }

        /// # Safety
        /// The CPU must have the tier's features. Operands checked by `gemm_operands`, `rb > 0`.
        #[target_feature(enable = $feat)]
        unsafe fn products(w: &[$x], a: &[$y], rb: usize, out: &mut [f32], stride: usize) {
            $crate::kernels::aarch64::neon::legacy::gemm(&ops(), w, a, rb, out, stride)
        }

        /// Safe wrapper of the dot product, stored only in its tier's table.
        pub(crate) fn vec_dot(w: &[$x], a: &[$y]) -> f32 {
            assert_eq!(w.len(), a.len(), concat!($what, "::vec_dot: operand lengths"));
            // SAFETY: this wrapper is reachable only through its tier's table, which
            // `Kernels::for_tier` hands out only after detecting the tier's features (NEON is
            // the aarch64 baseline; dotprod is detected).
            unsafe { dot(w, a) }
        }

        /// Safe wrapper of the multi-row kernel ([`crate::kernels::GemmFn`]), stored only in its
        /// tier's table.
        pub(crate) fn gemm(w: &[$x], a: &[$y], rb: usize, out: &mut [f32], stride: usize) {
            let what = concat!($what, " ", $feat);
            if $crate::kernels::gemm_operands(w.len(), a.len(), rb, out.len(), stride, what).is_some() {
                // SAFETY: as in `vec_dot`; operands checked above (`rb > 0`).
                unsafe { products(w, a, rb, out, stride) }
            }
        }
    };
}
pub(crate) use entry_points;
