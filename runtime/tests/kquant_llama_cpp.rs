//! The runtime's `q4_K` / `q6_K` products (activation quantization and path routing included)
//! against llama.cpp's own `ggml_mul_mat` / `vec_dot` outputs, bit for bit: the fixtures of
//! `tests/ggml-ref/kquant` (made by `gen.sh` there from libggml; see its README). For a `q4_K`
//! matrix of 16 rows llama.cpp repacks the weights and takes activation rows 0..4 through
//! `ggml_gemm_q4_K_8x8_q8_K` (4-row quantizer) and rows 4..7 (and a lone row) through
//! `ggml_gemv_q4_K_8x8_q8_K`; a 12-row matrix is not repacked (`ggml_vec_dot_q4_K_q8_K`); `q6_K`
//! always takes `ggml_vec_dot_q6_K_q8_K`. Every tier this CPU has, on 1 and 2 threads.

use std::io::Write;
use std::path::PathBuf;

use emberlm::matmul::{Matrix, QuantizedInput, activation_row_bytes};
use emberlm::quant::{Kernels, QuantType, Tier};
use emberlm::threads::Pool;

const K: usize = 1024;
const M: usize = 7;

fn bytes(name: &str) -> Vec<u8> {
    let path: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "..", "tests", "ggml-ref", "kquant", "fixtures", name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

fn f32s(name: &str) -> Vec<f32> {
    bytes(name).chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The weight bytes in 4-byte aligned storage (blocks are viewed in place).
fn aligned(b: &[u8]) -> Vec<u32> {
    let mut v = vec![0u32; b.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut v)[..b.len()].copy_from_slice(b);
    v
}

fn product(k: &'static Kernels, pool: &Pool, m: &Matrix<'_>, x: &[f32], n: usize) -> Vec<f32> {
    let mut buf = vec![0u32; activation_row_bytes(m.ty(), m.n_cols()).unwrap() * n / 4 + 1];
    let mut y = vec![0f32; n * m.n_rows()];
    QuantizedInput::new(k, &mut buf).with_pool(pool).matmul(m, x, n, &mut y).unwrap();
    y
}

fn same_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: value {i}: {g:e} vs llama.cpp {w:e}");
    }
}

#[test]
fn q4_k_and_q6_k_products_match_llama_cpp_bit_for_bit() {
    let x = f32s("x.f32");
    let w4 = bytes("q4k_w.bin");
    let w6 = bytes("q6k_w.bin");
    let (w4a, w6a) = (aligned(&w4), aligned(&w6));
    let w4b = &bytemuck::cast_slice::<u32, u8>(&w4a)[..w4.len()];
    let w6b = &bytemuck::cast_slice::<u32, u8>(&w6a)[..w6.len()];
    let q4 = Matrix::new("q4k", QuantType::Q4K, 16, K, w4b).unwrap();
    let q4_12 = Matrix::new("q4k12", QuantType::Q4K, 12, K, &w4b[..12 * w4.len() / 16]).unwrap();
    let q6 = Matrix::new("q6k", QuantType::Q6K, 8, K, w6b).unwrap();
    let repacked = f32s("q4k_repacked_m7.f32");
    let lone = f32s("q4k_repacked_m1_row1.f32");
    let vec_dot = f32s("q4k_vec_dot.f32");
    let vec_dot_12: Vec<f32> = vec_dot.chunks(16).flat_map(|r| r[..12].to_vec()).collect();
    let q6_want = f32s("q6k_vec_dot.f32");
    let pools = [Pool::new(1).unwrap(), Pool::new(2).unwrap()];
    let mut ran = 0;
    for tier in Tier::ALL {
        let Some(k) = Kernels::for_tier(tier) else {
            // to the real stderr, so that it shows even when the harness captures test output
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: tier {tier} not supported on this CPU (kquant_llama_cpp)"
            );
            continue;
        };
        for pool in &pools {
            let what = |s: &str| format!("{tier}, {} threads: {s}", pool.n_threads());
            same_bits(&product(k, pool, &q4, &x, M), &repacked, &what("q4_K repacked, 7 rows"));
            same_bits(&product(k, pool, &q4, &x[K..2 * K], 1), &lone, &what("q4_K repacked, 1 row"));
            same_bits(&product(k, pool, &q4_12, &x, M), &vec_dot_12, &what("q4_K not repacked"));
            same_bits(&product(k, pool, &q6, &x, M), &q6_want, &what("q6_K"));
        }
        ran += 1;
    }
    assert!(ran >= 1);
}
