//! The batch tiles (2 weight rows x 8 tokens, and x 4 for a batch's last 4-7 tokens) of the
//! `Q4_0`, `Q5_0` and `Q8_0` products with AVX-512 VNNI's `vpdpbusd` (256-bit, EVEX), for
//! activations without -128: the driver, the scratch and the scales of `avx2/batch.rs`, with
//! other block loops.
//!
//! Here the activation is the unsigned operand: `y' = y ^ 0x80 = y + 128` (flipped once per chunk
//! of tokens by the driver, [`Kind::flip`], into an aligned buffer of 32 bytes per block) against
//! the signed expanded weights `x`, added to the row's `-128 * Σ x` per lane of 4 (stored beside
//! `x` in the scratch when the rows are expanded, [`neg_sum128`]): `Σ (y + 128) x - 128 Σ x =
//! Σ x y`, the integer llama.cpp's sign trick gives when no `y` is -128 (`|x| * sign(y, x)` is
//! `x * y` then, even for `x = -128`, and its pairs stay below 2^15). So the products, and the
//! `cvt`, `fmadd` and `hsum_float_8` after them, are the AVX2 tile's bits. Per output and block:
//! a copy of the row's sums (kept in registers), `vpdpbusd`, `cvt` and an `fmadd` that broadcasts
//! the scale product from memory (3 vector ALU instructions), against the sign trick's 5.
//! `gemm-throughput` (one thread, 2048 x 640 x 64 tokens, Zen 4): 41-42 GMAC/s for the AVX2 tile;
//! here 42 with the sums loaded from the scratch per product and the scale products stored and
//! broadcast in the same iteration, 48-50 with only the latter, 59 with both fixed (4 tokens, the
//! activation `xor`ed per block, the scale broadcast apart), 58-59 with 8 tokens per tile, 61-62
//! with the broadcast in the `fmadd`, 67-70 with 4 tokens and 76-79 with 8 once the flipped
//! activations are loaded (aligned) instead of `xor`ed from the blocks (2026-12-07; the untouched
//! `q4_1` batch 35-37 in the same runs).
//! The bound is `vpdpbusd` and `fmadd` sharing two pipes: a product costs one cycle at best.

use core::arch::asm;
use core::arch::x86_64::*;

use super::super::avx2::batch::{DA_BLOCK, Kind, MAX_RB, MAX_SUMS, ROWS, SCR_BLOCK, Sums, TOKS};
use super::super::avx2::util::{hsum_ps8, hsum_ps16};

/// The scale products of every block of a tile (room for the wide tile's).
#[repr(C, align(32))]
struct Products([f32; MAX_RB * MAX_SUMS]);

/// The buffer of the activations' flipped quants `y ^ 0x80` (`Kind::flip`): 64 KiB, as many
/// tokens as the driver's scales of a chunk.
#[repr(C, align(32))]
pub(super) struct Flipped(pub [u8; 1 << 16]);

impl Flipped {
    pub(super) fn new() -> Self {
        Self([0; 1 << 16])
    }
}

/// The tile of 4 tokens (for the last 4-7 tokens of a batch).
pub(super) const VNNI: Kind = Kind { tile, second: neg_sum128, toks: TOKS, flip: true };

/// The wide tile, 8 tokens (`ymm0..15` its accumulators).
pub(super) const VNNI_WIDE: Kind = Kind { tile: tile_wide, second: neg_sum128, toks: 2 * TOKS, flip: true };

/// `-128 * Σ x` of each lane's 4 bytes.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn neg_sum128(x: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(0x80u8 as i8), x))
}

/// One product of a tile: a token's `y'` in `$y`, a row's `x` in `$x` and its sums in `$sum`,
/// the scale product at `{dd} + $scale` (broadcast by the `fmadd`), accumulator `$acc`.
#[rustfmt::skip]
macro_rules! product {
    ($y:literal, $x:literal, $sum:literal, $tmp:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vmovdqa64 ", $tmp, ", ", $sum, "\n",
            "vpdpbusd ", $tmp, ", ", $y, ", ", $x, "\n",
            "vcvtdq2ps ", $tmp, ", ", $tmp, "\n",
            "vfmadd231ps ", $acc, ", ", $tmp, ", dword ptr [{dd} + ", $scale, "]{{1to8}}\n",
        )
    };
}

