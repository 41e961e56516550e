//! Decoding tiles (8 weight rows x 1 token) of the `Q4_1`, `Q5_0` and `Q8_0` products, with the
//! block loop written as one `asm!` block each.
//!
//! These products are most of a decoding step of the models we compare with (SmolLM2: 62 %
//! `Q4_1`, 25 % `Q8_0`; Gemma 3: the `Q8_0` output projection and the `Q5_0` layers). The generic
//! tile of [`super::gemm`] computes the same values but the compiler keeps its 8 accumulators,
//! 2 `summs` and the constants in 16 registers only by spilling and shuffling (about 14
//! instructions per row and block for `Q4_1`, 20 and 4 accumulators in memory for `Q5_0`); here
//! every register is assigned once (`ymm0..7` the accumulators, `ymm8..12` the `summs` and
//! constants, the rest scratch), the rows' `d_w * d_a` go through a small stack array and come
//! back with one broadcast load each, and a row costs 8 instructions per block (`Q5_0`: 15, 8 of
//! them to build the codes).
//!
//! The arithmetic is the generic tile's, instruction for instruction per output (and so the
//! spec's, `formats/legacy_lanes.rs`): per block `acc = fmadd(splat(d_w * d_a), int, acc)` with
//! `int = cvtepi32_ps(madd(maddubs(u, s), 1))` (`Q4_1`: `u` the nibbles, `s` the activation;
//! `Q8_0` and `Q5_0`: llama.cpp's sign trick `u = sign(x, x)`, `s = sign(y, x)`), and for `Q4_1`
//! `summs = fma(m_w, s_a, summs)`. `Q5_0` against an activation without -128 (all that our
//! quantizers make) takes unsigned codes instead of the sign trick and subtracts the offset from
//! the integer lanes: the same integers (see [`q5_0_row_unsigned`]). tests/kernel_exact.rs checks
//! the bits (random activations with and without -128).

use core::arch::x86_64::*;

use super::util::hsum_ps8;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;

/// Rows per tile.
pub(in crate::kernels::x86_64) const ROWS: usize = 8;
/// Rows per tile from each of the two regions.
pub(in crate::kernels::x86_64) const HALF: usize = ROWS / 2;
/// How many rows past a tile's first row in each region the prefetches of its blocks start:
/// they cover a little more than a tile (the format's lines per block, `prefetch:` below), so
/// the first of them find lines the previous tile asked for and the rest ask for the next
/// tile's while this one is computed. Measured with `model-gemv` on Gemma 3's `Q8_0` output
/// projection (2 threads, alternating runs): 8 rows ahead 29-31 GB/s, 4 rows 32-34, 2 and 3
/// rows 33-36, 0 rows 28-29; SmolLM2 (all products) 3.9 ms with 8, 3.6 with 2.
const PREFETCH_ROWS: usize = 2;

const _: () = assert!(size_of::<BlockQ4_1>() == 20 && size_of::<BlockQ8_1>() == 36);
const _: () = assert!(size_of::<BlockQ8_0>() == 34 && size_of::<BlockQ5_0>() == 22);

/// The per-row part of a block: `ymm14` the row's integer lanes, `ymm15` its scale, accumulator
/// `acc`; `$addr` the address of the row's block.
#[rustfmt::skip]
macro_rules! q4_1_row {
    ($addr:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vbroadcasti128 ymm14, xmmword ptr [", $addr, " + 4]\n",
            "vpsrlvq ymm14, ymm14, ymm10\n",
            "vpand ymm14, ymm14, ymm11\n",
            "vpmaddubsw ymm14, ymm14, ymm13\n",
            "vpmaddwd ymm14, ymm14, ymm12\n",
            "vcvtdq2ps ymm14, ymm14\n",
            "vbroadcastss ymm15, dword ptr [{scr} + ", $scale, "]\n",
            "vfmadd231ps ", $acc, ", ymm15, ymm14\n",
        )
    };
}

