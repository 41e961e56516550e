//! Batch products (4 or more activation rows) of the legacy formats whose weights are signed
//! bytes once expanded (`Q4_0`, `Q5_0`, `Q8_0`, all against `Q8_0` activations): tiles of
//! 2 weight rows x 4 tokens with the block loop written as one `asm!` block.
//!
//! The arithmetic is the spec's (`formats/legacy_lanes.rs`, llama.cpp's `mul_sum_i8_pairs_float`
//! and `tinyBLAS_Q0_AVX`) instruction for instruction per output: per block
//! `acc = fmadd(splat(d_w * d_a), cvtepi32_ps(madd(maddubs(|x|, sign(y, x)), 1)), acc)`, one
//! `hsum_float_8` at the end. What changes is where the operands come from. The generic tile
//! ([`super::gemm`]) expands each weight block again for every 4 tokens (for `Q5_0`, a dozen
//! instructions to merge its 5th bits) and its 8 accumulators, operands and constants do not fit
//! the 16 `ymm` registers without spilling. Here the 2 rows of a tile are expanded **once** for
//! all the tokens of the batch into a scratch buffer that stays in L1 (per block: `x` and `|x|` of
//! both rows and their scales as f32), the scales of every 4 tokens are converted once per batch
//! (each twice, in the lane order of the products `d_w * d_a` of the tile), and the block loop
//! runs in registers assigned once (`ymm0..7` the 8 accumulators, `ymm8..9` the rows' `|x|`,
//! `ymm10` the token's activations, `ymm11..12` the products, `ymm13` ones, `ymm14..15` the scale
//! products): 6 instructions per output and block, 2 of them loads, about 1.6x the generic tile's
//! throughput on Zen 3.
//!
//! [`gemm`] does the full tiles and leaves the last row (odd row counts) and the last 1-3 tokens
//! to the caller; it declines (does nothing) when a row is longer than its scratch.

use core::arch::asm;
use core::arch::x86_64::*;

use super::gemm::Legacy;
use crate::formats::q8_0::BlockQ8_0;

/// Weight rows per tile.
pub(in crate::kernels::x86_64) const ROWS: usize = 2;
/// Activation rows (tokens) per tile.
pub(in crate::kernels::x86_64) const TOKS: usize = 4;
/// The longest row (in blocks) the scratch holds: 4096 values.
pub(in crate::kernels::x86_64) const MAX_RB: usize = 128;
/// Scratch bytes per block: `x0`, `|x0|`, `x1`, `|x1|` (32 bytes each; the VNNI tile has other
/// vectors than `|x|`, [`Kind::second`]), `d0`, `d1` (f32), padding to a multiple of 32.
pub(in crate::kernels::x86_64) const SCR_BLOCK: usize = 160;
/// Scale products per block of a token tile: `[da0, da0, da1, da1, da2, da2, da3, da3]`.
pub(in crate::kernels::x86_64) const DA_BLOCK: usize = 2 * TOKS;
/// The activation scales converted at once (a chunk of token tiles): 16 KiB.
const DA_LEN: usize = 4096;

const _: () = assert!(size_of::<BlockQ8_0>() == 34);

#[repr(C, align(64))]
struct Scratch([u8; MAX_RB * SCR_BLOCK]);

#[repr(C, align(64))]
struct Scales([f32; DA_LEN]);

/// Most sums a tile leaves: 2 rows x 8 tokens (the VNNI tier's wide tile).
pub(in crate::kernels::x86_64) const MAX_SUMS: usize = 16;

/// A tile's outputs: `sums[2 t + r]` for token `t`, row `r` (the first `2 * toks`).
pub(in crate::kernels::x86_64) type Sums = [f32; MAX_SUMS];

