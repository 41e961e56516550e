//! Our ops against llama.cpp's own CPU ops, bit for bit: fixtures written by libggml (x86-64,
//! AVX2/FMA/F16C, GGML_LLAMAFILE=ON) with `tests/ggml-ref/ops/build.sh` (tiny ggml graphs on
//! deterministic inputs). Every kernel tier this host can run must give llama.cpp's bits, so
//! under qemu aarch64 the NEON tiers are checked against x86-64 llama.cpp too; a tier that
//! cannot run prints SKIPPED.
//!
//! - `ggml_soft_max_ext` with an f32 causal mask and a scale: [`ops::softmax_scaled`] over the
//!   visible cells padded with `-inf` to a multiple of 8 (what attention does);
//! - `ggml_swiglu_split`: [`ops::swiglu`];
//! - `ggml_mul_mat` with f16 `A` and f32 `B` (converted to f16 by ggml) at attention's shapes:
//!   4 columns (tinyBLAS) and 1 column (`ggml_vec_dot_f16`), `Kernels::lanes_dot_f16` in the
//!   order attention uses for each.

use std::path::PathBuf;

use emberlm::ops;
use emberlm_quant::formats::f16::f32_to_f16;
use emberlm_quant::lanes::DotOrder;
use emberlm_quant::{Kernels, Tier};
use half::f16;

fn fixture(name: &str) -> Vec<u8> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ggml-ops").join(format!("{name}.bin"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Splits `bytes` into consecutive f32 arrays of the given lengths (all bytes used).
fn f32s(bytes: &[u8], lens: &[usize]) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    let mut at = 0;
    for &n in lens {
        out.push(
            bytes[at..at + 4 * n]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
        );
        at += 4 * n;
    }
    assert_eq!(at, bytes.len(), "fixture size");
    out
}

fn tiers() -> Vec<&'static Kernels> {
    let mut out = Vec::new();
    for tier in Tier::ALL {
        match Kernels::for_tier(tier) {
            Some(k) => out.push(k),
            None => println!("SKIPPED: tier {tier} not supported on this CPU"),
        }
    }
    out
}

fn assert_bits(what: &str, tier: Tier, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    let bad: Vec<usize> = (0..got.len()).filter(|&i| got[i].to_bits() != want[i].to_bits()).collect();
    assert!(
        bad.is_empty(),
        "{what} tier {tier}: {} of {} values differ from llama.cpp, first at {}: {:e} vs {:e}",
        bad.len(),
        got.len(),
        bad[0],
        got[bad[0]],
        want[bad[0]]
    );
}

/// Rows of `N_KV` scores, row `r` seeing cells `0..=VIS[r % VIS.len()]` (the rest masked). A row
/// of llama.cpp's that is a multiple of 8 long is computed as attention does (the visible cells
/// padded with `-inf` to a multiple of 8); another (21) whole, to cover the scalar remainder.
fn softmax_case<const N_KV: usize, const ROWS: usize>(name: &str, scale: f32, vis: [usize; ROWS]) {
    let a = f32s(&fixture(name), &[N_KV * ROWS * 2, N_KV * ROWS * 2]);
    let (x, want) = (&a[0], &a[1]);
    let visible = |r: usize| vis[r % ROWS] + 1;
    for k in tiers() {
        let mut got = vec![0f32; want.len()];
        for (r, (xr, gr)) in x.chunks_exact(N_KV).zip(got.chunks_exact_mut(N_KV)).enumerate() {
            let n = visible(r);
            let n8 = if N_KV % 8 == 0 { n.next_multiple_of(8) } else { N_KV };
            let mut row = vec![f32::NEG_INFINITY; n8];
            let n = n.min(n8);
            row[..n].copy_from_slice(&xr[..n]);
            ops::softmax_scaled(k, &mut row, scale);
            gr[..n].copy_from_slice(&row[..n]);
        }
        assert_bits(name, k.tier, &got, want);
    }
    // The fixture tells ggml's vector exp from libm's expf: a softmax with `expf` differs.
    let mut differs = false;
    for (r, xr) in x.chunks_exact(N_KV).enumerate() {
        let n = visible(r);
        let w: Vec<f32> = xr[..n].iter().map(|v| v * scale).collect();
        let max = w.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = w.iter().map(|v| libm::expf(v - max)).collect();
        let inv = (1.0 / e.iter().map(|&v| f64::from(v)).sum::<f64>()) as f32;
        differs |= e.iter().enumerate().any(|(i, v)| (v * inv).to_bits() != want[r * N_KV + i].to_bits());
    }
    assert!(differs, "{name}: a libm softmax also gives llama.cpp's bits, the fixture is too easy");
}