/// As [`q4_1_row`], with llama.cpp's sign trick (`ymm11` scratch).
#[rustfmt::skip]
macro_rules! q8_0_row {
    ($addr:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vmovdqu ymm14, ymmword ptr [", $addr, " + 2]\n",
            "vpsignb ymm11, ymm13, ymm14\n",
            "vpsignb ymm14, ymm14, ymm14\n",
            "vpmaddubsw ymm14, ymm14, ymm11\n",
            "vpmaddwd ymm14, ymm14, ymm12\n",
            "vcvtdq2ps ymm14, ymm14\n",
            "vbroadcastss ymm15, dword ptr [{scr} + ", $scale, "]\n",
            "vfmadd231ps ", $acc, ", ymm15, ymm14\n",
        )
    };
}

/// As [`q8_0_row`] for `Q5_0` weights: the row's codes `nibble | 0xF0 where the 5th bit is
/// clear` (llama.cpp's `bytes_from_nibbles_32`, `bytes_from_bits_32`, `andnot`, `or`; constants
/// `ymm8` the other-bits mask, `ymm9` all ones, `ymm10` `0xF0`, `ymm11` the nibble shift, `ymm12`
/// `0x0F`, and in memory the bit-spreading shuffle and the 16-bit ones), then the sign trick.
#[rustfmt::skip]
macro_rules! q5_0_row {
    ($addr:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vpbroadcastd ymm14, dword ptr [", $addr, " + 2]\n",
            "vpshufb ymm14, ymm14, ymmword ptr [{consts}]\n",
            "vpor ymm14, ymm14, ymm8\n",
            "vpcmpeqb ymm14, ymm14, ymm9\n",
            "vpandn ymm14, ymm14, ymm10\n",
            "vbroadcasti128 ymm15, xmmword ptr [", $addr, " + 6]\n",
            "vpsrlvq ymm15, ymm15, ymm11\n",
            "vpand ymm15, ymm15, ymm12\n",
            "vpor ymm14, ymm14, ymm15\n",
            "vpsignb ymm15, ymm13, ymm14\n",
            "vpsignb ymm14, ymm14, ymm14\n",
            "vpmaddubsw ymm14, ymm14, ymm15\n",
            "vpmaddwd ymm14, ymm14, ymmword ptr [{consts} + 32]\n",
            "vcvtdq2ps ymm14, ymm14\n",
            "vbroadcastss ymm15, dword ptr [{scr} + ", $scale, "]\n",
            "vfmadd231ps ", $acc, ", ymm15, ymm14\n",
        )
    };
}

/// [`q5_0_row`] without the sign trick, for an activation without -128: the unsigned codes
/// `u = nibble | 0x10 where the 5th bit is set` (0..31: `code + 16`) times the activation, and
/// the lane minus `16 * Σ y` of its 4 values (`ymm12`, per block): `Σ (u - 16) y = Σ code * y`,
/// the sign trick's integer whenever no `y` is -128 (pairs at most 2 * 31 * 127, no saturation).
/// Constants: `ymm8` each byte's bit of its `qh` byte, `ymm9` the 16-bit ones, `ymm10` `0x10`,
/// `ymm11` the nibble shift, in memory the bit-spreading shuffle and `0x0F`. One instruction
/// fewer per row than the sign trick, and the 16-bit ones in a register: 13.3 against 13.9 ns
/// per tile and block on this machine (8 rows of 32 weights, operands in L1).
#[rustfmt::skip]
macro_rules! q5_0_row_unsigned {
    ($addr:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vpbroadcastd ymm14, dword ptr [", $addr, " + 2]\n",
            "vpshufb ymm14, ymm14, ymmword ptr [{consts}]\n",
            "vpand ymm14, ymm14, ymm8\n",
            "vpcmpeqb ymm14, ymm14, ymm8\n",
            "vpand ymm14, ymm14, ymm10\n",
            "vbroadcasti128 ymm15, xmmword ptr [", $addr, " + 6]\n",
            "vpsrlvq ymm15, ymm15, ymm11\n",
            "vpand ymm15, ymm15, ymmword ptr [{consts} + 64]\n",
            "vpor ymm14, ymm14, ymm15\n",
            "vpmaddubsw ymm14, ymm14, ymm13\n",
            "vpmaddwd ymm14, ymm14, ymm9\n",
            "vpsubd ymm14, ymm14, ymm12\n",
            "vcvtdq2ps ymm14, ymm14\n",
            "vbroadcastss ymm15, dword ptr [{scr} + ", $scale, "]\n",
            "vfmadd231ps ", $acc, ", ymm15, ymm14\n",
        )
    };
}

