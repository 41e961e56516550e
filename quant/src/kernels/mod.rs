//! Kernel tiers and the one dispatch table per process.
//!
//! A [`Kernels`] table holds, for every weight format, the dot product against its activation
//! format, and the activation quantizers. [`Kernels::SCALAR`] is the spec itself (the `formats`
//! files). SIMD tiers live in `x86_64/{avx2,avx512vnni}/` and `aarch64/{neon,dotprod}/`, one file
//! per (ISA, format); each unsafe kernel has a crate-private safe wrapper that checks lengths once
//! and is only reachable through a table that [`Kernels::for_tier`] hands out after checking that
//! the CPU has the features the tier needs (at run time with `std`, by `cfg(target_feature)`
//! without).
//!
//! Which table a process uses: [`Kernels::best`]; with `std`,
//! `EMBERLM_TIER=scalar|avx2|avx512vnni|neon|dotprod` forces a tier (for tests and benches) and
//! [`Kernels::from_env`] reports a clear error when the CPU cannot run the one asked for.

use crate::Format;
use crate::formats::{
    bf16::BF16, f16::F16, f32::F32, q2_k::Q2K, q3_k::Q3K, q4_0::Q4_0, q4_1::Q4_1, q4_k::Q4K, q5_0::Q5_0,
    q5_1::Q5_1, q5_k::Q5K, q6_k::Q6K, q8_0::Q8_0, q8_1::Q8_1, q8_k::Q8K,
};
use crate::lanes::{self, LaneDotFn, LaneRowsFn};
use crate::rope::RopeFn;
use crate::vexp::{self, SoftmaxExpFn, SwigluFn};

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

/// A kernel tier: the instruction-set level a [`Kernels`] table is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The safe scalar spec. Runs everywhere.
    Scalar,
    /// x86_64 with AVX2, FMA and F16C.
    Avx2,
    /// [`Tier::Avx2`] plus AVX-512 F, BW, VL and VNNI (Cascade Lake, Zen 4): the same bits,
    /// `vpdpbusd`/`vpdpwssd` in the `Q5_0` decoding product and the `Q4_0`/`Q5_0`/`Q8_0`/`q4_K`/
    /// `q6_K` batch products.
    Avx512Vnni,
    /// aarch64 Advanced SIMD (NEON), without the dot-product extension (Cortex-A72, Raspberry Pi 4).
    Neon,
    /// aarch64 NEON with FEAT_DotProd (`sdot`/`udot`; Cortex-A76, Raspberry Pi 5).
    Dotprod,
}

impl Tier {
    /// Every tier, scalar first.
    pub const ALL: [Tier; 5] = [Tier::Scalar, Tier::Avx2, Tier::Avx512Vnni, Tier::Neon, Tier::Dotprod];

    /// The tier's name as `EMBERLM_TIER` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Scalar => "scalar",
            Tier::Avx2 => "avx2",
            Tier::Avx512Vnni => "avx512vnni",
            Tier::Neon => "neon",
            Tier::Dotprod => "dotprod",
        }
    }

    /// Parse an `EMBERLM_TIER` value.
    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this CPU can run the tier (at run time with `std`, at compile time without).
    pub fn is_supported(self) -> bool {
        match self {
            Tier::Scalar => true,
            Tier::Avx2 => detect::avx2(),
            Tier::Avx512Vnni => detect::avx2() && detect::avx512vnni(),
            Tier::Neon => detect::neon(),
            Tier::Dotprod => detect::dotprod(),
        }
    }
}

impl core::fmt::Display for Tier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// `dot(weights, activations)` for a weight format `F`: both operands cover the same number of
/// values. Panics if they do not (the safe wrappers check once, then run unchecked loops).
pub type DotFn<F> = fn(&[<F as Format>::Block], &[<<F as Format>::Activation as Format>::Block]) -> f32;
/// `gemm(w, a, row_blocks, out, out_stride)`: every weight row of `w` (rows of `row_blocks`
/// blocks) dotted with every activation row of `a` (same row length), into
/// `out[t * out_stride + r]` for weight row `r` and activation row `t`. Each value is **the same
/// bits** as the spec's `vec_dot` of the two rows: a multi-row kernel only reorganises which
/// products are computed together (weight blocks loaded once for several activation rows, the
/// float work of several weight rows in the lanes of one vector), never the arithmetic of one
/// output. Panics if the operands are not whole rows or `out` is too short.
pub type GemmFn<F> =
    fn(&[<F as Format>::Block], &[<<F as Format>::Activation as Format>::Block], usize, &mut [f32], usize);
/// `quantize(x, out)` into format `F` (`x.len() == out.len() * F::ELEMS`).
pub type QuantizeFn<F> = fn(&[f32], &mut [<F as Format>::Block]);