/// A tile's block loop and what it wants in the scratch beside each row's expanded block `x`.
pub(in crate::kernels::x86_64) struct Kind {
    /// The block loop of one tile and its final sums, as [`tile`]: `(scr, da, y, rs, rb, sums)`,
    /// with `da` holding [`ROWS`] `* toks` scale products per block.
    pub tile: unsafe fn(&[u8], &[f32], *const u8, usize, usize, &mut Sums),
    /// The vector stored after each row's `x` (here `|x|`).
    pub second: unsafe fn(__m256i) -> __m256i,
    /// Tokens per tile: [`TOKS`], or 8 (at most [`MAX_SUMS`] `/ ROWS`).
    pub toks: usize,
    /// Whether the tile reads the activations' quants `^ 0x80` (32 bytes per block, 32-byte
    /// aligned, from the buffer [`gemm_with`] fills) instead of the blocks themselves.
    pub flip: bool,
}

/// This file's tile: the sign trick on `x` and `|x|`.
const SIGN_TRICK: Kind = Kind { tile, second: abs, toks: TOKS, flip: false };

/// `|x|` per byte (`-128` stays `0x80`, read as 128 by `maddubs`).
#[target_feature(enable = "avx2,fma,f16c")]
fn abs(x: __m256i) -> __m256i {
    _mm256_abs_epi8(x)
}

/// One product of the tile: token `$t`'s activations in `ymm10`, row `$r`.
#[rustfmt::skip]
macro_rules! product {
    ($x:literal, $ax:literal, $tmp:literal, $dd:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vpsignb ", $tmp, ", ymm10, ymmword ptr [{xs} + ", $x, "]\n",
            "vpmaddubsw ", $tmp, ", ", $ax, ", ", $tmp, "\n",
            "vpmaddwd ", $tmp, ", ", $tmp, ", ymm13\n",
            "vcvtdq2ps ", $tmp, ", ", $tmp, "\n",
            "vbroadcastss ", $dd, ", dword ptr [{dd} + ", $scale, "]\n",
            "vfmadd231ps ", $acc, ", ", $dd, ", ", $tmp, "\n",
        )
    };
}

/// Token `$t` of the tile (its activation block at `$y`, 2 bytes past the block's start) against
/// both rows.
#[rustfmt::skip]
macro_rules! token {
    ($y:literal, $s0:literal, $s1:literal, $a0:literal, $a1:literal) => {
        concat!(
            "vmovdqu ymm10, ymmword ptr [", $y, " + 2]\n",
            product!("0", "ymm8", "ymm11", "ymm14", $s0, $a0),
            product!("64", "ymm9", "ymm12", "ymm15", $s1, $a1),
        )
    };
}

/// The block loop of one tile: the expanded rows `scr` (`rb` blocks of [`SCR_BLOCK`] bytes), the
/// token tile's scales `da` (`rb` blocks of [`DA_BLOCK`]), its 4 activation rows at `y`, `y + rs`,
/// `y + 2 rs`, `y + 3 rs` (`rb` blocks each); the 8 sums `hsum_float_8(acc)` into `sums`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C; `rb >= 1`, `scr` and `da` hold `rb` blocks, the 4
/// activation rows `rb` blocks each.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile(scr: &[u8], da: &[f32], y: *const u8, rs: usize, rb: usize, sums: &mut Sums) {
    debug_assert!(rb >= 1 && scr.len() >= rb * SCR_BLOCK && da.len() >= rb * DA_BLOCK);
    let mut acc = [_mm256_setzero_ps(); ROWS * TOKS];
    let mut dd = [0f32; ROWS * TOKS];
    let ones = _mm256_set1_epi16(1);
    // SAFETY: the loop reads blocks b < rb of `scr` (SCR_BLOCK bytes each), `da` (DA_BLOCK f32
    // each) and of the 4 activation rows (34 bytes each, the 32 quants at offset 2), writes only
    // `dd`; registers as declared.
    unsafe {
        asm!(
            "2:",
            // the 8 products d_w(r) * d_a(t): [d0, d1] x [da_t, da_t] per token
            "vbroadcastsd ymm15, qword ptr [{xs} + 128]",
            "vmulps ymm15, ymm15, ymmword ptr [{da}]",
            "vmovups ymmword ptr [{dd}], ymm15",
            "vmovdqu ymm8, ymmword ptr [{xs} + 32]",
            "vmovdqu ymm9, ymmword ptr [{xs} + 96]",
            token!("{y}", "0", "4", "ymm0", "ymm1"),
            token!("{y} + {rs}", "8", "12", "ymm2", "ymm3"),
            token!("{y} + {rs}*2", "16", "20", "ymm4", "ymm5"),
            token!("{y} + {rs3}", "24", "28", "ymm6", "ymm7"),
            "add {xs}, {sb}",
            "add {da}, {db}",
            "add {y}, 34",
            "dec {n}",
            "jnz 2b",
            xs = inout(reg) scr.as_ptr() => _,
            da = inout(reg) da.as_ptr() => _,
            y = inout(reg) y => _,
            rs = in(reg) rs,
            rs3 = in(reg) 3 * rs,
            n = inout(reg) rb => _,
            dd = in(reg) dd.as_mut_ptr(),
            sb = const SCR_BLOCK,
            db = const DA_BLOCK * 4,
            inout("ymm0") acc[0], inout("ymm1") acc[1], inout("ymm2") acc[2],
            inout("ymm3") acc[3], inout("ymm4") acc[4], inout("ymm5") acc[5],
            inout("ymm6") acc[6], inout("ymm7") acc[7],
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _, out("ymm12") _,
            in("ymm13") ones, out("ymm14") _, out("ymm15") _,
            options(nostack),
        );
    }
    sums[..ROWS * TOKS].copy_from_slice(&super::util::hsum_ps8(&acc));
}

