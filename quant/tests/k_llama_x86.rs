//! The `q4_K`/`q6_K`/`q8_K` specs and every tier against llama.cpp's real x86-64 AVX2 CPU backend,
//! bit for bit: fixtures made by `tests/ggml-ref/kquant/gen.sh` (a C driver linked against
//! llama.cpp's `libggml*.so`; see the README there). Checked:
//!
//! - `quantize_row_q8_K` = [`Q8K::quantize`] and `ggml_quantize_mat_q8_K_4x8` =
//!   [`Q8K::quantize_4rows`] (rows with tied `+amax`/`-amax`, both orders);
//! - `ggml_vec_dot_q4_K_q8_K` = [`Format::vec_dot`] of `Q4K`, `ggml_vec_dot_q6_K_q8_K` = that of `Q6K`;
//! - `ggml_mul_mat` of a `q4_K` weight in the `CPU_REPACK` buffer (7 activation rows: rows 0..4 by
//!   `ggml_gemm_q4_K_8x8_q8_K`, rows 4..7 by `ggml_gemv_q4_K_8x8_q8_K`; and 1 row alone) =
//!   [`Q4K::dot_gemm`] / [`Q4K::dot_gemv`] as routed by [`Q4K::path`].
//!
//! The fixtures are plain files, so this runs on every target (qemu aarch64 included); a tier the
//! CPU cannot run prints SKIPPED.

mod common;

use std::path::PathBuf;

use bytemuck::Zeroable;
use common::{assert_same_bits, tier_kernels};
use emberlm_quant::formats::q4_k::{BlockQ4K, Q4K, Q4KPath};
use emberlm_quant::formats::q6_k::{BlockQ6K, Q6K};
use emberlm_quant::formats::q8_k::{BlockQ8K, Q8K};
use emberlm_quant::kernels::gemm_by_dot;
use emberlm_quant::{Format, Kernels, Tier};

const K: usize = 1024;
const NB: usize = K / 256;
const M: usize = 7;
const N4: usize = 16;
const N6: usize = 8;

