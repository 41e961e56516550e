//! Unit tests of the matmul dispatch: every weight type against its own dot, threads and
//! groups against single products, and the errors of bad operands.

use alloc::vec;
use alloc::vec::Vec;

use bytemuck::Zeroable;
use emberlm_quant::formats::{
    q2_k::Q2K, q3_k::Q3K, q4_0::Q4_0, q4_1::Q4_1, q4_k::Q4K, q5_0::Q5_0, q5_1::Q5_1, q5_k::Q5K, q6_k::Q6K,
};

use super::*;

fn noise(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

/// `W x` through the dispatch (activation quantization included) against an f64 product of
/// the dequantized weights with the unquantized activations; the only difference allowed is
/// the activation format's rounding. Also checks that a row sub-range computes the same rows.
fn check<F: Format>() {
    let (n_rows, n_cols, n_tok) = (5, 512, 3);
    let w = noise(n_rows * n_cols, F::TYPE.id());
    let x = noise(n_tok * n_cols, 99);
    let mut blocks = vec![<F::Block as bytemuck::Zeroable>::zeroed(); n_rows * n_cols / F::ELEMS];
    F::quantize(&w, &mut blocks);
    let mut wd = vec![0f32; n_rows * n_cols];
    F::dequantize(&blocks, &mut wd);
    let m = Matrix::new("w", F::TYPE, n_rows, n_cols, bytemuck::cast_slice(&blocks)).unwrap();

    let mut buf = vec![0u32; activation_row_bytes(F::TYPE, n_cols).unwrap() * n_tok / 4 + 1];
    let mut qin = QuantizedInput::new(&Kernels::SCALAR, &mut buf);
    let mut y = vec![0f32; n_tok * n_rows];
    qin.matmul(&m, &x, n_tok, &mut y).unwrap();

    let rel = match <F::Activation as Format>::TYPE {
        QuantType::F32 => 1e-6,
        QuantType::F16 => 2e-3,
        QuantType::BF16 => 2e-2,
        _ => 1.0 / 100.0, // 8-bit activations: error <= amax/254 per value
    };
    for t in 0..n_tok {
        for r in 0..n_rows {
            let (wr, xr) = (&wd[r * n_cols..][..n_cols], &x[t * n_cols..][..n_cols]);
            let exact: f64 = wr.iter().zip(xr).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
            let scale: f64 = wr.iter().map(|&a| f64::from(a).abs()).sum();
            let got = f64::from(y[t * n_rows + r]);
            assert!(
                (got - exact).abs() <= rel * scale + 1e-5,
                "{}: row {r} token {t}: {got} vs {exact}",
                F::TYPE
            );
        }
    }

    let row_bytes = activation_row_bytes(F::TYPE, n_cols).unwrap();
    let acts: &[u8] = bytemuck::cast_slice(&buf);
    let mut part = vec![0f32; n_tok * 2];
    matmul_rows(&Kernels::SCALAR, &m, &acts[..n_tok * row_bytes], n_tok, 2..4, &mut part).unwrap();
    for t in 0..n_tok {
        assert_eq!(&part[t * 2..t * 2 + 2], &y[t * n_rows + 2..t * n_rows + 4], "{}", F::TYPE);
    }
}

#[test]
fn every_weight_type_dispatches_to_its_own_dot() {
    check::<F32>();
    check::<F16>();
    check::<BF16>();
    check::<Q4_0>();
    check::<Q4_1>();
    check::<Q5_0>();
    check::<Q5_1>();
    check::<Q8_0>();
    check::<Q2K>();
    check::<Q3K>();
    check::<Q4K>();
    check::<Q5K>();
    check::<Q6K>();
    let covered = QuantType::ALL.iter().filter(|&&t| is_weight_type(t)).count();
    assert_eq!(covered, 13);
}

/// Products on a pool equal the single-threaded ones bit for bit (each output value is
/// one dot product, whichever thread computes it), for one and for many activation rows.
#[cfg(feature = "std")]
#[test]
fn threaded_products_equal_single_threaded_ones() {
    let (n_rows, n_cols) = (77, 256);
    let w = noise(n_rows * n_cols, 5);
    let mut blocks = vec![<Q4_1 as Format>::Block::zeroed(); n_rows * n_cols / Q4_1::ELEMS];
    Q4_1::quantize(&w, &mut blocks);
    let m = Matrix::new("w", QuantType::Q4_1, n_rows, n_cols, bytemuck::cast_slice(&blocks)).unwrap();
    let kernels = Kernels::best();
    for n_tok in [1, 2, 9, 40] {
        let x = noise(n_tok * n_cols, 7);
        let mut buf = vec![0u32; activation_row_bytes(QuantType::Q4_1, n_cols).unwrap() * n_tok / 4 + 1];
        let mut want = vec![0f32; n_tok * n_rows];
        QuantizedInput::new(kernels, &mut buf).matmul(&m, &x, n_tok, &mut want).unwrap();
        for n_threads in [2, 3] {
            let pool = Pool::new(n_threads).unwrap();
            let mut got = vec![0f32; n_tok * n_rows];
            QuantizedInput::new(kernels, &mut buf).with_pool(&pool).matmul(&m, &x, n_tok, &mut got).unwrap();
            assert_eq!(got, want, "{n_tok} tokens, {n_threads} threads");
        }
    }
}

/// A group of products sharing their input gives the bits of the separate products, on one
/// and several threads, for one token (the grouped path) and several (the fallback).
#[cfg(feature = "std")]
#[test]
fn grouped_products_equal_separate_ones() {
    let n_cols = 256;
    let shapes = [(64usize, QuantType::Q4_1), (24, QuantType::Q4_1), (13, QuantType::Q4_1)];
    let mats: Vec<Vec<<Q4_1 as Format>::Block>> = shapes
        .iter()
        .map(|&(n, _)| {
            let mut b = vec![<Q4_1 as Format>::Block::zeroed(); n * n_cols / Q4_1::ELEMS];
            Q4_1::quantize(&noise(n * n_cols, n as u32), &mut b);
            b
        })
        .collect();
    let ms: Vec<Matrix<'_>> = shapes
        .iter()
        .zip(&mats)
        .map(|(&(n, ty), b)| Matrix::new("w", ty, n, n_cols, bytemuck::cast_slice(b)).unwrap())
        .collect();
    let kernels = Kernels::best();
    for n_tok in [1, 3] {
        let x = noise(n_tok * n_cols, 11);
        let mut buf = vec![0u32; activation_row_bytes(QuantType::Q4_1, n_cols).unwrap() * n_tok / 4 + 1];
        let want: Vec<Vec<f32>> = ms
            .iter()
            .map(|m| {
                let mut y = vec![0f32; n_tok * m.n_rows()];
                QuantizedInput::new(kernels, &mut buf).matmul(m, &x, n_tok, &mut y).unwrap();
                y
            })
            .collect();
        for n_threads in [1, 2, 3] {
            let pool = Pool::new(n_threads).unwrap();
            let mut got: Vec<Vec<f32>> = ms.iter().map(|m| vec![f32::NAN; n_tok * m.n_rows()]).collect();
            let mut ys: Vec<&mut [f32]> = got.iter_mut().map(|v| v.as_mut_slice()).collect();
            let refs: Vec<&Matrix<'_>> = ms.iter().collect();
            QuantizedInput::new(kernels, &mut buf)
                .with_pool(&pool)
                .matmul_group(&refs, &x, n_tok, &mut ys)
                .unwrap();
            assert_eq!(got, want, "{n_tok} tokens, {n_threads} threads");
        }
    }
}

#[test]
fn non_weight_types_and_bad_shapes_are_errors() {
    let data = [0u8; 64];
    for ty in [QuantType::Q8K, QuantType::Q8_1, QuantType::I32] {
        assert!(matches!(Matrix::new("x", ty, 1, 16, &data), Err(Error::TensorType { .. })), "{ty}");
    }
    assert!(matches!(Matrix::new("x", QuantType::F32, 2, 16, &data), Err(Error::TensorShape { .. })));
    assert!(matches!(Matrix::new("x", QuantType::Q4_0, 1, 16, &data), Err(Error::TensorType { .. })));
    assert!(Matrix::new("x", QuantType::F32, 1, 16, &data).is_ok());
}