/// A token of the 4-token tile (its flipped quants at `$y`) against both rows.
#[rustfmt::skip]
macro_rules! token {
    ($y:literal, $s0:literal, $s1:literal, $a0:literal, $a1:literal) => {
        concat!(
            "vmovdqa ymm10, ymmword ptr [", $y, "]\n",
            product!("ymm10", "ymm8", "ymm16", "ymm11", $s0, $a0),
            product!("ymm10", "ymm9", "ymm17", "ymm12", $s1, $a1),
        )
    };
}

/// The block loop of one tile, as the AVX2 one: the expanded rows `scr` (`x0`, its sums, `x1`,
/// its sums, the two scales per block), the token tile's scales `da`, its 4 rows of flipped
/// quants at `y`, `y + rs`, `y + 2 rs`, `y + 3 rs` (`rb` blocks of 32 bytes each); the 8 sums
/// into `sums`.
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and VNNI; `rb >= 1`, `scr` (32-byte
/// aligned) and `da` hold `rb` blocks, the 4 rows at `y` (32-byte aligned, as `rs`) `rb` blocks
/// each.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile(scr: &[u8], da: &[f32], y: *const u8, rs: usize, rb: usize, sums: &mut Sums) {
    debug_assert!((1..=MAX_RB).contains(&rb) && scr.len() >= rb * SCR_BLOCK && da.len() >= rb * DA_BLOCK);
    debug_assert!(scr.as_ptr() as usize % 32 == 0);
    let mut acc = [_mm256_setzero_ps(); ROWS * TOKS];
    // the 8 products d_w(r) * d_a(t) of every block, `[d0, d1] x [da_t, da_t]` per token, are
    // computed before the block loop (broadcasts of a vector stored in the same iteration: 48-50
    // against 59 GMAC/s), into `dd` (written by the first loop before the second reads it)
    let mut dd = core::mem::MaybeUninit::<Products>::uninit();
    // SAFETY: the loops read blocks b < rb <= MAX_RB of `scr` (SCR_BLOCK bytes each, 32-byte
    // aligned), `da` (DA_BLOCK f32 each) and of the 4 rows at `y` (32 aligned bytes each),
    // write only `dd` (32-byte aligned, MAX_RB blocks), and read of it only what the first
    // loop wrote; registers as declared.
    unsafe {
        asm!(
            "mov {i}, {n}",
            "mov {p}, {dd}",
            "mov {x}, {xs}",
            "3:",
            "vbroadcastsd ymm15, qword ptr [{x} + 128]",
            "vmulps ymm15, ymm15, ymmword ptr [{da}]",
            "vmovaps ymmword ptr [{p}], ymm15",
            "add {x}, {sb}",
            "add {da}, {db}",
            "add {p}, {db}",
            "dec {i}",
            "jnz 3b",
            "2:",
            "vmovdqa ymm8, ymmword ptr [{xs}]",
            "vmovdqa ymm9, ymmword ptr [{xs} + 64]",
            "vmovdqa64 ymm16, ymmword ptr [{xs} + 32]",
            "vmovdqa64 ymm17, ymmword ptr [{xs} + 96]",
            token!("{y}", "0", "4", "ymm0", "ymm1"),
            token!("{y} + {rs}", "8", "12", "ymm2", "ymm3"),
            token!("{y} + {rs}*2", "16", "20", "ymm4", "ymm5"),
            token!("{y} + {rs3}", "24", "28", "ymm6", "ymm7"),
            "add {xs}, {sb}",
            "add {dd}, {db}",
            "add {y}, 32",
            "dec {n}",
            "jnz 2b",
            xs = inout(reg) scr.as_ptr() => _,
            y = inout(reg) y => _,
            rs = in(reg) rs,
            rs3 = in(reg) 3 * rs,
            n = inout(reg) rb => _,
            dd = inout(reg) dd.as_mut_ptr() => _,
            da = inout(reg) da.as_ptr() => _,
            i = out(reg) _,
            p = out(reg) _,
            x = out(reg) _,
            sb = const SCR_BLOCK,
            db = const DA_BLOCK * 4,
            inout("ymm0") acc[0], inout("ymm1") acc[1], inout("ymm2") acc[2],
            inout("ymm3") acc[3], inout("ymm4") acc[4], inout("ymm5") acc[5],
            inout("ymm6") acc[6], inout("ymm7") acc[7],
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _, out("ymm12") _,
            out("ymm13") _, out("ymm14") _, out("ymm15") _, out("ymm16") _, out("ymm17") _,
            options(nostack),
        );
    }
    sums[..ROWS * TOKS].copy_from_slice(&hsum_ps8(&acc));
}

