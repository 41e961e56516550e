//! Element-wise and per-row operations of the forward pass, each with the exact arithmetic of
//! llama.cpp's CPU code as built for x86-64 (`ggml/src/ggml-cpu/ops.cpp`, `vec.h`; checked bit
//! for bit against libggml by `tests/ggml_ops.rs`). That build is GCC with `-march=native` in GNU
//! mode, which contracts `a*b + c` into fused multiply-adds: RoPE's rotation and GELU's cubic
//! term are fused here where GCC fuses them ([`fmaf`]). The C math functions: `cosf`/`sinf` are
//! the C library's with `std` (glibc's are not correctly rounded, and llama.cpp calls them), the
//! `libm` crate's without (which differ by one ulp on a few angles); the others come from `libm`
//! (`tanhf` and `powf` give glibc's bits on the values the tests cover).

use emberlm_models::arch::RopeKind;
use emberlm_quant::Kernels;
use emberlm_quant::cmath::fmaf;
use emberlm_quant::formats::f16::f32_to_f16;
use emberlm_quant::rope::RopePairs;

/// `out = x * (1/sqrt(mean(x²) + eps)) * w`, as ggml's `rms_norm` followed by `mul`: the squares
/// are accumulated in f64 (`ggml_float`), the mean is rounded to f32, then
/// `scale = 1.0f / sqrtf(mean + eps)` and `out[i] = (x[i] * scale) * w[i]`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let scale = rms_scale(x, eps);
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * g;
    }
}

/// [`rms_norm`]'s `scale`: `1.0f / sqrtf((float) mean(x²) + eps)`, the squares summed in f64.
fn rms_scale(x: &[f32], eps: f32) -> f32 {
    let mut sum = 0f64;
    for &v in x {
        sum += f64::from(v * v);
    }
    let mean = (sum / x.len() as f64) as f32;
    1.0f32 / libm::sqrtf(mean + eps)
}

/// [`rms_norm`] of `x` in place (same arithmetic).
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    let scale = rms_scale(x, eps);
    for (v, &g) in x.iter_mut().zip(w) {
        *v = *v * scale * g;
    }
}

/// `x += rms_norm(y, w)`: the bits of [`rms_norm_inplace`] on `y` then [`add_assign`], without
/// writing `y`.
pub fn add_rms_normed(x: &mut [f32], y: &[f32], w: &[f32], eps: f32) {
    let scale = rms_scale(y, eps);
    for ((a, &v), &g) in x.iter_mut().zip(y).zip(w) {
        *a += v * scale * g;
    }
}

/// The RoPE parameters of one layer.
#[derive(Clone, Copy, Debug)]
pub struct RopeParams<'a> {
    /// Pairing of the rotated dimensions.
    pub kind: RopeKind,
    /// Rotated dimensions (even).
    pub n_dims: usize,
    /// Frequency base.
    pub freq_base: f32,
    /// Linear frequency scale (1 = none).
    pub freq_scale: f32,
    /// Llama 3 frequency factors (`n_dims / 2` of them), dividing each pair's angle.
    pub freq_factors: Option<&'a [f32]>,
}

/// Fill `cache` (`n_dims` values: `cos, sin` per pair) for position `pos`, as ggml's
/// `ggml_rope_cache_init` without YaRN (`ext_factor = 0`, `attn_factor = 1`):
/// `theta_scale = powf(freq_base, -2.0f/n_dims)`, the angle starts at `(float) pos` and is
/// multiplied by `theta_scale` after each pair, and pair `i` uses
/// `freq_scale * (theta / freq_factors[i])`.
pub fn rope_cache(p: &RopeParams<'_>, pos: usize, cache: &mut [f32]) {
    let theta_scale = libm::powf(p.freq_base, -2.0f32 / p.n_dims as f32);
    let mut theta = pos as f32;
    for (i, cs) in cache[..p.n_dims].chunks_exact_mut(2).enumerate() {
        let ff = p.freq_factors.map_or(1.0, |f| f[i]);
        let angle = p.freq_scale * (theta / ff);
        cs[0] = cosf(angle);
        cs[1] = sinf(angle);
        theta *= theta_scale;
    }
}

/// The C library's `cosf` with `std` (llama.cpp's), `libm`'s without.
#[inline]
fn cosf(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.cos()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::cosf(x)
    }
}

/// The C library's `sinf` with `std` (llama.cpp's), `libm`'s without.
#[inline]
fn sinf(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.sin()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::sinf(x)
    }
}