/// The 4 heads (first 4 bytes: f16 `d`, then `m` or ignored bytes) of rows `$p`, `$p + rs`,
/// `$p + 2 rs`, `$p + 3 rs` as f32 in `ymm14`: `[d0, m0, d1, m1, ..]`.
#[rustfmt::skip]
macro_rules! heads4 {
    ($p:literal) => {
        concat!(
            "vmovd xmm14, dword ptr [", $p, "]\n",
            "vpinsrd xmm14, xmm14, dword ptr [", $p, " + {rs}], 1\n",
            "vpinsrd xmm14, xmm14, dword ptr [", $p, " + {rs}*2], 2\n",
            "vpinsrd xmm14, xmm14, dword ptr [", $p, " + {rs3}], 3\n",
            "vcvtph2ps ymm14, xmm14\n",
        )
    };
}

/// What a tile leaves: the 8 accumulators and (`Q4_1`) the two `summs` groups.
pub(in crate::kernels::x86_64) type Acc = ([__m256; ROWS], [__m256; 2]);

/// A tile: its two groups of rows, the activation, blocks per row, the groups' prefetch
/// pointers and their step per block.
pub(in crate::kernels::x86_64) type Tile<X, Y> =
    unsafe fn([&[X]; 2], &[Y], usize, [*const u8; 2], usize) -> Acc;

/// The tile's outputs: `hsum_float_8(acc) (+ summs)`, as [`super::gemm`]'s tile ends.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn finish((acc, summs): Acc, min: bool) -> [f32; ROWS] {
    let mut sm = [0f32; 16];
    let (lo, hi) = sm.split_at_mut(8);
    super::util::store_ps(lo, summs[0]);
    super::util::store_ps(hi, summs[1]);
    let mut out = hsum_ps8(&acc);
    if min {
        for (i, o) in out.iter_mut().enumerate() {
            *o += sm[2 * i + 1];
        }
    }
    out
}