fn bytes(name: &str) -> Vec<u8> {
    let path: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "..", "tests", "ggml-ref", "kquant", "fixtures", name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

fn blocks<B: bytemuck::Pod>(name: &str) -> Vec<B> {
    let b = bytes(name);
    assert_eq!(b.len() % size_of::<B>(), 0, "{name}");
    let mut out = vec![B::zeroed(); b.len() / size_of::<B>()];
    bytemuck::cast_slice_mut::<B, u8>(&mut out).copy_from_slice(&b);
    out
}

fn f32s(name: &str) -> Vec<f32> {
    bytes(name).chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

struct Fixtures {
    x: Vec<f32>,
    q8_row: Vec<BlockQ8K>,
    q8_4rows: Vec<BlockQ8K>,
    w4: Vec<BlockQ4K>,
    w6: Vec<BlockQ6K>,
}

fn fixtures() -> Fixtures {
    let f = Fixtures {
        x: f32s("x.f32"),
        q8_row: blocks("q8k_row.bin"),
        q8_4rows: blocks("q8k_4rows.bin"),
        w4: blocks("q4k_w.bin"),
        w6: blocks("q6k_w.bin"),
    };
    assert_eq!((f.x.len(), f.q8_row.len(), f.q8_4rows.len()), (M * K, M * NB, 4 * NB));
    assert_eq!((f.w4.len(), f.w6.len()), (N4 * NB, N6 * NB));
    f
}

/// Block by block, naming the first difference (the blocks are too long for `assert_eq!`).
fn same_blocks(got: &[BlockQ8K], want: &[BlockQ8K], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (b, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.d.to_bits(), w.d.to_bits(), "{what}: block {b}: d {} vs {}", g.d, w.d);
        if let Some(i) = (0..256).find(|&i| g.qs[i] != w.qs[i]) {
            panic!("{what}: block {b}: qs[{i}] {} vs {}", g.qs[i], w.qs[i]);
        }
        assert_eq!(g.bsums, w.bsums, "{what}: block {b}: bsums");
    }
}

fn check_quantizers(k: &Kernels) {
    let f = fixtures();
    let mut q = vec![BlockQ8K::zeroed(); M * NB];
    (k.quantize_q8_k)(&f.x, &mut q);
    same_blocks(&q, &f.q8_row, &format!("{}: quantize_row_q8_K", k.tier));
    let mut q4 = vec![BlockQ8K::zeroed(); 4 * NB];
    (k.quantize_q8_k_4rows)(&f.x[..4 * K], &mut q4);
    same_blocks(&q4, &f.q8_4rows, &format!("{}: ggml_quantize_mat_q8_K_4x8", k.tier));
    // the tie rows do make the two quantizers differ
    assert_ne!(&q[NB..2 * NB], &q4[NB..2 * NB], "row 1 has -amax before +amax");
}

/// `out[t * n + r]` by `dot` of weight row `r` and activation row `t`, and again through `gemm`.
fn products<W: Format<Activation = Q8K>>(
    dot: fn(&[W::Block], &[BlockQ8K]) -> f32,
    gemm: Option<emberlm_quant::kernels::GemmFn<W>>,
    w: &[W::Block],
    a: &[BlockQ8K],
    n: usize,
    what: &str,
    want: &[f32],
) {
    let m = a.len() / NB;
    let mut by_dot = vec![0.0; m * n];
    gemm_by_dot::<W>(dot, w, a, NB, &mut by_dot, n);
    assert_same_bits(&by_dot, want, &format!("{what} (dot)"));
    if let Some(g) = gemm {
        let mut out = vec![f32::NAN; m * (n + 3)];
        g(w, a, NB, &mut out, n + 3);
        let got: Vec<f32> = out.chunks(n + 3).flat_map(|r| r[..n].to_vec()).collect();
        assert_same_bits(&got, want, &format!("{what} (gemm)"));
    }
}

fn check_products(k: &Kernels) {
    let f = fixtures();
    let t = k.tier;
    products::<Q4K>(
        k.dot_q4_k,
        k.gemm_q4_k,
        &f.w4,
        &f.q8_row,
        N4,
        &format!("{t}: q4_K vec_dot"),
        &f32s("q4k_vec_dot.f32"),
    );
    products::<Q6K>(
        k.dot_q6_k,
        k.gemm_q6_k,
        &f.w6,
        &f.q8_row,
        N6,
        &format!("{t}: q6_K vec_dot"),
        &f32s("q6k_vec_dot.f32"),
    );

    // the repacked product of 7 rows: 0..4 by gemm (4-row quantizer), 4..7 by gemv
    let want = f32s("q4k_repacked_m7.f32");
    for row in 0..M {
        assert_eq!(Q4K::path(N4, M, row), if row < 4 { Q4KPath::Gemm } else { Q4KPath::Gemv });
    }
    products::<Q4K>(
        k.dot_q4_k_gemm,
        k.gemm_q4_k_gemm,
        &f.w4,
        &f.q8_4rows,
        N4,
        &format!("{t}: q4_K repacked gemm rows"),
        &want[..4 * N4],
    );
    products::<Q4K>(
        k.dot_q4_k_gemv,
        None,
        &f.w4,
        &f.q8_row[4 * NB..],
        N4,
        &format!("{t}: q4_K repacked gemv rows"),
        &want[4 * N4..],
    );
    // one row alone (decoding) is a gemv row
    assert_eq!(Q4K::path(N4, 1, 0), Q4KPath::Gemv);
    let want = f32s("q4k_repacked_m1_row1.f32");
    products::<Q4K>(
        k.dot_q4_k_gemv,
        None,
        &f.w4,
        &f.q8_row[NB..2 * NB],
        N4,
        &format!("{t}: q4_K repacked, 1 row"),
        &want,
    );
    // the three paths do differ on these operands (the fixtures pin the order, not just the sum)
    let gemv: Vec<f32> = (0..N4).map(|r| Q4K::dot_gemv(&f.w4[r * NB..][..NB], &f.q8_row[..NB])).collect();
    let vd: Vec<f32> = (0..N4).map(|r| Q4K::vec_dot(&f.w4[r * NB..][..NB], &f.q8_row[..NB])).collect();
    assert_ne!(gemv, vd, "gemv and vec_dot orders coincide on every row");
}

fn run(tier: Tier) {
    let Some(k) = tier_kernels(tier, "k_llama_x86") else { return };
    check_quantizers(k);
    check_products(k);
}

#[test]
fn scalar_spec_matches_llama_cpp_x86() {
    run(Tier::Scalar);
}

#[test]
fn avx2_matches_llama_cpp_x86() {
    run(Tier::Avx2);
}

#[test]
fn avx512vnni_matches_llama_cpp_x86() {
    run(Tier::Avx512Vnni);
}

#[test]
fn neon_matches_llama_cpp_x86() {
    run(Tier::Neon);
}

#[test]
fn dotprod_matches_llama_cpp_x86() {
    run(Tier::Dotprod);
}
