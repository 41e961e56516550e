//! The multi-row product of `Q4_1` (x `Q8_1`) with AVX-512 VNNI's `vpdpbusd` (256-bit, EVEX):
//! batches in tiles of 2 weight rows x 8 tokens (here), one token in the 8-row tiles of
//! [`decode`], the rest (the last rows and tokens) by the AVX2 kernel, whose bits these are.
//!
//! `Q4_1`'s nibbles are unsigned and the activation signed, the operand order `vpdpbusd` wants:
//! per lane of 4 values it adds `Σ q y` to zero, the integer llama.cpp's `maddubs(q, y)` then
//! `madd(·, 1)` gives (its pairs stay within `±2 * 15 * 128`, no saturation), for every
//! activation (no -128 exception here). Per output and block, as the AVX2 tile
//! (`avx2/gemm.rs`, `formats/q4_1.rs`): `acc = fmadd(splat(d_w * d_a), cvt(int), acc)`; per row
//! and block `summs = fma(m_w, s_a, summs)` (8 tokens' chains in the lanes of one vector: a lane
//! of `vfmadd231ps` is the scalar FMA); at the end `hsum_float_8(acc) + summs`.
//!
//! The driver expands a pair of rows once into a scratch (nibbles as bytes, `d` and `m` as f32)
//! for all the tokens of a chunk, whose quants it has copied into an aligned buffer (32 bytes per
//! block) and whose `d_a`, `s_a` it has converted once; the block loop keeps the 16 accumulators
//! and the 2 `summs` vectors in registers. `gemm-throughput` (one thread, 1536 x 576 x 64 tokens,
//! Zen 4, 2026-12-07): 35-37 GMAC/s for the AVX2 tile, 80-81 here; SmolLM2 pp512 against
//! llama.cpp (`benches/compare-llama-cpp.sh`, t=1 / t=2): 1.15x / 1.66x before, 2.91x / 2.75x.

use core::arch::asm;
use core::arch::x86_64::*;

use super::super::avx2::gemm::gemm_rest;
use super::super::avx2::q4_1 as avx2;
use super::super::avx2::util::{f16_to_f32, hsum_ps16, nibbles_32, store_ps, store_si256};
use super::decode;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;

/// Weight rows per tile.
const ROWS: usize = 2;
/// Tokens per tile.
const TOKS: usize = 8;
/// The longest row (in blocks) the scratch holds: 4096 values.
const MAX_RB: usize = 128;
/// Scratch bytes per block: `x0`, `x1` (32 bytes each), `d0`, `d1`, `m0`, `m1` (f32), padding.
const SCR_BLOCK: usize = 96;
/// Floats per block of a token tile: `[d_a(t), d_a(t)]` for `t < 8`, then `s_a(t)`.
const DA_BLOCK: usize = 3 * TOKS;
/// The activation scales converted at once (a chunk of token tiles).
const DA_LEN: usize = 6144;
/// The activation quants copied at once: as many tokens as [`DA_LEN`] holds.
const Y_LEN: usize = DA_LEN / 3 * 32;

const _: () = assert!(size_of::<BlockQ8_1>() == 36 && size_of::<BlockQ4_1>() == 20);

#[repr(C, align(64))]
struct Scratch([u8; MAX_RB * SCR_BLOCK]);

#[repr(C, align(64))]
struct Scales([f32; DA_LEN]);

#[repr(C, align(64))]
struct Quants([u8; Y_LEN]);

/// The scale products of every block of a tile.
#[repr(C, align(32))]
struct Products([f32; MAX_RB * ROWS * TOKS]);

/// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only reachable
/// through [`super::AVX512VNNI`].
pub(crate) fn gemm(w: &[BlockQ4_1], a: &[BlockQ8_1], row_blocks: usize, out: &mut [f32], stride: usize) {
    let checked = crate::kernels::gemm_operands(w.len(), a.len(), row_blocks, out.len(), stride, "Q4_1 vnni");
    if checked.is_none() {
        // operands the AVX2 kernel rejects as well
        return avx2::gemm(w, a, row_blocks, out, stride);
    }
    // SAFETY: this wrapper is crate-private and only reachable through the VNNI table, which
    // `Kernels::for_tier` returns only after detecting the tier's features; operands checked,
    // every slice access in `vnni` is bounds-checked.
    unsafe { vnni(w, a, row_blocks, out, stride) }
}

/// # Safety
/// The CPU must support the tier's features. Operands checked.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn vnni(w: &[BlockQ4_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32], stride: usize) {
    if a.len() == rb {
        // one token: the full 8-row tiles in `decode`, the last rows by AVX2
        let done = decode::q4_1(w, a, rb, out);
        return avx2::gemm(&w[done * rb..], a, rb, &mut out[done..], stride);
    }
    let done = tiles(w, a, rb, out, stride);
    gemm_rest(&avx2::ops(), w, a, rb, out, stride, done)
}

/// The full tiles: rows `0..n_rows / 2 * 2` times tokens `0..n_tok / 8 * 8`; returns `(rows,
/// tokens)` done, `(0, 0)` for rows longer than the scratch.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn tiles(w: &[BlockQ4_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32], stride: usize) -> (usize, usize) {
    if rb == 0 || rb > MAX_RB {
        return (0, 0);
    }
    let (n_rows, n_tok) = (w.len() / rb, a.len() / rb);
    let (full_rows, full_tiles) = (n_rows / ROWS * ROWS, n_tok / TOKS);
    if full_rows == 0 || full_tiles == 0 {
        return (0, 0);
    }
    let mut scr = Scratch([0; MAX_RB * SCR_BLOCK]);
    let scr = &mut scr.0[..rb * SCR_BLOCK];
    let mut da = Scales([0.0; DA_LEN]);
    let mut ys = Quants([0; Y_LEN]);
    let tiles_per_chunk = DA_LEN / (rb * DA_BLOCK);
    let rs = 32 * rb;
    let mut tile0 = 0;
    while tile0 < full_tiles {
        let n_tiles = tiles_per_chunk.min(full_tiles - tile0);
        let (t0, n) = (tile0 * TOKS, n_tiles * TOKS * rb);
        // the chunk's scales: per tile and block `[d_a, d_a] x 8` (the lane order of the tile's
        // products) then `s_a x 8`; its quants, 32 aligned bytes per block
        let da = &mut da.0[..n_tiles * rb * DA_BLOCK];
        for (i, d) in da.chunks_exact_mut(rb * DA_BLOCK).enumerate() {
            for (b, d) in d.chunks_exact_mut(DA_BLOCK).enumerate() {
                let (dd, ss) = d.split_at_mut(ROWS * TOKS);
                for t in 0..TOKS {
                    let y = &a[(t0 + i * TOKS + t) * rb + b];
                    dd[2 * t..2 * t + 2].fill(f16_to_f32(y.d));
                    ss[t] = f16_to_f32(y.s);
                }
            }
        }
        for (f, y) in ys.0[..32 * n].chunks_exact_mut(32).zip(&a[t0 * rb..t0 * rb + n]) {
            f.copy_from_slice(bytemuck::bytes_of(&y.qs));
        }
        for r0 in (0..full_rows).step_by(ROWS) {
            let (w0, w1) = (&w[r0 * rb..(r0 + 1) * rb], &w[(r0 + 1) * rb..(r0 + 2) * rb]);
            for ((x0, x1), s) in w0.iter().zip(w1).zip(scr.chunks_exact_mut(SCR_BLOCK)) {
                store_si256(&mut s[..32], nibbles_32(&x0.qs));
                store_si256(&mut s[32..64], nibbles_32(&x1.qs));
                let dm = [f16_to_f32(x0.d), f16_to_f32(x1.d), f16_to_f32(x0.m), f16_to_f32(x1.m)];
                s[64..80].copy_from_slice(bytemuck::bytes_of(&dm));
            }
            for (i, da) in da.chunks_exact(rb * DA_BLOCK).enumerate() {
                let y = &ys.0[i * TOKS * rs..(i + 1) * TOKS * rs];
                // SAFETY: the tier's features are this function's; `y` holds the tile's 8 rows of
                // `rb` 32-byte blocks (32-byte aligned, as `rs`), `scr` and `da` `rb >= 1` blocks.
                let (sums, summs) = unsafe { tile(scr, da, y.as_ptr(), rs, rb) };
                let t0 = t0 + i * TOKS;
                for t in 0..TOKS {
                    for r in 0..ROWS {
                        out[(t0 + t) * stride + r0 + r] = sums[2 * t + r] + summs[r * TOKS + t];
                    }
                }
            }
        }
        tile0 += n_tiles;
    }
    (full_rows, full_tiles * TOKS)
}