/// One tier's kernels: a dot product per weight format, the activation quantizers.
#[derive(Clone, Copy, Debug)]
pub struct Kernels {
    /// The tier these kernels are written for.
    pub tier: Tier,
    pub dot_f32: DotFn<F32>,
    pub dot_f16: DotFn<F16>,
    pub dot_bf16: DotFn<BF16>,
    pub dot_q4_0: DotFn<Q4_0>,
    pub dot_q4_1: DotFn<Q4_1>,
    pub dot_q5_0: DotFn<Q5_0>,
    pub dot_q5_1: DotFn<Q5_1>,
    pub dot_q8_0: DotFn<Q8_0>,
    pub dot_q2_k: DotFn<Q2K>,
    pub dot_q3_k: DotFn<Q3K>,
    pub dot_q4_k: DotFn<Q4K>,
    pub dot_q5_k: DotFn<Q5K>,
    pub dot_q6_k: DotFn<Q6K>,
    /// Multi-row products where a tier has them (`None`: one `dot` per output value).
    pub gemm_q4_0: Option<GemmFn<Q4_0>>,
    pub gemm_q4_1: Option<GemmFn<Q4_1>>,
    pub gemm_q5_0: Option<GemmFn<Q5_0>>,
    pub gemm_q5_1: Option<GemmFn<Q5_1>>,
    pub gemm_q8_0: Option<GemmFn<Q8_0>>,
    pub gemm_q4_k: Option<GemmFn<Q4K>>,
    pub gemm_q6_k: Option<GemmFn<Q6K>>,
    /// llama.cpp's repacked `q4_K` products (weight row count a multiple of 8):
    /// [`Q4K::dot_gemv`] for activation rows outside the groups of four ([`Q4K::path`]),
    /// [`Q4K::dot_gemm`] and its multi-row form for the rows in groups of four.
    pub dot_q4_k_gemv: DotFn<Q4K>,
    /// [`Q6K::dot_tiled`]: `q6_K` products of [`Q6K::TILED_MIN_ROWS`] or more activation rows.
    pub dot_q6_k_tiled: DotFn<Q6K>,
    /// The tier's multi-row kernel of [`Kernels::dot_q6_k_tiled`] (`None`: one dot per value).
    pub gemm_q6_k_tiled: Option<GemmFn<Q6K>>,
    pub dot_q4_k_gemm: DotFn<Q4K>,
    pub gemm_q4_k_gemv: Option<GemmFn<Q4K>>,
    pub gemm_q4_k_gemm: Option<GemmFn<Q4K>>,
    pub quantize_f16: QuantizeFn<F16>,
    /// Activation quantizers: `Q8_0`/`Q8_1` with llama.cpp's x86 AVX2 semantics
    /// (`q8_0::quantize_activations`), not the weights' `_ref` quantizer.
    pub quantize_q8_0: QuantizeFn<Q8_0>,
    pub quantize_q8_1: QuantizeFn<Q8_1>,
    pub quantize_q8_k: QuantizeFn<Q8K>,
    /// [`Q8K::quantize_4rows`]: the activations of [`Q4K::dot_gemm`].
    pub quantize_q8_k_4rows: QuantizeFn<Q8K>,
    /// Attention's f32 dot in llama.cpp's order: the same bits on every tier ([`crate::lanes`]).
    pub lanes_dot_f32: LaneDotFn<f32>,
    /// Attention's f16 dot in llama.cpp's order: the same bits on every tier ([`crate::lanes`]).
    pub lanes_dot_f16: LaneDotFn<half::f16>,
    /// [`Kernels::lanes_dot_f16`] for many rows against one vector ([`LaneRowsFn`]).
    pub lanes_dot_f16_rows: LaneRowsFn<half::f16>,
    /// Softmax's exponentials as ggml's AVX2 code: the same bits on every tier ([`crate::vexp`]).
    pub softmax_exp: SoftmaxExpFn,
    /// SwiGLU as ggml's AVX2 code: the same bits on every tier ([`crate::vexp`]).
    pub swiglu: SwigluFn,
    /// RoPE's rotation of one head: the same bits on every tier ([`crate::rope`]).
    pub rope_rotate: RopeFn,
}

