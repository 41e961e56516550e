//! Matrix products on quantized weights: the one place that dispatches on [`QuantType`].
//!
//! As in llama.cpp's CPU backend, a product `y = W x` never dequantizes `W`: the activation rows
//! `x` are first quantized to the weight format's activation partner
//! ([`Format::Activation`], llama.cpp's `vec_dot_type`), then every output value is one
//! [`Format::vec_dot`] of a weight row with an activation row, except for the `q4_K` matrices
//! that llama.cpp repacks on x86-64 (row count a multiple of 8, see `q4k_repacked`), whose
//! values follow its repacked gemm / gemv arithmetic.
//!
//! The kernel entry point, [`matmul_rows`], computes a *range of weight rows* for a whole batch
//! of activation rows, reusing each weight row across the batch. Threads (each taking a row range)
//! and SIMD kernels (replacing the scalar `vec_dot` per format) plug in here without touching the
//! forward pass.

use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};

use emberlm_models::TensorView;
use emberlm_quant::formats::q8_k::BlockQ8K;
use emberlm_quant::formats::{bf16::BF16, f16::F16, f32::F32, q8_0::Q8_0, q8_1::Q8_1, q8_k::Q8K};
use emberlm_quant::kernels::{QuantizeFn, gemm_or_dots};
use emberlm_quant::{Dispatch, Format, Kernels, QuantType};

use crate::error::{Error, Result};
use crate::threads::Pool;

mod kquant;
use kquant::{matmul_rows_at, q4k_repacked};

/// The pool of a [`QuantizedInput`] made without one: the calling thread alone.
static SINGLE_THREAD: Pool = Pool::single();

use emberlm_quant::with_weight_format;

/// Activation formats: where a kernel table keeps each one's quantizer (the tiers vectorize
/// f16 and the 8-bit formats; f32 is a copy and bf16 stays the scalar spec everywhere).
trait Activation: Format {
    fn quantizer(k: &Kernels) -> QuantizeFn<Self>;
}

macro_rules! activation {
    ($($fmt:ty => |$k:ident| $e:expr),* $(,)?) => {
        $(impl Activation for $fmt {
            fn quantizer($k: &Kernels) -> QuantizeFn<Self> {
                $e
            }
        })*
    };
}

activation! {
    F32 => |_k| F32::quantize,
    BF16 => |_k| BF16::quantize,
    F16 => |k| k.quantize_f16,
    Q8_0 => |k| k.quantize_q8_0,
    Q8_1 => |k| k.quantize_q8_1,
    Q8K => |k| k.quantize_q8_k,
}

/// Whether tensors of type `ty` can be used as matmul weights (llama.cpp has a `vec_dot` for
/// them; `Q8_1`/`Q8_K` are activation-only formats, integer types are not weights).
pub fn is_weight_type(ty: QuantType) -> bool {
    with_weight_format!(ty, W => { let _ = W::TYPE; true }, _ => false)
}

/// The activation format paired with weight type `ty`, or `None` if `ty` is not a weight type.
pub fn activation_type(ty: QuantType) -> Option<QuantType> {
    with_weight_format!(ty, W => Some(<<W as Format>::Activation as Format>::TYPE), _ => None)
}

/// Bytes of one row of `n_cols` activations quantized for weights of type `ty`.
pub fn activation_row_bytes(ty: QuantType, n_cols: usize) -> Option<usize> {
    let act = activation_type(ty)?;
    let bytes = act.bytes_for(n_cols as u64)?;
    usize::try_from(bytes).ok()
}

/// A 2-D weight matrix borrowed from a model file: `n_rows` rows of `n_cols` values of type `ty`.
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a> {
    name: &'a str,
    ty: QuantType,
    n_rows: usize,
    n_cols: usize,
    row_bytes: usize,
    data: &'a [u8],
}

impl<'a> Matrix<'a> {
    /// View `t` (GGUF shape `[n_cols, n_rows]`) as a weight matrix. Fails if it is not 2-D, its
    /// type is not a weight type, or its data is not aligned for its blocks.
    pub fn from_tensor(t: &TensorView<'a>) -> Result<Self> {
        let &[n_cols, n_rows] = t.dims() else {
            return Err(Error::TensorShape {
                name: t.name().into(),
                expected: alloc::vec![0, 0],
                found: t.dims().into(),
            });
        };
        let too_big =
            || Error::OutOfMemory { bytes: usize::MAX, what: "a tensor larger than the address space" };
        let n_cols = usize::try_from(n_cols).map_err(|_| too_big())?;
        let n_rows = usize::try_from(n_rows).map_err(|_| too_big())?;
        Self::new(t.name(), t.ty(), n_rows, n_cols, t.bytes())
    }