#[test]
fn softmax_matches_ggml_soft_max_ext() {
    softmax_case::<256, 5>("softmax_256x5x2", 0.125, [0, 7, 100, 200, 255]);
    softmax_case::<256, 5>("softmax_256x5x2_wide", 1.0, [0, 7, 100, 200, 255]);
    softmax_case::<21, 3>("softmax_21x3x2", 0.5, [20, 20, 20]);
}

#[test]
fn swiglu_matches_ggml_swiglu_split() {
    for (name, n, rows) in [("swiglu_1536x3", 1536, 3), ("swiglu_64x2_wide", 64, 2), ("swiglu_21x4", 21, 4)] {
        let a = f32s(&fixture(name), &[n * rows; 3]);
        for k in tiers() {
            let mut g = a[0].clone();
            ops::swiglu(k, &mut g, &a[1], n);
            assert_bits(name, k.tier, &g, &a[2]);
        }
    }
}

/// `C[j][i] = dot(A row i, f16(B column j))` in `order`.
fn mul_mat_case(name: &str, kdim: usize, m: usize, n: usize, order: DotOrder) {
    let bytes = fixture(name);
    let a_bytes = 2 * kdim * m;
    let a: Vec<f16> =
        bytes[..a_bytes].chunks_exact(2).map(|b| f16::from_bits(u16::from_le_bytes([b[0], b[1]]))).collect();
    let rest = f32s(&bytes[a_bytes..], &[kdim * n, m * n]);
    let b16: Vec<f16> = rest[0].iter().map(|&v| f32_to_f16(v)).collect();
    for k in tiers() {
        let mut got = vec![0f32; m * n];
        for j in 0..n {
            for i in 0..m {
                got[j * m + i] =
                    (k.lanes_dot_f16)(&a[i * kdim..(i + 1) * kdim], &b16[j * kdim..(j + 1) * kdim], order);
            }
        }
        assert_bits(name, k.tier, &got, &rest[1]);
    }
    // The fixture tells the orders apart: every other order misses some of llama.cpp's bits.
    for other in [DotOrder::VecDot, DotOrder::VecDotPadded, DotOrder::Tinyblas] {
        if other == order || (kdim % 32 == 0 && other != DotOrder::Tinyblas && order != DotOrder::Tinyblas) {
            continue; // VecDot and VecDotPadded are the same function on whole chunks of 32
        }
        let k = &Kernels::SCALAR;
        let differs = (0..n).any(|j| {
            (0..m).any(|i| {
                let v =
                    (k.lanes_dot_f16)(&a[i * kdim..(i + 1) * kdim], &b16[j * kdim..(j + 1) * kdim], other);
                v.to_bits() != rest[1][j * m + i].to_bits()
            })
        });
        assert!(differs, "{name}: {other:?} also gives llama.cpp's bits, the fixture is too easy");
    }
}