/// Defines one format's tile: rows `w[g][i * rb..(i + 1) * rb]` (g < 2, i < 4: two groups of 4
/// rows anywhere, same length) against `a` (`rb` blocks), prefetching the lines at
/// `pf[g] + b * pf_step + $pf` per block `b` and group into L1, and (`far`) those at
/// `pf[g] + b * pf_step + 8 * row_bytes + $far` into L2. `$row` is the format's row
/// macro, `y` the offset of the activation quants in their block (loaded into `ymm13`, then
/// `block`'s lines run), `summs` the per-group lines that accumulate `summs` (`Q4_1`; none
/// otherwise). `let` binds the values that `named` (named operands, used by the row macro) and
/// `regs` (`ymm8..12`: the format's constants, `Q4_1`'s `summs`) pass to the loop, and
/// `summs_out` is what the tile returns as `summs`.
macro_rules! tile {
    ($(#[$doc:meta])* $name:ident($w:ty, $a:ty), features: $feat:literal, row: $row:ident, y: $y:literal, block: [$($bl:literal),*],
     summs: [$s0:literal, $s1:literal], prefetch: [$($pf:literal),*], far: [$($far:literal),*],
     let $vars:pat = $init:expr; named: [$($named:tt)*], regs: [$($regs:tt)*], summs_out: $out:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support the tile's features (AVX2, FMA and F16C here); `w[0]` and
        /// `w[1]` hold 4 rows of `rb >= 1` blocks each, `a` `rb` blocks.
        #[target_feature(enable = $feat)]
        unsafe fn $name(w: [&[$w]; 2], a: &[$a], rb: usize, pf: [*const u8; 2], pf_step: usize) -> Acc {
            debug_assert!(rb >= 1 && w[0].len() == HALF * rb && w[1].len() == HALF * rb && a.len() == rb);
            let mut acc = [_mm256_setzero_ps(); ROWS];
            let mut scr = [0f32; 16];
            let rs = rb * size_of::<$w>();
            let p4 = w[1].as_ptr();
            let $vars = $init;
            // SAFETY: the loop reads blocks b < rb of the 4 rows at `w[g] + i * rs` (in `w[g]`;
            // a head read is the block's first 4 bytes) and of `a` (and the format's constants),
            // writes only `scr`, and prefetches (which cannot fault); registers as declared.
            unsafe {
                core::arch::asm!(
                    "2:",
                    $(concat!("prefetcht0 byte ptr [{pf} + ", $pf, "]"),)*
                    $(concat!("prefetcht0 byte ptr [{pf4} + ", $pf, "]"),)*
                    $(concat!("prefetcht1 byte ptr [{pf} + {rs}*8 + ", $far, "]"),)*
                    $(concat!("prefetcht1 byte ptr [{pf4} + {rs}*8 + ", $far, "]"),)*
                    "add {pf}, {pfs}",
                    "add {pf4}, {pfs}",
                    // the activation's head as f32 pairs [d_a, s_a] x 4 (`Q8_0`: [d_a, bytes]):
                    // the even lanes multiply the rows' d_w, the odd lanes their m_w
                    "vpbroadcastd xmm13, dword ptr [{y}]",
                    "vcvtph2ps ymm13, xmm13",
                    heads4!("{p0}"),
                    $s0,
                    "vmulps ymm14, ymm14, ymm13",
                    "vmovups ymmword ptr [{scr}], ymm14",
                    heads4!("{p4}"),
                    $s1,
                    "vmulps ymm14, ymm14, ymm13",
                    "vmovups ymmword ptr [{scr} + 32], ymm14",
                    concat!("vmovdqu ymm13, ymmword ptr [{y} + ", $y, "]"),
                    $($bl,)*
                    $row!("{p0}", "0", "ymm0"),
                    $row!("{p0} + {rs}", "8", "ymm1"),
                    $row!("{p0} + {rs}*2", "16", "ymm2"),
                    $row!("{p0} + {rs3}", "24", "ymm3"),
                    $row!("{p4}", "32", "ymm4"),
                    $row!("{p4} + {rs}", "40", "ymm5"),
                    $row!("{p4} + {rs}*2", "48", "ymm6"),
                    $row!("{p4} + {rs3}", "56", "ymm7"),
                    "add {p0}, {wb}",
                    "add {p4}, {wb}",
                    "add {y}, {ab}",
                    "dec {n}",
                    "jnz 2b",
                    p0 = inout(reg) w[0].as_ptr() => _,
                    p4 = inout(reg) p4 => _,
                    rs = in(reg) rs,
                    rs3 = in(reg) 3 * rs,
                    y = inout(reg) a.as_ptr() => _,
                    n = inout(reg) rb => _,
                    pf = inout(reg) pf[0] => _,
                    pf4 = inout(reg) pf[1] => _,
                    pfs = in(reg) pf_step,
                    scr = in(reg) scr.as_mut_ptr(),
                    wb = const size_of::<$w>(),
                    ab = const size_of::<$a>(),
                    $($named)*
                    inout("ymm0") acc[0], inout("ymm1") acc[1], inout("ymm2") acc[2],
                    inout("ymm3") acc[3], inout("ymm4") acc[4], inout("ymm5") acc[5],
                    inout("ymm6") acc[6], inout("ymm7") acc[7],
                    $($regs)*
                    out("ymm13") _, out("ymm14") _, out("ymm15") _,
                    options(nostack),
                );
            }
            (acc, $out)
        }
    };
}

// the VNNI tier's tiles are this loop with other rows (`avx512vnni/decode.rs`)
pub(in crate::kernels::x86_64) use {heads4, tile};

tile! {
    /// One `Q4_1` tile (`ymm10` the nibble shift, `ymm11` the nibble mask).
    tile_q4_1(BlockQ4_1, BlockQ8_1), features: "avx2,fma,f16c", row: q4_1_row, y: "4", block: [],
    summs: ["vfmadd231ps ymm8, ymm14, ymm13", "vfmadd231ps ymm9, ymm14, ymm13"],
    prefetch: ["0", "64"], far: [],
    let (mut summs, shift, mask, ones) =
        ([_mm256_setzero_ps(); 2], _mm256_set_epi64x(4, 4, 0, 0), _mm256_set1_epi8(0x0F), _mm256_set1_epi16(1));
    named: [],
    regs: [inout("ymm8") summs[0], inout("ymm9") summs[1], in("ymm10") shift, in("ymm11") mask, in("ymm12") ones,],
    summs_out: summs
}

// The far prefetches (`far` below): 8 rows past `PREFETCH_ROWS`, the `Q8_0` tile (the output
// projections) also prefetches into L2 (`prefetcht1`, the same lines per block), so that more of a
// stream's lines are in flight than L1's miss buffers hold; the tile's `asm!` writes the distance
// as the address scale `{rs}*8`. Whole decoding steps, the variants alternating step by step in one
// process (16 x 128 steps, t=2, Zen 4, 2026-12-07): Gemma 3 mean 7.77 ms without, 7.40 / 7.39 /
// 7.40 / 7.42 ms with 8 / 16 / 24 / 32 rows (its output projection alone: 28-29 against 32-33
// GB/s); SmolLM2 4.49 against 4.42 ms. The same in the `Q4_1` tile (SmolLM2: 4.45-4.51 against 4.42
// ms) or the VNNI `Q5_0` tile (Gemma 3: 8.64-8.71 against 8.18 ms) gained nothing.
tile! {
    /// One `Q8_0` tile (`ymm11` scratch), also prefetching into L2 8 rows further (see the
    /// comment above).
    tile_q8_0(BlockQ8_0, BlockQ8_0), features: "avx2,fma,f16c", row: q8_0_row, y: "2", block: [],
    summs: ["", ""],
    prefetch: ["0", "64", "128"], far: ["0", "64", "128"],
    let ones = _mm256_set1_epi16(1);
    named: [],
    regs: [out("ymm11") _, in("ymm12") ones,],
    summs_out: [_mm256_setzero_ps(); 2]
}

/// Byte `i` of the broadcast `qh` <- its byte `i / 8` (the `vpshufb` of both `Q5_0` rows), then
/// 16-bit ones, then `0x0F` bytes.
#[repr(C, align(32))]
struct Q5Consts([u64; 4], [i16; 16], [u8; 32]);

const Q5_CONSTS: Q5Consts =
    Q5Consts([0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303], [1; 16], [0x0F; 32]);

tile! {
    /// One `Q5_0` tile (the constants of [`q5_0_row`] in `ymm8..12` and [`Q5_CONSTS`]).
    tile_q5_0(BlockQ5_0, BlockQ8_0), features: "avx2,fma,f16c", row: q5_0_row, y: "2", block: [],
    summs: ["", ""],
    prefetch: ["0", "64"], far: [],
    let (other, all, high, shift, low) = (
        _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe),
        _mm256_set1_epi8(-1),
        _mm256_set1_epi8(0xF0u8 as i8),
        _mm256_set_epi64x(4, 4, 0, 0),
        _mm256_set1_epi8(0x0F),
    );
    named: [consts = in(reg) &Q5_CONSTS,],
    regs: [in("ymm8") other, in("ymm9") all, in("ymm10") high, in("ymm11") shift, in("ymm12") low,],
    summs_out: [_mm256_setzero_ps(); 2]
}