    /// A matrix of `n_rows` rows of `n_cols` values of type `ty` stored in `data` (row-major,
    /// GGUF encoding). Fails if `ty` is not a weight type, a row is not a whole number of
    /// blocks, `data` has the wrong size or is not aligned for the blocks.
    pub fn new(name: &'a str, ty: QuantType, n_rows: usize, n_cols: usize, data: &'a [u8]) -> Result<Self> {
        if !is_weight_type(ty) {
            return Err(Error::TensorType { name: name.into(), ty, why: "not usable as a matrix weight" });
        }
        let row_bytes =
            ty.bytes_for(n_cols as u64).and_then(|b| usize::try_from(b).ok()).ok_or_else(|| {
                Error::TensorType { name: name.into(), ty, why: "row is not a whole number of blocks" }
            })?;
        if row_bytes.checked_mul(n_rows) != Some(data.len()) {
            return Err(Error::TensorShape {
                name: name.into(),
                expected: alloc::vec![n_cols as u64, n_rows as u64],
                found: alloc::vec![(data.len() / row_bytes.max(1) * ty.block_elems()) as u64],
            });
        }
        let m = Self { name, ty, n_rows, n_cols, row_bytes, data };
        // The blocks view must work now so that products never fail later.
        let aligned = with_weight_format!(ty, W => bytemuck::try_cast_slice::<u8, <W as Format>::Block>(data).is_ok(), _ => false);
        if !aligned {
            return Err(Error::Misaligned { name: name.into() });
        }
        Ok(m)
    }

    /// The tensor name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The element type.
    pub fn ty(&self) -> QuantType {
        self.ty
    }

    /// Number of rows (outputs of a product).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (inputs of a product).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Dequantize row `row` into `out` (`n_cols` values); this is the embedding lookup
    /// (llama.cpp's `get_rows`).
    pub fn dequantize_row(&self, row: usize, out: &mut [f32]) -> Result<()> {
        if row >= self.n_rows || out.len() != self.n_cols {
            return Err(Error::Unsupported { what: alloc::format!("row {row} of {}", self.name) });
        }
        let bytes = &self.data[row * self.row_bytes..(row + 1) * self.row_bytes];
        with_weight_format!(self.ty, W => {
            let blocks = bytemuck::try_cast_slice::<u8, <W as Format>::Block>(bytes).map_err(|_| self.misaligned())?;
            W::dequantize(blocks, out);
            Ok(())
        }, _ => Err(self.misaligned()))
    }

    fn misaligned(&self) -> Error {
        Error::Misaligned { name: self.name.into() }
    }
}

/// Activation rows quantized for one weight type, in a buffer owned by the caller's scratch
/// memory (4-byte aligned words, so every block type can be viewed in place).
///
/// Consecutive products with the same input and weights of the same type (Q, K and V; gate and
/// up) quantize the input once.
#[derive(Debug)]
pub struct QuantizedInput<'s> {
    kernels: &'static Kernels,
    pool: &'s Pool,
    buf: &'s mut [u32],
    /// Activation type currently held, its rows, their length in values, and whether the rows
    /// in groups of four were quantized by [`Q8K::quantize_4rows`] (see `q4k_repacked`).
    held: Option<(QuantType, usize, usize, bool)>,
}

impl<'s> QuantizedInput<'s> {
    /// Use `buf` (see [`crate::MemoryPlan`] for its size) to hold activations quantized by
    /// `kernels`, for products run on `kernels`.
    pub fn new(kernels: &'static Kernels, buf: &'s mut [u32]) -> Self {
        Self { kernels, pool: &SINGLE_THREAD, buf, held: None }
    }

    /// Run the quantization and the products on `pool`'s threads: each product's output is
    /// split into parts (weight rows for one activation row, activation rows for several) that
    /// the threads compute independently, so results do not depend on the number of threads.
    pub fn with_pool(mut self, pool: &'s Pool) -> Self {
        self.pool = pool;
        self
    }

    /// Forget what the buffer holds (the input changed).
    pub fn invalidate(&mut self) {
        self.held = None;
    }

