//! The K-quant products that llama.cpp (x86-64 AVX2 build) routes to other code than their
//! `vec_dot`, computed the way it computes them: `q6_K` batches of 8+ rows by its tiled K-quant
//! matmul, and the `q4_K` matrices its CPU_REPACK buffer repacks (gemm for groups of four
//! activation rows, gemv for the rest).

use core::ops::Range;

use emberlm_quant::formats::q4_k::{BlockQ4K, Q4K};
use emberlm_quant::formats::q6_k::{BlockQ6K, Q6K};
use emberlm_quant::formats::q8_k::BlockQ8K;
use emberlm_quant::kernels::gemm_or_dots;
use emberlm_quant::{Format, Kernels, QuantType};

use super::{Matrix, check_operands, matmul_rows_dot};
use crate::error::Result;

/// Whether llama.cpp (on x86-64 AVX2, its default CPU_REPACK buffer) repacks `w`: a `q4_K`
/// matrix whose row count is a multiple of 8. Its products then follow
/// [`Q4K::path`](emberlm_quant::formats::q4_k::Q4K::path): activation rows in groups of four
/// (`t < n - n % 4` of a batch of `n`) by `Q4K::dot_gemm` on activations quantized by
/// `Q8K::quantize_4rows`, the others by `Q4K::dot_gemv`.
pub(super) fn q4k_repacked(w: &Matrix<'_>) -> bool {
    w.ty == QuantType::Q4K && w.n_rows % 8 == 0
}

/// [`matmul_rows`] for the activation rows `toks` (global indices) of a batch of `n_total` rows
/// (`acts` holds just `toks`): the product of each row follows the path llama.cpp gives it.
pub(super) fn matmul_rows_at(
    kernels: &Kernels,
    w: &Matrix<'_>,
    acts: &[u8],
    toks: Range<usize>,
    n_total: usize,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<()> {
    if w.ty == QuantType::Q6K && n_total >= Q6K::TILED_MIN_ROWS {
        // llama.cpp's tiled K-quant matmul takes q6_K products of 8 or more rows
        check_operands(w, acts, toks.len(), rows.clone(), out)?;
        let wb = bytemuck::try_cast_slice::<u8, BlockQ6K>(w.data).map_err(|_| w.misaligned())?;
        let ab = bytemuck::try_cast_slice::<u8, BlockQ8K>(acts).map_err(|_| w.misaligned())?;
        let per_row = w.n_cols / Q6K::ELEMS;
        let wb = &wb[rows.start * per_row..rows.end * per_row];
        let ab = &ab[..toks.len() * per_row];
        gemm_or_dots::<Q6K>(
            kernels.gemm_q6_k_tiled,
            kernels.dot_q6_k_tiled,
            wb,
            ab,
            per_row,
            out,
            rows.len(),
        );
        return Ok(());
    }
    if !q4k_repacked(w) {
        return matmul_rows_dot(kernels, w, acts, toks.len(), rows, out);
    }
    check_operands(w, acts, toks.len(), rows.clone(), out)?;
    let n_out = rows.len();
    let wb = bytemuck::try_cast_slice::<u8, BlockQ4K>(w.data).map_err(|_| w.misaligned())?;
    let ab = bytemuck::try_cast_slice::<u8, BlockQ8K>(acts).map_err(|_| w.misaligned())?;
    let per_row = w.n_cols / Q4K::ELEMS;
    let wb = &wb[rows.start * per_row..rows.end * per_row];
    // rows before `split` (local index) are in llama.cpp's groups of four
    let grouped = n_total - n_total % 4;
    let split = grouped.clamp(toks.start, toks.end) - toks.start;
    let (a_gemm, a_gemv) = ab[..toks.len() * per_row].split_at(split * per_row);
    let (o_gemm, o_gemv) = out.split_at_mut(split * n_out);
    gemm_or_dots::<Q4K>(kernels.gemm_q4_k_gemm, kernels.dot_q4_k_gemm, wb, a_gemm, per_row, o_gemm, n_out);
    gemm_or_dots::<Q4K>(kernels.gemm_q4_k_gemv, kernels.dot_q4_k_gemv, wb, a_gemv, per_row, o_gemv, n_out);
    Ok(())
}