/// The first 2 bytes of a block: its f16 scale, as f32 (exactly).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn scale<B: bytemuck::Pod>(b: &B) -> f32 {
    let h = bytemuck::bytes_of(b);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(u16::from_le_bytes([h[0], h[1]])))))
}

/// Expand rows `w0` and `w1` (`rb` blocks each) into `scr`.
///
/// # Safety
/// The CPU must support the features of `kind.second`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn expand_rows<L: Legacy>(kind: &Kind, ops: &L, w0: &[L::X], w1: &[L::X], scr: &mut [u8]) {
    for ((x0, x1), s) in w0.iter().zip(w1).zip(scr.chunks_exact_mut(SCR_BLOCK)) {
        let (q0, q1) = (ops.expand(x0), ops.expand(x1));
        // SAFETY: the caller's CPU has `kind`'s features.
        let s0 = unsafe { (kind.second)(q0) };
        // SAFETY: as above.
        let s1 = unsafe { (kind.second)(q1) };
        for (i, q) in [q0, s0, q1, s1].into_iter().enumerate() {
            super::util::store_si256(&mut s[32 * i..32 * i + 32], q);
        }
        s[128..132].copy_from_slice(&scale(x0).to_le_bytes());
        s[132..136].copy_from_slice(&scale(x1).to_le_bytes());
    }
}

/// The full tiles of a batch product (operands checked by the caller: `w` whole rows of `rb`
/// blocks, `a` `n_tok >= 4` rows, `out[t * stride + r]` long enough): rows `0..n_rows / 2 * 2`
/// times tokens `0..n_tok / 4 * 4`. Returns `(rows, tokens)` done, `(0, 0)` when the rows are too
/// long for the scratch (the caller then computes everything).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn gemm<L: Legacy<Y = BlockQ8_0>>(
    ops: &L,
    w: &[L::X],
    a: &[BlockQ8_0],
    rb: usize,
    out: &mut [f32],
    stride: usize,
) -> (usize, usize) {
    // SAFETY: this tile needs AVX2, FMA and F16C, as this function.
    unsafe { gemm_with(&SIGN_TRICK, ops, w, a, rb, out, stride, &mut []) }
}