    /// Quantize `n_rows` rows of `x` (each `n_cols` values) for products with `w`, unless the
    /// buffer already holds exactly that.
    fn prepare(&mut self, w: &Matrix<'_>, x: &[f32], n_rows: usize) -> Result<(QuantType, usize)> {
        let n_cols = w.n_cols;
        let act = activation_type(w.ty).ok_or_else(|| w.misaligned())?;
        let row_bytes = activation_row_bytes(w.ty, n_cols).ok_or_else(|| Error::TensorType {
            name: w.name.into(),
            ty: w.ty,
            why: "row is not a whole number of blocks",
        })?;
        let four_rows = q4k_repacked(w);
        if self.held == Some((act, n_rows, n_cols, four_rows)) {
            return Ok((act, row_bytes));
        }
        let need = n_rows * row_bytes;
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut *self.buf);
        if x.len() < n_rows * n_cols || bytes.len() < need {
            return Err(Error::OutOfMemory {
                bytes: need,
                what: "quantized activations (memory plan too small)",
            });
        }
        let bytes = &mut bytes[..need];
        if four_rows {
            // llama.cpp's repacked q4_K product quantizes the rows it takes in groups of four
            // with its 4-row quantizer, the others with quantize_row_q8_K
            let blocks = bytemuck::try_cast_slice_mut::<u8, BlockQ8K>(bytes).map_err(|_| w.misaligned())?;
            let per_row = n_cols / Q8K::ELEMS;
            let (row, four) = (self.kernels.quantize_q8_k, self.kernels.quantize_q8_k_4rows);
            let grouped = n_rows - n_rows % 4;
            let x = &x[..n_rows * n_cols];
            self.pool.split_mut(blocks, per_row, &|rows, part| {
                let xs = x[rows.start * n_cols..rows.end * n_cols].chunks_exact(n_cols);
                for (t, (xr, br)) in rows.zip(xs.zip(part.chunks_exact_mut(per_row))) {
                    if t < grouped { four(xr, br) } else { row(xr, br) }
                }
            });
            self.held = Some((act, n_rows, n_cols, four_rows));
            return Ok((act, row_bytes));
        }
        with_weight_format!(w.ty, W => {
            type A = <W as Format>::Activation;
            let blocks = bytemuck::try_cast_slice_mut::<u8, <A as Format>::Block>(bytes)
                .map_err(|_| w.misaligned())?;
            let per_row = n_cols / A::ELEMS;
            let quantize = A::quantizer(self.kernels);
            let x = &x[..n_rows * n_cols];
            self.pool.split_mut(blocks, per_row, &|rows, part| {
                let xs = x[rows.start * n_cols..rows.end * n_cols].chunks_exact(n_cols);
                for (xr, br) in xs.zip(part.chunks_exact_mut(per_row)) {
                    quantize(xr, br);
                }
            });
        }, _ => return Err(w.misaligned()));
        self.held = Some((act, n_rows, n_cols, four_rows));
        Ok((act, row_bytes))
    }

    /// `y = W x` for `n_rows` activation rows: `y[t * W.n_rows() + r] = W[r] · x[t]`.
    pub fn matmul(&mut self, w: &Matrix<'_>, x: &[f32], n_rows: usize, y: &mut [f32]) -> Result<()> {
        let (_, row_bytes) = self.prepare(w, x, n_rows)?;
        let bytes: &[u8] = bytemuck::cast_slice(&*self.buf);
        let acts = &bytes[..n_rows * row_bytes];
        let kernels = self.kernels;
        if self.pool.n_threads() == 1 {
            return matmul_rows_at(kernels, w, acts, 0..n_rows, n_rows, 0..w.n_rows, y);
        }
        // Validate once: the parts below are sub-problems of a valid problem and cannot fail.
        check_operands(w, acts, n_rows, 0..w.n_rows, y)?;
        let y = &mut y[..n_rows * w.n_rows];
        let failed = AtomicBool::new(false);
        if n_rows == 1 {
            // Decoding: split the weight rows (each thread streams its own share of W), in
            // whole tiles of the multi-row kernels where the row count allows.
            let unit = if w.n_rows % TILE == 0 { TILE } else { 1 };
            self.pool.split_many_mut(&mut [y], unit, &|_, units, part| {
                let rows = units.start * unit..units.end * unit;
                if matmul_rows_at(kernels, w, acts, 0..1, 1, rows, part).is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
            });
        } else {
            // A batch: split the activation rows, so that every part is the token-major product
            // of all weight rows with a few tokens (each weight row is reused across them).
            self.pool.split_mut(y, w.n_rows, &|toks, part| {
                let a = &acts[toks.start * row_bytes..toks.end * row_bytes];
                if matmul_rows_at(kernels, w, a, toks, n_rows, 0..w.n_rows, part).is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
            });
        }
        if failed.load(Ordering::Relaxed) {
            return Err(Error::Unsupported { what: alloc::format!("a part of the product with {}", w.name) });
        }
        Ok(())
    }
}