/// Rotate one head in place with a cache from [`rope_cache`] (ggml's `rotate_pairs`): NORM
/// mode pairs `(2i, 2i+1)`, NEOX mode pairs `(i, i + n_dims/2)`. Dimensions past `n_dims` are
/// left as they are. `kernels`' [`emberlm_quant::rope`] rotation: `fma(x0, cos, -(x1*sin))` and
/// `fma(x0, sin, x1*cos)` as GCC compiles ggml's, the same bits on every tier.
pub fn rope_apply(kernels: &Kernels, kind: RopeKind, n_dims: usize, cache: &[f32], head: &mut [f32]) {
    let pairs = match kind {
        RopeKind::Norm => RopePairs::Adjacent,
        RopeKind::Neox => RopePairs::Halves,
    };
    (kernels.rope_rotate)(pairs, &cache[..n_dims], head);
}

/// SwiGLU in place, one row of `n_ff` values at a time, as ggml's `swiglu` (split form) computes
/// each row with `ggml_vec_swiglu_f32`: `gate[i] = silu(gate[i]) * up[i]`, with ggml's AVX2
/// vector SiLU on the row's whole chunks of 8 and the scalar one on its last `n_ff % 8`
/// ([`emberlm_quant::vexp::swiglu`]; every kernel tier gives the same bits).
pub fn swiglu(kernels: &Kernels, gate: &mut [f32], up: &[f32], n_ff: usize) {
    for (g, u) in gate.chunks_mut(n_ff.max(1)).zip(up.chunks(n_ff.max(1))) {
        (kernels.swiglu)(g, u);
    }
}

/// ggml's `ggml_gelu_f32`: `0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715 x²)))`, with
/// `1 + 0.044715 x²` fused as GCC does: `fma(0.044715 x, x, 1)`.
#[inline]
pub fn gelu_tanh(x: f32) -> f32 {
    const GELU_COEF_A: f32 = 0.044715;
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5f32 * x * (1.0f32 + libm::tanhf(SQRT_2_OVER_PI * x * fmaf(GELU_COEF_A * x, x, 1.0f32)))
}

/// GELU as ggml's CPU backend computes it (`GGML_GELU_FP16`): 0 at or below -10, `x` at or
/// above 10, otherwise the f16 table entry of `x` rounded to f16, i.e.
/// `f16(gelu_tanh(f16(x)))`.
#[inline]
pub fn gelu_ggml(x: f32) -> f32 {
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x
    } else {
        let h = f32_to_f16(x).to_f32();
        f32_to_f16(gelu_tanh(h)).to_f32()
    }
}

/// GeGLU in place: `gate[i] = gelu(gate[i]) * up[i]` (ggml's `geglu`, split form, with
/// [`gelu_ggml`]).
pub fn geglu(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = gelu_ggml(*g) * u;
    }
}

/// ggml's GELU table (`ggml_table_gelu_f16`): `f16(gelu_tanh(h))` for every f16 `h` (kept as the
/// f32 it converts to, 256 KiB, so a lookup needs no conversion back), built once per session of a
/// GELU model. [`GeluTable::geglu`] gives the bits of [`geglu`] with a table lookup instead of a
/// `tanhf` per value, as ggml's CPU backend does.
#[derive(Clone, Debug)]
pub struct GeluTable(alloc::vec::Vec<f32>);

impl GeluTable {
    /// Bytes of the table.
    pub const BYTES: usize = (1 << 16) * 4;

    /// Fill the table (65 536 `tanhf`).
    pub fn new() -> crate::error::Result<Self> {
        let mut t: alloc::vec::Vec<f32> = crate::error::zeroed(1 << 16, "the GELU table")?;
        for (i, v) in t.iter_mut().enumerate() {
            *v = f32_to_f16(gelu_tanh(half::f16::from_bits(i as u16).to_f32())).to_f32();
        }
        Ok(Self(t))
    }

    /// The table's value for `x` already rounded to f16 (`h`), with ggml's cut-offs at ±10.
    #[inline]
    fn lookup(&self, x: f32, h: half::f16) -> f32 {
        if x <= -10.0 {
            0.0
        } else if x >= 10.0 {
            x
        } else {
            self.0[usize::from(h.to_bits())]
        }
    }

    /// [`gelu_ggml`] through the table.
    #[inline]
    pub fn gelu(&self, x: f32) -> f32 {
        self.lookup(x, f32_to_f16(x))
    }

    /// [`geglu`] through the table: the same bits.
    pub fn geglu(&self, gate: &mut [f32], up: &[f32]) {
        self.geglu_with(&Kernels::SCALAR, gate, up);
    }

    /// [`GeluTable::geglu`] with the f32 -> f16 roundings done by `kernels` (F16C on x86-64, the
    /// same bits on every tier), 64 values at a time.
    pub fn geglu_with(&self, kernels: &Kernels, gate: &mut [f32], up: &[f32]) {
        let mut h = [half::f16::ZERO; 64];
        for (g, u) in gate.chunks_mut(64).zip(up.chunks(64)) {
            let h = &mut h[..g.len()];
            (kernels.quantize_f16)(g, h);
            for ((g, &u), &h) in g.iter_mut().zip(u).zip(h.iter()) {
                *g = self.lookup(*g, h) * u;
            }
        }
    }
}