#[test]
fn attention_products_match_ggml_mul_mat_f16() {
    mul_mat_case("kq_hd64_kv256_t4", 64, 256, 4, DotOrder::Tinyblas);
    mul_mat_case("kq_hd64_kv256_t1", 64, 256, 1, DotOrder::VecDot);
    mul_mat_case("kqv_kv256_hd64_t4", 256, 64, 4, DotOrder::Tinyblas);
    mul_mat_case("kqv_kv256_hd64_t1", 256, 64, 1, DotOrder::VecDotPadded);
}

/// An f32 cache's batched products: tinyBLAS f32. (The fixture `f32_k37_m8_t1`, one token
/// through `ggml_vec_dot_f32` with a 5-value tail, is not matched yet: see `emberlm_quant::lanes`.)
#[test]
fn f32_batched_products_match_ggml_mul_mat_f32() {
    let (name, kdim, m, n) = ("f32_k40_m8_t4", 40, 8, 4);
    let a = f32s(&fixture(name), &[kdim * m, kdim * n, m * n]);
    for k in tiers() {
        let mut got = vec![0f32; m * n];
        for j in 0..n {
            for i in 0..m {
                let (x, y) = (&a[0][i * kdim..(i + 1) * kdim], &a[1][j * kdim..(j + 1) * kdim]);
                got[j * m + i] = (k.lanes_dot_f32)(x, y, DotOrder::Tinyblas);
            }
        }
        assert_bits(name, k.tier, &got, &a[2]);
    }
}

#[test]
fn rms_norm_times_weight_matches_ggml() {
    let (n, rows) = (576, 3);
    let a = f32s(&fixture("rms_norm_576x3"), &[n * rows, n, n * rows]);
    let mut got = vec![0f32; n * rows];
    for (x, o) in a[0].chunks_exact(n).zip(got.chunks_exact_mut(n)) {
        ops::rms_norm(x, &a[1], 1e-5, o);
    }
    assert_bits("rms_norm_576x3", Tier::Scalar, &got, &a[2]);
}

fn rope_case(name: &str, hd: usize, kind: emberlm_models::arch::RopeKind, base: f32) {
    const POS: [usize; 8] = [0, 1, 2, 3, 17, 100, 255, 1000];
    let a = f32s(&fixture(name), &[hd * 2 * 8, hd * 2 * 8]);
    let p = ops::RopeParams { kind, n_dims: hd, freq_base: base, freq_scale: 1.0, freq_factors: None };
    for k in tiers() {
        let mut got = a[0].clone();
        let mut cache = vec![0f32; hd];
        for (t, tok) in got.chunks_exact_mut(hd * 2).enumerate() {
            ops::rope_cache(&p, POS[t], &mut cache);
            for head in tok.chunks_exact_mut(hd) {
                ops::rope_apply(k, kind, hd, &cache, head);
            }
        }
        assert_bits(name, k.tier, &got, &a[1]);
    }
}

#[test]
fn rope_matches_ggml_rope_ext() {
    use emberlm_models::arch::RopeKind;
    rope_case("rope_norm_hd64", 64, RopeKind::Norm, 100000.0);
    rope_case("rope_neox_hd256", 256, RopeKind::Neox, 1000000.0);
}

#[test]
fn geglu_matches_ggml_geglu_split_on_every_f16() {
    let want = f32s(&fixture("geglu_all_f16"), &[65536 + 8]).remove(0);
    let mut x: Vec<f32> = (0..=u16::MAX)
        .map(|i| f16::from_bits(i).to_f32())
        .map(|v| if v.is_finite() { v } else { 0.0 })
        .collect();
    x.extend([-10.0f32, 10.0, -9.999, 9.999, 10.001, -10.001, 1e30, -1e30]);
    let ones = vec![1f32; x.len()];
    let table = ops::GeluTable::new().unwrap();
    let mut got = x.clone();
    table.geglu(&mut got, &ones);
    assert_bits("geglu_all_f16 (table)", Tier::Scalar, &got, &want);
    let mut got = x;
    ops::geglu(&mut got, &ones);
    assert_bits("geglu_all_f16", Tier::Scalar, &got, &want);
}