impl QuantizedInput<'_> {
    /// `ys[i] = ws[i] x` for products that share their input, as [`QuantizedInput::matmul`]
    /// computes each: the input is quantized once and, when decoding one token on several
    /// threads, all the products run as one job (Q, K and V, or gate and up, cost one
    /// synchronisation instead of one each). Results are the same bits as separate products.
    pub fn matmul_group(
        &mut self,
        ws: &[&Matrix<'_>],
        x: &[f32],
        n_rows: usize,
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        let same_input = ws
            .windows(2)
            .all(|p| p[0].n_cols == p[1].n_cols && activation_type(p[0].ty) == activation_type(p[1].ty));
        if n_rows != 1 || self.pool.n_threads() == 1 || ws.len() != ys.len() || ws.is_empty() || !same_input {
            for (w, y) in ws.iter().zip(ys.iter_mut()) {
                self.matmul(w, x, n_rows, y)?;
            }
            return Ok(());
        }
        let (_, row_bytes) = self.prepare(ws[0], x, 1)?;
        let bytes: &[u8] = bytemuck::cast_slice(&*self.buf);
        let acts = &bytes[..row_bytes];
        for (w, y) in ws.iter().zip(ys.iter()) {
            check_operands(w, acts, 1, 0..w.n_rows, y)?;
        }
        let unit = if ws.iter().all(|w| w.n_rows % TILE == 0) { TILE } else { 1 };
        let mut outs: [&mut [f32]; 4] = [&mut [], &mut [], &mut [], &mut []];
        if ys.len() > outs.len() {
            return Err(Error::Unsupported { what: "a group of more than 4 products".into() });
        }
        for ((o, y), w) in outs.iter_mut().zip(ys.iter_mut()).zip(ws) {
            *o = &mut y[..w.n_rows];
        }
        let kernels = self.kernels;
        let failed = AtomicBool::new(false);
        self.pool.split_many_mut(&mut outs[..ws.len()], unit, &|i, units, part| {
            let rows = units.start * unit..units.end * unit;
            if matmul_rows_at(kernels, ws[i], acts, 0..1, 1, rows, part).is_err() {
                failed.store(true, Ordering::Relaxed);
            }
        });
        if failed.load(Ordering::Relaxed) {
            return Err(Error::Unsupported {
                what: alloc::format!("a part of the product with {}", ws[0].name),
            });
        }
        Ok(())
    }
}

impl QuantizedInput<'_> {
    /// One token's gated feed-forward input: `gate = W_gate x`, `up = W_up x`, then
    /// `glu(gate, up)` over all rows (`W_gate` and `W_up` of the same shape).
    /// On several threads the two products run as one job in which the thread that computes a
    /// part's rows of both also applies `glu` to them: the activation needs no job of its own and
    /// no row of `gate` or `up` crosses to another core. `glu` must be elementwise, and give the
    /// same bits on any run of whole 8-row tiles as on the whole row. Results are the bits of
    /// [`QuantizedInput::matmul_group`] followed by `glu` over all rows.
    pub fn matmul_glu(
        &mut self,
        [wg, wu]: [&Matrix<'_>; 2],
        x: &[f32],
        gate: &mut [f32],
        up: &mut [f32],
        glu: &(dyn Fn(&mut [f32], &[f32]) + Sync),
    ) -> Result<()> {
        let n = wg.n_rows;
        let paired = self.pool.n_threads() > 1
            && (wu.n_rows, wu.n_cols) == (n, wg.n_cols)
            && activation_type(wg.ty) == activation_type(wu.ty)
            && n % TILE == 0;
        if !paired {
            self.matmul_group(&[wg, wu], x, 1, &mut [&mut *gate, &mut *up])?;
            glu(&mut gate[..n], &up[..n]);
            return Ok(());
        }
        let (_, row_bytes) = self.prepare(wg, x, 1)?;
        let bytes: &[u8] = bytemuck::cast_slice(&*self.buf);
        let acts = &bytes[..row_bytes];
        check_operands(wg, acts, 1, 0..n, gate)?;
        check_operands(wu, acts, 1, 0..n, up)?;
        let kernels = self.kernels;
        let failed = AtomicBool::new(false);
        self.pool.split_pair_mut(&mut gate[..n], &mut up[..n], TILE, &|units, g, u| {
            let rows = units.start * TILE..units.end * TILE;
            if matmul_rows_at(kernels, wg, acts, 0..1, 1, rows.clone(), g).is_ok()
                && matmul_rows_at(kernels, wu, acts, 0..1, 1, rows, u).is_ok()
            {
                glu(g, u);
            } else {
                failed.store(true, Ordering::Relaxed);
            }
        });
        if failed.load(Ordering::Relaxed) {
            return Err(Error::Unsupported {
                what: alloc::format!("a part of the product with {}", wg.name),
            });
        }
        Ok(())
    }
}