/// Soft-capping in place as llama.cpp builds it: `scale(1/cap)`, `tanh`, `scale(cap)`.
pub fn softcap(x: &mut [f32], cap: f32) {
    let inv = 1.0f32 / cap;
    for v in x {
        *v = libm::tanhf(*v * inv) * cap;
    }
}

/// `x *= s`.
pub fn scale(x: &mut [f32], s: f32) {
    for v in x {
        *v *= s;
    }
}

/// `x += y`.
pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Scaled softmax in place, as ggml's `soft_max_ext` computes a row of attention scores on
/// x86-64 (no ALiBi, no sinks): `w = x * scale`, `max = max(w)` (`ggml_vec_max_f32`),
/// `e = exp(w - max)` with their sum ([`emberlm_quant::vexp::softmax_exp`]: ggml's vector `exp`
/// on whole chunks of 8 from the row's start, each chunk summed in f32 then added in f64), then
/// every `e` is multiplied by `(float)(1.0 / sum)`.
///
/// `x` is the row as llama.cpp sees it: masked positions hold `-inf` (their `e` is exactly 0
/// and adds exactly 0). llama.cpp's rows are its padded KV length (a multiple of 256), so a
/// caller holding only the visible positions pads them with `-inf` to a multiple of 8 and gets
/// llama.cpp's values: the same chunks, each through the vector `exp`.
pub fn softmax_scaled(kernels: &Kernels, x: &mut [f32], scale: f32) {
    let mut max = f32::NEG_INFINITY;
    for v in x.iter_mut() {
        *v *= scale;
        // ggml_vec_max_f32: max = MAX(max, x[i])
        max = if max > *v { max } else { *v };
    }
    let sum = (kernels.softmax_exp)(x, max);
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_matches_the_definition() {
        let x = [1.0f32, -2.0, 3.0, -4.0];
        let w = [1.0f32, 0.5, 2.0, 1.0];
        let mut out = [0f32; 4];
        rms_norm(&x, &w, 1e-5, &mut out);
        let s = 1.0 / (7.5f64 + 1e-5).sqrt();
        for i in 0..4 {
            assert!((f64::from(out[i]) - f64::from(x[i]) * s * f64::from(w[i])).abs() < 1e-6);
        }
    }

    #[test]
    fn rope_norm_rotates_adjacent_pairs_by_pos_times_frequency() {
        let p = RopeParams {
            kind: RopeKind::Norm,
            n_dims: 4,
            freq_base: 10000.0,
            freq_scale: 1.0,
            freq_factors: None,
        };
        let mut cache = [0f32; 4];
        rope_cache(&p, 3, &mut cache);
        let mut head = [1.0f32, 0.0, 0.0, 1.0, 7.0];
        rope_apply(&Kernels::SCALAR, RopeKind::Norm, 4, &cache, &mut head);
        // pair 0: angle 3, pair 1: angle 3 * 10000^(-1/2)
        let a1 = 3.0f64 / 100.0;
        assert!((f64::from(head[0]) - 3f64.cos()).abs() < 1e-6);
        assert!((f64::from(head[1]) - 3f64.sin()).abs() < 1e-6);
        assert!((f64::from(head[2]) + a1.sin()).abs() < 1e-6);
        assert!((f64::from(head[3]) - a1.cos()).abs() < 1e-6);
        assert_eq!(head[4], 7.0);
    }

    #[test]
    fn rope_neox_pairs_halves() {
        let p = RopeParams {
            kind: RopeKind::Neox,
            n_dims: 4,
            freq_base: 10000.0,
            freq_scale: 0.5,
            freq_factors: None,
        };
        let mut cache = [0f32; 4];
        rope_cache(&p, 2, &mut cache);
        let mut head = [1.0f32, 1.0, 0.0, 0.0];
        rope_apply(&Kernels::SCALAR, RopeKind::Neox, 4, &cache, &mut head);
        // pair (0, 2) angle 0.5*2 = 1, pair (1, 3) angle 0.5 * 2/100
        assert!((f64::from(head[0]) - 1f64.cos()).abs() < 1e-6);
        assert!((f64::from(head[2]) - 1f64.sin()).abs() < 1e-6);
        assert!((f64::from(head[3]) - 0.01f64.sin()).abs() < 1e-6);
    }

    #[test]
    fn softmax_sums_to_one_and_is_shift_invariant() {
        for k in emberlm_quant::Tier::ALL.into_iter().filter_map(Kernels::for_tier) {
            let mut a = [1.0f32, 2.0, 3.0, 1000.0];
            softmax_scaled(k, &mut a, 0.001);
            let s: f32 = a.iter().sum();
            assert!((s - 1.0).abs() < 1e-6);
            let mut b = [0.0f32, 0.0];
            softmax_scaled(k, &mut b, 1.0);
            assert_eq!(b, [0.5, 0.5]);
            let mut c = [
                3.0f32,
                3.0,
                3.0,
                3.0,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
            ];
            softmax_scaled(k, &mut c, 0.5);
            assert_eq!(c, [0.25, 0.25, 0.25, 0.25, 0.0, 0.0, 0.0, 0.0]);
        }
    }

    #[test]
    fn gelu_follows_ggml_table_semantics() {
        assert_eq!(gelu_ggml(-10.0), 0.0);
        assert_eq!(gelu_ggml(12.5), 12.5);
        assert_eq!(gelu_ggml(0.0), 0.0);
        for x in [-3.3f32, -0.7, 0.1234, 1.0, 2.625, 9.99] {
            let exact = 0.5 * f64::from(x) * (1.0 + libm::erf(f64::from(x) / 2f64.sqrt()));
            // tanh approximation (1e-3) plus two f16 roundings.
            assert!((f64::from(gelu_ggml(x)) - exact).abs() < 2e-3 + 2e-3 * exact.abs(), "{x}");
            assert_eq!(gelu_ggml(x), f32_to_f16(gelu_ggml(x)).to_f32(), "result is an f16 value");
        }
        let mut g = [1.0f32, -20.0];
        geglu(&mut g, &[2.0, 3.0]);
        assert_eq!(g, [2.0 * gelu_ggml(1.0), 0.0]);
    }

    #[test]
    fn softcap_bounds() {
        let mut x = [0.0f32, 1.0, 1e6, -1e6];
        softcap(&mut x, 30.0);
        assert_eq!(x[0], 0.0);
        assert!((x[1] - 30.0 * (1.0f32 / 30.0).tanh()).abs() < 1e-6);
        assert_eq!((x[2], x[3]), (30.0, -30.0));
    }

    #[test]
    fn swiglu_goes_row_by_row() {
        // Rows of 9: each row's 9th value is the scalar remainder, whatever the tier.
        let g0: [f32; 18] = core::array::from_fn(|i| i as f32 * 0.4 - 3.0);
        let up = [1.5f32; 18];
        for k in emberlm_quant::Tier::ALL.into_iter().filter_map(Kernels::for_tier) {
            let mut g = g0;
            swiglu(k, &mut g, &up, 9);
            for (i, &v) in g.iter().enumerate() {
                let s = if i % 9 < 8 {
                    emberlm_quant::vexp::v_silu(g0[i])
                } else {
                    emberlm_quant::vexp::silu(g0[i])
                };
                assert_eq!(v.to_bits(), (s * 1.5).to_bits(), "{i} tier {}", k.tier);
            }
        }
    }

    /// The table gives [`gelu_ggml`]'s bits for every f16 input and around the ±10 cut-offs.
    #[test]
    fn gelu_table_equals_gelu_ggml() {
        let t = GeluTable::new().unwrap();
        let same = |x: f32| {
            let (a, b) = (t.gelu(x), gelu_ggml(x));
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{x}: {a} vs {b}");
        };
        for i in 0..=u16::MAX {
            same(half::f16::from_bits(i).to_f32());
        }
        for x in [-10.0f32, 10.0, -9.999, 9.999, 10.001, -10.001, 1e30, -1e30, 0.1, -0.3e-5] {
            same(x);
        }
        let mut g = [0.5f32, -11.0, 12.0, 3.3];
        let mut h = g;
        let up = [2.0f32, 3.0, -1.0, 0.25];
        geglu(&mut g, &up);
        t.geglu(&mut h, &up);
        assert_eq!(g, h);
        // every tier's f16 rounding, over every f16 value and chunk boundaries
        let x: alloc::vec::Vec<f32> =
            (0..=u16::MAX).map(|i| half::f16::from_bits(i).to_f32()).chain([1e30, -9.999]).collect();
        let up: alloc::vec::Vec<f32> = (0..x.len()).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect();
        let mut want = x.clone();
        geglu(&mut want, &up);
        for k in emberlm_quant::Tier::ALL.into_iter().filter_map(Kernels::for_tier) {
            for len in [x.len(), 1, 63, 65, 200] {
                let mut got = x[..len].to_vec();
                t.geglu_with(k, &mut got, &up[..len]);
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{} {i}: {a} vs {b}",
                        k.tier
                    );
                }
            }
        }
    }
}