impl Kernels {
    /// The scalar spec as a kernel table.
    pub const SCALAR: Kernels = Kernels {
        tier: Tier::Scalar,
        dot_f32: F32::vec_dot,
        dot_f16: F16::vec_dot,
        dot_bf16: BF16::vec_dot,
        dot_q4_0: Q4_0::vec_dot,
        dot_q4_1: Q4_1::vec_dot,
        dot_q5_0: Q5_0::vec_dot,
        dot_q5_1: Q5_1::vec_dot,
        dot_q8_0: Q8_0::vec_dot,
        dot_q2_k: Q2K::vec_dot,
        dot_q3_k: Q3K::vec_dot,
        dot_q4_k: Q4K::vec_dot,
        dot_q5_k: Q5K::vec_dot,
        dot_q6_k: Q6K::vec_dot,
        gemm_q4_0: None,
        gemm_q4_1: None,
        gemm_q5_0: None,
        gemm_q5_1: None,
        gemm_q8_0: None,
        gemm_q4_k: None,
        gemm_q6_k: None,
        dot_q4_k_gemv: Q4K::dot_gemv,
        dot_q6_k_tiled: Q6K::dot_tiled,
        gemm_q6_k_tiled: None,
        dot_q4_k_gemm: Q4K::dot_gemm,
        gemm_q4_k_gemv: None,
        gemm_q4_k_gemm: None,
        quantize_f16: F16::quantize,
        quantize_q8_0: crate::formats::q8_0::quantize_activations,
        quantize_q8_1: crate::formats::q8_1::quantize_activations,
        quantize_q8_k: Q8K::quantize,
        quantize_q8_k_4rows: Q8K::quantize_4rows,
        lanes_dot_f32: lanes::dot_f32,
        lanes_dot_f16: lanes::dot_f16,
        lanes_dot_f16_rows: lanes::dot_f16_rows,
        softmax_exp: vexp::softmax_exp,
        swiglu: vexp::swiglu,
        rope_rotate: crate::rope::rotate,
    };

    /// The table of `tier`, or `None` if this build has no such tier or the CPU cannot run it.
    pub fn for_tier(tier: Tier) -> Option<&'static Kernels> {
        if !tier.is_supported() {
            return None;
        }
        match tier {
            Tier::Scalar => Some(&Self::SCALAR),
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 => Some(&x86_64::avx2::AVX2),
            #[cfg(target_arch = "x86_64")]
            Tier::Avx512Vnni => Some(&x86_64::avx512vnni::AVX512VNNI),
            #[cfg(target_arch = "aarch64")]
            Tier::Neon => Some(&aarch64::neon::NEON),
            #[cfg(target_arch = "aarch64")]
            Tier::Dotprod => Some(&aarch64::dotprod::DOTPROD),
            _ => None,
        }
    }

    /// The fastest table this CPU can run.
    pub fn best() -> &'static Kernels {
        [Tier::Dotprod, Tier::Neon, Tier::Avx512Vnni, Tier::Avx2]
            .into_iter()
            .find_map(Self::for_tier)
            .unwrap_or(&Self::SCALAR)
    }

    /// The table for `EMBERLM_TIER` if set, else [`Kernels::best`]. An unknown name, or a tier
    /// this CPU cannot run, is an error saying so.
    #[cfg(feature = "std")]
    pub fn from_env() -> Result<&'static Kernels, TierError> {
        match std::env::var("EMBERLM_TIER") {
            Err(_) => Ok(Self::best()),
            Ok(name) => {
                let tier = Tier::from_name(&name).ok_or(TierError::Unknown)?;
                Self::for_tier(tier).ok_or(TierError::Unsupported(tier))
            }
        }
    }
}

/// Why `EMBERLM_TIER` could not be honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierError {
    /// Not one of `scalar`, `avx2`, `avx512vnni`, `neon`, `dotprod`.
    Unknown,
    /// A tier this build or CPU cannot run.
    Unsupported(Tier),
}

impl core::fmt::Display for TierError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TierError::Unknown => {
                f.write_str("EMBERLM_TIER must be one of scalar, avx2, avx512vnni, neon, dotprod")
            }
            TierError::Unsupported(t) => {
                write!(f, "EMBERLM_TIER={t}: this CPU (or build) cannot run the {t} kernels")
            }
        }
    }
}

impl core::error::Error for TierError {}

/// Weight formats that have a dot product in every [`Kernels`] table.
pub trait Dispatch: Format {
    /// This format's dot product in `k`.
    fn dot(k: &Kernels) -> DotFn<Self>;
    /// This format's multi-row product in `k`, if the tier has one.
    fn gemm(_k: &Kernels) -> Option<GemmFn<Self>> {
        None
    }
}