/// [`token`] of the wide tile: `y'` in `ymm20`, the rows' `x` in `ymm16/17` and their sums in
/// `ymm18/19`, scratch `ymm22/23`.
#[rustfmt::skip]
macro_rules! token_wide {
    ($y:literal, $s0:literal, $s1:literal, $a0:literal, $a1:literal) => {
        concat!(
            "vmovdqa64 ymm20, ymmword ptr [", $y, "]\n",
            product!("ymm20", "ymm16", "ymm18", "ymm22", $s0, $a0),
            product!("ymm20", "ymm17", "ymm19", "ymm23", $s1, $a1),
        )
    };
}

/// [`tile`] for 8 tokens, the rows of flipped quants at `y + t rs` (`t < 8`): 16 accumulators,
/// so the rows' `x` and sums are loaded once per 16 products instead of 8, and a tile's fixed
/// costs (the call, the scale products' loop, the final sums) are shared by twice the work.
///
/// # Safety
/// As [`tile`], with 8 activation rows.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile_wide(scr: &[u8], da: &[f32], y: *const u8, rs: usize, rb: usize, sums: &mut Sums) {
    const DA_WIDE: usize = 2 * DA_BLOCK;
    debug_assert!((1..=MAX_RB).contains(&rb) && scr.len() >= rb * SCR_BLOCK && da.len() >= rb * DA_WIDE);
    debug_assert!(scr.as_ptr() as usize % 32 == 0);
    let mut acc = [_mm256_setzero_ps(); 2 * ROWS * TOKS];
    let mut dd = core::mem::MaybeUninit::<Products>::uninit();
    // SAFETY: as in `tile`, with 16 products per block in `da` and `dd` and 8 activation rows
    // (`y4` is row 4); registers as declared.
    unsafe {
        asm!(
            "mov {i}, {n}",
            "mov {p}, {dd}",
            "mov {x}, {xs}",
            "3:",
            "vbroadcastsd ymm24, qword ptr [{x} + 128]",
            "vmulps ymm25, ymm24, ymmword ptr [{da}]",
            "vmovaps ymmword ptr [{p}], ymm25",
            "vmulps ymm25, ymm24, ymmword ptr [{da} + 32]",
            "vmovaps ymmword ptr [{p} + 32], ymm25",
            "add {x}, {sb}",
            "add {da}, {db}",
            "add {p}, {db}",
            "dec {i}",
            "jnz 3b",
            "2:",
            "vmovdqa64 ymm16, ymmword ptr [{xs}]",
            "vmovdqa64 ymm17, ymmword ptr [{xs} + 64]",
            "vmovdqa64 ymm18, ymmword ptr [{xs} + 32]",
            "vmovdqa64 ymm19, ymmword ptr [{xs} + 96]",
            token_wide!("{y}", "0", "4", "ymm0", "ymm1"),
            token_wide!("{y} + {rs}", "8", "12", "ymm2", "ymm3"),
            token_wide!("{y} + {rs}*2", "16", "20", "ymm4", "ymm5"),
            token_wide!("{y} + {rs3}", "24", "28", "ymm6", "ymm7"),
            token_wide!("{y4}", "32", "36", "ymm8", "ymm9"),
            token_wide!("{y4} + {rs}", "40", "44", "ymm10", "ymm11"),
            token_wide!("{y4} + {rs}*2", "48", "52", "ymm12", "ymm13"),
            token_wide!("{y4} + {rs3}", "56", "60", "ymm14", "ymm15"),
            "add {xs}, {sb}",
            "add {dd}, {db}",
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
            sb = const SCR_BLOCK,
            db = const DA_WIDE * 4,
            inout("ymm0") acc[0], inout("ymm1") acc[1], inout("ymm2") acc[2],
            inout("ymm3") acc[3], inout("ymm4") acc[4], inout("ymm5") acc[5],
            inout("ymm6") acc[6], inout("ymm7") acc[7], inout("ymm8") acc[8],
            inout("ymm9") acc[9], inout("ymm10") acc[10], inout("ymm11") acc[11],
            inout("ymm12") acc[12], inout("ymm13") acc[13], inout("ymm14") acc[14],
            inout("ymm15") acc[15],
            out("ymm16") _, out("ymm17") _, out("ymm18") _, out("ymm19") _, out("ymm20") _,
            out("ymm21") _, out("ymm22") _, out("ymm23") _, out("ymm24") _, out("ymm25") _,
            options(nostack),
        );
    }
    *sums = hsum_ps16(&acc);
}
