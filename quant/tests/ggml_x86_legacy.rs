//! The legacy formats against llama.cpp's real x86-64 CPU code, bit for bit: the fixtures in
//! `tests/ggml-ref/legacy/fixtures/` were written by `tests/ggml-ref/legacy/gen.c` calling
//! `libggml-cpu.so` (AVX2 + FMA + F16C build, llamafile on; see the README there):
//! - `quantize_row_q8_0` / `quantize_row_q8_1` (`from_float`) on 512 blocks: random values of
//!   every scale, outliers, zeros, rounding ties, subnormal blocks, huge values, ±0, ±Inf, NaN;
//! - `ggml_vec_dot_{q4_0,q5_0,q8_0}_q8_0` and `ggml_vec_dot_{q4_1,q5_1}_q8_1` of 11 random
//!   weight rows (random bytes, any finite f16 scales) with 7 tokens, both quantized by llama.cpp
//!   from f32 and random activation blocks (any `i8`, -128 included);
//! - `ggml_mul_mat` of the same weights with the first 1..=7 f32 tokens (1 token: the vec_dot;
//!   2 or more: llamafile's tinyBLAS for `Q4_0 Q5_0 Q8_0`, the vec_dot for `Q4_1 Q5_1`).
//!
//! Checked for the scalar spec and every SIMD tier this CPU runs (others print SKIPPED), so the
//! aarch64 tiers are held to x86 llama.cpp too (under qemu, where llama.cpp is absent: the
//! fixtures are committed).

mod common;

use std::path::PathBuf;

use bytemuck::{Pod, Zeroable};
use common::{assert_same_bits, tier_kernels};
use emberlm_quant::formats::q4_0::Q4_0;
use emberlm_quant::formats::q4_1::Q4_1;
use emberlm_quant::formats::q5_0::Q5_0;
use emberlm_quant::formats::q5_1::Q5_1;
use emberlm_quant::formats::q8_0::{BlockQ8_0, Q8_0};
use emberlm_quant::formats::q8_1::BlockQ8_1;
use emberlm_quant::kernels::gemm_or_dots;
use emberlm_quant::{Dispatch, Format, Kernels, Tier};

/// Values per token row in the product fixtures.
const K: usize = 256;
/// Weight rows.
const M: usize = 11;
/// Tokens.
const NT: usize = 7;

fn bytes(name: &str) -> Vec<u8> {
    let path: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "..", "tests", "ggml-ref", "legacy", "fixtures", name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

fn f32s(name: &str) -> Vec<f32> {
    bytes(name).chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn blocks<B: Pod>(name: &str) -> Vec<B> {
    let b = bytes(name);
    assert_eq!(b.len() % size_of::<B>(), 0, "{name}: not whole blocks");
    let mut out = vec![B::zeroed(); b.len() / size_of::<B>()];
    bytemuck::cast_slice_mut::<B, u8>(&mut out).copy_from_slice(&b);
    out
}

/// The tables to check: the scalar spec, and `tier` if this CPU runs it.
fn tables(tier: Option<Tier>, what: &str) -> Option<&'static Kernels> {
    match tier {
        None => Some(&Kernels::SCALAR),
        Some(t) => tier_kernels(t, what),
    }
}

fn same_blocks<B: Pod + core::fmt::Debug>(got: &[B], want: &[B], input: &[f32], what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            bytemuck::bytes_of(g) == bytemuck::bytes_of(w),
            "{what}: block {i}: got {g:?}, llama.cpp {w:?}\ninput {:?}",
            &input[32 * i..32 * i + 32]
        );
    }
}

fn quantizers(tier: Option<Tier>) {
    let Some(k) = tables(tier, "ggml x86 quantizers") else { return };
    let x = f32s("quant_in.f32");
    let mut q0 = vec![BlockQ8_0::zeroed(); x.len() / 32];
    (k.quantize_q8_0)(&x, &mut q0);
    same_blocks(&q0, &blocks::<BlockQ8_0>("quant_in.q8_0"), &x, &format!("{} q8_0 quantize", k.tier));
    let mut q1 = vec![BlockQ8_1::zeroed(); x.len() / 32];
    (k.quantize_q8_1)(&x, &mut q1);
    same_blocks(&q1, &blocks::<BlockQ8_1>("quant_in.q8_1"), &x, &format!("{} q8_1 quantize", k.tier));
}

/// The activation quantizer of `F`'s activation format in `k`.
trait Act: Format + Dispatch {
    fn quantize_act(k: &Kernels, x: &[f32], out: &mut [<Self::Activation as Format>::Block]);
}
macro_rules! act {
    ($($F:ty => $q:ident),*) => {$(
        impl Act for $F {
            fn quantize_act(k: &Kernels, x: &[f32], out: &mut [<Self::Activation as Format>::Block]) {
                (k.$q)(x, out)
            }
        }
    )*};
}
act!(Q4_0 => quantize_q8_0, Q5_0 => quantize_q8_0, Q8_0 => quantize_q8_0, Q4_1 => quantize_q8_1, Q5_1 => quantize_q8_1);

fn products<F: Act>(tier: Option<Tier>) {
    let name = F::TYPE.name();
    let Some(k) = tables(tier, &format!("ggml x86 {name} products")) else { return };
    let what = |s: &str| format!("{} {name} {s}", k.tier);
    let rb = K / 32;
    let w = blocks::<F::Block>(&format!("{name}.w"));
    assert_eq!(w.len(), M * rb);
    let x = f32s("act.f32");
    let mut a = vec![<F::Activation as Format>::Block::zeroed(); NT * rb];
    F::quantize_act(k, &x, &mut a);
    let ar = blocks::<<F::Activation as Format>::Block>(&format!("{name}.arand"));
    let dot = F::dot(k);

    for (acts, file) in [(&a, "dot"), (&ar, "rdot")] {
        let got: Vec<f32> =
            (0..NT * M).map(|i| dot(&w[(i % M) * rb..][..rb], &acts[(i / M) * rb..][..rb])).collect();
        assert_same_bits(&got, &f32s(&format!("{name}.{file}.f32")), &what(&format!("vec_dot ({file})")));
    }

    let mm = f32s(&format!("{name}.mm.f32"));
    for n in 1..=NT {
        let mut got = vec![0f32; NT * M];
        gemm_or_dots::<F>(F::gemm(k), dot, &w, &a[..n * rb], rb, &mut got, M);
        let want = &mm[(n - 1) * NT * M..n * NT * M];
        assert_same_bits(&got, want, &what(&format!("mul_mat of {n} tokens")));
    }
}

macro_rules! per_tier {
    ($($m:ident: $run:expr),* $(,)?) => {$(
        mod $m {
            use super::*;
            #[test]
            fn scalar() {
                ($run)(None)
            }
            #[test]
            fn avx2() {
                ($run)(Some(Tier::Avx2))
            }
            #[test]
            fn neon() {
                ($run)(Some(Tier::Neon))
            }
            #[test]
            fn dotprod() {
                ($run)(Some(Tier::Dotprod))
            }
        }
    )*};
}

per_tier! {
    quantize_q8: quantizers,
    q4_0: products::<Q4_0>,
    q4_1: products::<Q4_1>,
    q5_0: products::<Q5_0>,
    q5_1: products::<Q5_1>,
    q8_0: products::<Q8_0>,
}