/// [`gemm`] with the tile of `kind` (the VNNI tier's, `avx512vnni/batch.rs`): tokens
/// `0..n_tok / toks * toks` for its `toks` tokens per tile. A `flip` kind needs `flipped`, a
/// 32-byte aligned buffer for the flipped quants of at least one tile (`32 rb toks` bytes;
/// chunks of tokens are flipped at a time), else nothing is done (`(0, 0)`).
///
/// # Safety
/// The CPU must support the features of `kind`'s functions.
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub(in crate::kernels::x86_64) unsafe fn gemm_with<L: Legacy<Y = BlockQ8_0>>(
    kind: &Kind,
    ops: &L,
    w: &[L::X],
    a: &[BlockQ8_0],
    rb: usize,
    out: &mut [f32],
    stride: usize,
    flipped: &mut [u8],
) -> (usize, usize) {
    // (the flipped quants are read with aligned loads)
    if rb == 0 || rb > MAX_RB || (kind.flip && flipped.as_ptr() as usize % 32 != 0) {
        return (0, 0);
    }
    let toks = kind.toks;
    debug_assert!((1..=MAX_SUMS / ROWS).contains(&toks));
    let da_block = ROWS * toks;
    let (n_rows, n_tok) = (w.len() / rb, a.len() / rb);
    let (full_rows, full_tiles) = (n_rows / ROWS * ROWS, n_tok / toks);
    if full_rows == 0 || full_tiles == 0 {
        return (0, 0);
    }
    let mut scr = Scratch([0; MAX_RB * SCR_BLOCK]);
    let scr = &mut scr.0[..rb * SCR_BLOCK];
    let mut da = Scales([0.0; DA_LEN]);
    let mut tiles_per_chunk = DA_LEN / (rb * da_block);
    // the activation rows' stride as the tile reads them
    let rs = if kind.flip {
        tiles_per_chunk = tiles_per_chunk.min(flipped.len() / (32 * rb * toks));
        32 * rb
    } else {
        rb * size_of::<BlockQ8_0>()
    };
    if tiles_per_chunk == 0 {
        return (0, 0);
    }
    let mut tile0 = 0;
    while tile0 < full_tiles {
        let n_tiles = tiles_per_chunk.min(full_tiles - tile0);
        // the chunk's activation scales, each twice (the lane order of the tile's products)
        let da = &mut da.0[..n_tiles * rb * da_block];
        for (i, d) in da.chunks_exact_mut(rb * da_block).enumerate() {
            let t0 = (tile0 + i) * toks;
            for (b, d) in d.chunks_exact_mut(da_block).enumerate() {
                for (t, d) in d.chunks_exact_mut(2).enumerate() {
                    d.fill(scale(&a[(t0 + t) * rb + b]));
                }
            }
        }
        if kind.flip {
            let t0 = tile0 * toks;
            let n = n_tiles * toks * rb;
            for (f, y) in flipped[..32 * n].chunks_exact_mut(32).zip(&a[t0 * rb..t0 * rb + n]) {
                for (f, &q) in f.iter_mut().zip(&y.qs) {
                    *f = q.cast_unsigned() ^ 0x80;
                }
            }
        }
        for r0 in (0..full_rows).step_by(ROWS) {
            let (w0, w1) = (&w[r0 * rb..(r0 + 1) * rb], &w[(r0 + 1) * rb..(r0 + 2) * rb]);
            // SAFETY: the caller's CPU has `kind`'s features.
            unsafe { expand_rows(kind, ops, w0, w1, scr) };
            for (i, da) in da.chunks_exact(rb * da_block).enumerate() {
                let t0 = (tile0 + i) * toks;
                let y: &[u8] = if kind.flip {
                    &flipped[i * toks * rs..(i + 1) * toks * rs]
                } else {
                    bytemuck::cast_slice(&a[t0 * rb..(t0 + toks) * rb])
                };
                let mut sums = [0f32; MAX_SUMS];
                // SAFETY: the caller's CPU has `kind`'s features; `y` holds the tile's `toks`
                // activation rows of `rs` bytes (checked by the index), `scr` and `da` `rb >= 1`
                // blocks each.
                unsafe { (kind.tile)(scr, da, y.as_ptr(), rs, rb, &mut sums) };
                for (t, s) in sums[..da_block].chunks_exact(ROWS).enumerate() {
                    out[(t0 + t) * stride + r0..][..ROWS].copy_from_slice(s);
                }
            }
        }
        tile0 += n_tiles;
    }
    (full_rows, full_tiles * toks)
}