/// Checks the operands of a [`crate::kernels::GemmFn`] (whole rows, output long enough, output
/// rows that do not overlap) and returns `(n_rows, n_tok)`; `None` for an empty product.
pub(crate) fn gemm_operands(
    n_w: usize,
    n_a: usize,
    rb: usize,
    out: usize,
    stride: usize,
    what: &str,
) -> Option<(usize, usize)> {
    if rb == 0 {
        return None;
    }
    assert!(n_w % rb == 0 && n_a % rb == 0, "{what} gemm: partial rows");
    let (n_rows, n_tok) = (n_w / rb, n_a / rb);
    assert!(n_tok <= 1 || stride >= n_rows, "{what} gemm: overlapping output rows");
    assert!(
        n_tok == 0 || n_rows == 0 || out >= (n_tok - 1) * stride + n_rows,
        "{what} gemm: output too short"
    );
    Some((n_rows, n_tok))
}

/// The spec of every [`GemmFn`]: one [`Format::vec_dot`]-shaped `dot` per output value.
pub fn gemm_by_dot<F: Format>(
    dot: DotFn<F>,
    w: &[F::Block],
    a: &[<F::Activation as Format>::Block],
    row_blocks: usize,
    out: &mut [f32],
    out_stride: usize,
) {
    if row_blocks == 0 {
        return;
    }
    for (t, ar) in a.chunks_exact(row_blocks).enumerate() {
        let o = &mut out[t * out_stride..];
        for (r, wr) in w.chunks_exact(row_blocks).enumerate() {
            o[r] = dot(wr, ar);
        }
    }
}

/// A product by the tier's multi-row kernel `gemm` when it has one, else by `dot` per value
/// ([`gemm_by_dot`]): the same bits either way ([`GemmFn`]'s contract).
pub fn gemm_or_dots<F: Format>(
    gemm: Option<GemmFn<F>>,
    dot: DotFn<F>,
    w: &[F::Block],
    a: &[<F::Activation as Format>::Block],
    row_blocks: usize,
    out: &mut [f32],
    out_stride: usize,
) {
    match gemm {
        Some(gemm) => gemm(w, a, row_blocks, out, out_stride),
        None => gemm_by_dot::<F>(dot, w, a, row_blocks, out, out_stride),
    }
}

macro_rules! dispatch {
    ($($fmt:ty => $field:ident),* $(,)?) => {
        $(impl Dispatch for $fmt {
            fn dot(k: &Kernels) -> DotFn<Self> {
                k.$field
            }
        })*
    };
}

dispatch! {
    F32 => dot_f32, F16 => dot_f16, BF16 => dot_bf16,
    Q2K => dot_q2_k, Q3K => dot_q3_k, Q5K => dot_q5_k,
}

macro_rules! dispatch_gemm {
    ($($fmt:ty => $dot:ident, $gemm:ident),* $(,)?) => {
        $(impl Dispatch for $fmt {
            fn dot(k: &Kernels) -> DotFn<Self> {
                k.$dot
            }
            fn gemm(k: &Kernels) -> Option<GemmFn<Self>> {
                k.$gemm
            }
        })*
    };
}

dispatch_gemm! {
    Q4_0 => dot_q4_0, gemm_q4_0, Q4_1 => dot_q4_1, gemm_q4_1, Q5_0 => dot_q5_0, gemm_q5_0,
    Q5_1 => dot_q5_1, gemm_q5_1, Q8_0 => dot_q8_0, gemm_q8_0,
    Q4K => dot_q4_k, gemm_q4_k, Q6K => dot_q6_k, gemm_q6_k,
}

/// CPU feature detection: at run time with `std`, from the compile-time target features without.
mod detect {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    pub fn avx2() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(all(target_arch = "x86_64", not(feature = "std")))]
    pub fn avx2() -> bool {
        cfg!(all(target_feature = "avx2", target_feature = "fma", target_feature = "f16c"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    pub fn avx2() -> bool {
        false
    }

    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    pub fn avx512vnni() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(all(target_arch = "x86_64", not(feature = "std")))]
    pub fn avx512vnni() -> bool {
        cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vl",
            target_feature = "avx512vnni"
        ))
    }
    #[cfg(not(target_arch = "x86_64"))]
    pub fn avx512vnni() -> bool {
        false
    }

    #[cfg(target_arch = "aarch64")]
    pub fn neon() -> bool {
        // Advanced SIMD is part of the aarch64 baseline.
        true
    }
    #[cfg(not(target_arch = "aarch64"))]
    pub fn neon() -> bool {
        false
    }

    #[cfg(all(target_arch = "aarch64", feature = "std"))]
    pub fn dotprod() -> bool {
        std::arch::is_aarch64_feature_detected!("dotprod")
    }
    #[cfg(all(target_arch = "aarch64", not(feature = "std")))]
    pub fn dotprod() -> bool {
        cfg!(target_feature = "dotprod")
    }
    #[cfg(not(target_arch = "aarch64"))]
    pub fn dotprod() -> bool {
        false
    }
}