/// Rows of the decoding tiles: a one-token product is split between threads in whole tiles.
const TILE: usize = 8;

/// The kernel: weight rows `rows` of `w` times `n_tokens` quantized activation rows `acts`
/// (each [`activation_row_bytes`] long), into `out[t * rows.len() + (r - rows.start)]`.
///
/// Each weight row is loaded once and dotted with every activation row. A thread computing a
/// sub-range writes a disjoint output block; with `rows = 0..w.n_rows()` the output is the usual
/// token-major `[n_tokens][n_rows]` matrix. `acts` is the whole batch, quantized as
/// [`QuantizedInput`] does (for a repacked `q4_K` matrix, see `q4k_repacked`, the rows in groups
/// of four by `Q8K::quantize_4rows`).
pub fn matmul_rows(
    kernels: &Kernels,
    w: &Matrix<'_>,
    acts: &[u8],
    n_tokens: usize,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<()> {
    matmul_rows_at(kernels, w, acts, 0..n_tokens, n_tokens, rows, out)
}

/// [`matmul_rows`] by the format's dot product (or its tier's multi-row kernel) for every value.
fn matmul_rows_dot(
    kernels: &Kernels,
    w: &Matrix<'_>,
    acts: &[u8],
    n_tokens: usize,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<()> {
    check_operands(w, acts, n_tokens, rows.clone(), out)?;
    let n_out = rows.len();
    with_weight_format!(w.ty, W => {
        type A = <W as Format>::Activation;
        let wb = bytemuck::try_cast_slice::<u8, <W as Format>::Block>(w.data).map_err(|_| w.misaligned())?;
        let ab = bytemuck::try_cast_slice::<u8, <A as Format>::Block>(acts).map_err(|_| w.misaligned())?;
        let w_per_row = w.n_cols / W::ELEMS;
        let a_per_row = w.n_cols / A::ELEMS;
        let ab = &ab[..n_tokens * a_per_row];
        let wb = &wb[rows.start * w_per_row..rows.end * w_per_row];
        let (gemm, dot) = (<W as Dispatch>::gemm(kernels), <W as Dispatch>::dot(kernels));
        gemm_or_dots::<W>(gemm, dot, wb, ab, w_per_row, out, n_out);
        Ok(())
    }, _ => Err(w.misaligned()))
}

/// The checks of [`matmul_rows`]: rows inside `w`, an output of `n_tokens * rows.len()` values,
/// `n_tokens` whole activation rows that can be viewed as blocks.
fn check_operands(
    w: &Matrix<'_>,
    acts: &[u8],
    n_tokens: usize,
    rows: Range<usize>,
    out: &[f32],
) -> Result<()> {
    if rows.end > w.n_rows || rows.start > rows.end || out.len() < n_tokens * rows.len() {
        return Err(Error::Unsupported {
            what: alloc::format!("matmul of {} with an ill-sized output", w.name),
        });
    }
    with_weight_format!(w.ty, W => {
        type A = <W as Format>::Activation;
        let ab = bytemuck::try_cast_slice::<u8, <A as Format>::Block>(acts).map_err(|_| w.misaligned())?;
        if ab.len() < n_tokens * (w.n_cols / A::ELEMS) {
            return Err(Error::Unsupported { what: alloc::format!("matmul of {} with too few activations", w.name) });
        }
        Ok(())
    }, _ => Err(w.misaligned()))
}

#[cfg(test)]
mod tests;