tile! {
    /// One `Q5_0` tile of [`q5_0_row_unsigned`], for an activation without -128 (`ymm12` per
    /// block: `16 * Σ y` of each lane's 4 activation values, `maddubs(0x10, y)` summed by pairs).
    tile_q5_0_unsigned(BlockQ5_0, BlockQ8_0), features: "avx2,fma,f16c", row: q5_0_row_unsigned, y: "2",
    block: ["vpmaddubsw ymm12, ymm10, ymm13", "vpmaddwd ymm12, ymm12, ymm9"],
    summs: ["", ""],
    prefetch: ["0", "64"], far: [],
    let (bit, ones, high, shift) = (
        _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64),
        _mm256_set1_epi16(1),
        _mm256_set1_epi8(0x10),
        _mm256_set_epi64x(4, 4, 0, 0),
    );
    named: [consts = in(reg) &Q5_CONSTS,],
    regs: [in("ymm8") bit, in("ymm9") ones, in("ymm10") high, in("ymm11") shift, out("ymm12") _,],
    summs_out: [_mm256_setzero_ps(); 2]
}

/// The full 8-row tiles of a one-token product: rows `0..n_rows / 8 * 8` of `w` (`rb` blocks each)
/// against `a` (`rb` blocks), into `out[..]`; returns how many rows were done (the caller does
/// the rest). `tile` is one of the tiles above (`min`: whether it has `summs`).
///
/// The rows are read as two streams: the first and the second half of them, a tile taking 4
/// rows of each. Two interleaved streams read faster than one on this machine: the `Q8_0` output projection of Gemma 3 (262 144 x
/// 640) went from 15.7-17.0 to 18.7-19.7 GB/s on one thread and 23-29 to 27-34 GB/s on two in
/// `gemm-throughput`; a plain read loop gains alike (one stream 22, two interleaved 28 GB/s).
/// Which rows share a tile does not change any row's arithmetic.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(in crate::kernels::x86_64) fn tiles<X: bytemuck::Pod, Y>(
    tile: Tile<X, Y>,
    min: bool,
    w: &[X],
    a: &[Y],
    rb: usize,
    out: &mut [f32],
) -> usize {
    if rb == 0 || a.len() != rb {
        return 0;
    }
    let n_rows = w.len() / rb;
    let full = n_rows / ROWS * ROWS;
    // two regions of `half` rows each, a tile takes 4 rows of each
    let half = full / 2;
    let lines_per_block = (HALF * rb * size_of::<X>()).div_ceil(64).div_ceil(rb);
    // the 4 rows from `r` of each region
    let rows = |r: usize| [r, half + r].map(|r| &w[r * rb..(r + HALF) * rb]);
    for r0 in (0..half).step_by(HALF) {
        let ahead = r0 + PREFETCH_ROWS;
        let (pf, pf_step) = if ahead + HALF <= half {
            (rows(ahead).map(|x| x.as_ptr().cast::<u8>()), lines_per_block * 64)
        } else {
            ([w.as_ptr().cast::<u8>(); 2], 0)
        };
        // SAFETY: the caller runs this tier only after detecting AVX2, FMA and F16C; the tile's
        // rows are 4 of each region (checked by the index), `a` has `rb >= 1` blocks.
        let acc = unsafe { tile(rows(r0), a, rb, pf, pf_step) };
        let o = finish(acc, min);
        out[r0..r0 + HALF].copy_from_slice(&o[..HALF]);
        out[half + r0..half + r0 + HALF].copy_from_slice(&o[HALF..]);
    }
    full
}

/// The full tiles of a one-token `Q4_1` product (see [`tiles`]).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn q4_1(w: &[BlockQ4_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32]) -> usize {
    tiles(tile_q4_1, true, w, a, rb, out)
}

/// The full tiles of a one-token `Q8_0` product (see [`tiles`]).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32]) -> usize {
    tiles(tile_q8_0, false, w, a, rb, out)
}

/// The full tiles of a one-token `Q5_0` product (see [`tiles`]). The activation decides the
/// tile: without -128 (every activation our quantizers make) the unsigned codes, else llama.cpp's
/// sign trick, whose `sign(-128)` quirk the spec keeps.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn q5_0(w: &[BlockQ5_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32]) -> usize {
    if a.iter().any(|b| b.qs.contains(&i8::MIN)) {
        tiles(tile_q5_0, false, w, a, rb, out)
    } else {
        tiles(tile_q5_0_unsigned, false, w, a, rb, out)
    }
}