/// One product: the token's quants in `ymm20`, the row's nibbles in `$x`, its accumulator `$acc`,
/// the scale product at `{dd} + $scale` (broadcast by the `fmadd`; `ymm21` zero).
#[rustfmt::skip]
macro_rules! product {
    ($x:literal, $tmp:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vmovdqa64 ", $tmp, ", ymm21\n",
            "vpdpbusd ", $tmp, ", ", $x, ", ymm20\n",
            "vcvtdq2ps ", $tmp, ", ", $tmp, "\n",
            "vfmadd231ps ", $acc, ", ", $tmp, ", dword ptr [{dd} + ", $scale, "]{{1to8}}\n",
        )
    };
}

/// Token `$t` of the tile (its quants at `$y`) against both rows.
#[rustfmt::skip]
macro_rules! token {
    ($y:literal, $s0:literal, $s1:literal, $a0:literal, $a1:literal) => {
        concat!(
            "vmovdqa64 ymm20, ymmword ptr [", $y, "]\n",
            product!("ymm16", "ymm22", $s0, $a0),
            product!("ymm17", "ymm23", $s1, $a1),
        )
    };
}

/// The block loop of one tile: the expanded rows `scr`, the token tile's scales `da` (`rb` blocks
/// of [`DA_BLOCK`]), its 8 rows of quants at `y + t rs` (`rb` aligned 32-byte blocks each).
/// Returns the 16 sums `hsum_float_8(acc)` (`[2 t + r]`) and the `summs` (`[8 r + t]`).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and VNNI; `rb >= 1`, `scr` (32-byte
/// aligned) and `da` hold `rb` blocks, the 8 rows at `y` (32-byte aligned, as `rs`) `rb` blocks.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile(scr: &[u8], da: &[f32], y: *const u8, rs: usize, rb: usize) -> ([f32; 16], [f32; 16]) {
    debug_assert!((1..=MAX_RB).contains(&rb) && scr.len() >= rb * SCR_BLOCK && da.len() >= rb * DA_BLOCK);
    debug_assert!(scr.as_ptr() as usize % 32 == 0 && y as usize % 32 == 0 && rs % 32 == 0);
    let mut acc = [_mm256_setzero_ps(); ROWS * TOKS];
    let mut summs = [_mm256_setzero_ps(); ROWS];
    // the 16 products d_w(r) * d_a(t) of every block, before the block loop, into `dd`
    let mut dd = core::mem::MaybeUninit::<Products>::uninit();
    // SAFETY: the loops read blocks b < rb <= MAX_RB of `scr` (SCR_BLOCK bytes each, 32-byte
    // aligned), `da` (DA_BLOCK f32 each) and of the 8 rows at `y` (32 aligned bytes each), write
    // only `dd` (32-byte aligned, MAX_RB blocks of 16 f32) and read of it only what the first
    // loop wrote; registers as declared.
    unsafe {
        asm!(
            "mov {i}, {n}",
            "mov {p}, {dd}",
            "mov {x}, {xs}",
            "mov {s}, {da}",
            "3:",
            "vbroadcastsd ymm24, qword ptr [{x} + 64]",
            "vmulps ymm25, ymm24, ymmword ptr [{s}]",
            "vmovaps ymmword ptr [{p}], ymm25",
            "vmulps ymm25, ymm24, ymmword ptr [{s} + 32]",
            "vmovaps ymmword ptr [{p} + 32], ymm25",
            "add {x}, {sb}",
            "add {s}, {db}",
            "add {p}, 64",
            "dec {i}",
            "jnz 3b",
            "vpxord xmm21, xmm21, xmm21",
            "2:",
            "vmovdqa64 ymm16, ymmword ptr [{xs}]",
            "vmovdqa64 ymm17, ymmword ptr [{xs} + 32]",
            // summs(r) = fma(m_w(r), s_a(t), summs(r)), token t in lane t
            "vmovaps ymm18, ymmword ptr [{da} + 64]",
            "vfmadd231ps ymm26, ymm18, dword ptr [{xs} + 72]{{1to8}}",
            "vfmadd231ps ymm27, ymm18, dword ptr [{xs} + 76]{{1to8}}",
            token!("{y}", "0", "4", "ymm0", "ymm1"),
            token!("{y} + {rs}", "8", "12", "ymm2", "ymm3"),
            token!("{y} + {rs}*2", "16", "20", "ymm4", "ymm5"),
            token!("{y} + {rs3}", "24", "28", "ymm6", "ymm7"),
            token!("{y4}", "32", "36", "ymm8", "ymm9"),
            token!("{y4} + {rs}", "40", "44", "ymm10", "ymm11"),
            token!("{y4} + {rs}*2", "48", "52", "ymm12", "ymm13"),
            token!("{y4} + {rs3}", "56", "60", "ymm14", "ymm15"),
            "add {xs}, {sb}",
            "add {da}, {db}",
            "add {dd}, 64",
            "add {y}, 32",
            "add {y4}, 32",
            "dec {n}",
            "jnz 2b",
            xs = inout(reg) scr.as_ptr() => _,
            y = inout(reg) y => _,
            y4 = inout(reg) y.wrapping_add(4 * rs) => _,
            rs = in(reg) rs,
            rs3 = in(reg) 3 * rs,
            n = inout(reg) rb => _,
            dd = inout(reg) dd.as_mut_ptr() => _,
            da = inout(reg) da.as_ptr() => _,
            i = out(reg) _,
            p = out(reg) _,
            x = out(reg) _,
            s = out(reg) _,
            sb = const SCR_BLOCK,
            db = const DA_BLOCK * 4,
            inout("ymm0") acc[0], inout("ymm1") acc[1], inout("ymm2") acc[2],
            inout("ymm3") acc[3], inout("ymm4") acc[4], inout("ymm5") acc[5],
            inout("ymm6") acc[6], inout("ymm7") acc[7], inout("ymm8") acc[8],
            inout("ymm9") acc[9], inout("ymm10") acc[10], inout("ymm11") acc[11],
            inout("ymm12") acc[12], inout("ymm13") acc[13], inout("ymm14") acc[14],
            inout("ymm15") acc[15],
            out("ymm16") _, out("ymm17") _, out("ymm18") _, out("ymm20") _, out("ymm21") _,
            out("ymm22") _, out("ymm23") _, out("ymm24") _, out("ymm25") _,
            inout("ymm26") summs[0], inout("ymm27") summs[1],
            options(nostack),
        );
    }
    let sums = hsum_ps16(&acc);
    let mut sm = [0f32; 16];
    store_ps(&mut sm[..8], summs[0]);
    store_ps(&mut sm[8..], summs[1]);
    (sums, sm)
}
