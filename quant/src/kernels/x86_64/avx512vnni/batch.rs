//! The batch tile (2 weight rows x 4 tokens) of the `Q4_0`, `Q5_0` and `Q8_0` products with
//! AVX-512 VNNI's `vpdpbusd` (256-bit, EVEX), for activations without -128: the driver, the
//! scratch and the scales of `avx2/batch.rs`, with another block loop.
//!
//! Here the activation is the unsigned operand: `y' = y ^ 0x80 = y + 128` (once per token and
//! block, for both rows) against the signed expanded weights `x`, added to the row's
//! `-128 * Σ x` per lane of 4 (stored beside `x` in the scratch when the rows are expanded,
//! [`neg_sum128`]): `Σ (y + 128) x - 128 Σ x = Σ x y`, the integer llama.cpp's sign trick gives
//! when no `y` is -128 (`|x| * sign(y, x)` is `x * y` then, even for `x = -128`, and its pairs
//! stay below 2^15). So the products, and the `cvt`, `fmadd` and `hsum_float_8` after them, are
//! the AVX2 tile's bits. Per output and block: a copy of the row's sums (kept in `ymm16/17`),
//! `vpdpbusd`, `cvt`, the scale's broadcast and `fmadd` (3 vector ALU instructions, plus half of
//! the token's `xor`), against the sign trick's 5. `gemm-throughput` (one thread, 2048 x 640 x 64
//! tokens): 41-42 GMAC/s for the AVX2 tile, 59 here (42 with the sums loaded from the scratch
//! per product and the scale products stored and broadcast in the same iteration, 48-50 with
//! only the latter).

use core::arch::asm;
use core::arch::x86_64::*;

use super::super::avx2::batch::{Acc, DA_BLOCK, Kind, MAX_RB, ROWS, SCR_BLOCK, TOKS};

#[repr(C, align(32))]
struct Products([f32; MAX_RB * DA_BLOCK]);

/// The tile of this file.
pub(super) const VNNI: Kind = Kind { tile, second: neg_sum128 };

/// `-128 * Σ x` of each lane's 4 bytes.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn neg_sum128(x: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(0x80u8 as i8), x))
}

/// One product of the tile: token `$t`'s `y'` in `ymm10`, row `$r` (`x` in `$x`, its sums at
/// `{xs} + $sum`).
#[rustfmt::skip]
macro_rules! product {
    ($x:literal, $sum:literal, $tmp:literal, $dd:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vmovdqa64 ", $tmp, ", ", $sum, "\n",
            "vpdpbusd ", $tmp, ", ymm10, ", $x, "\n",
            "vcvtdq2ps ", $tmp, ", ", $tmp, "\n",
            "vbroadcastss ", $dd, ", dword ptr [{dd} + ", $scale, "]\n",
            "vfmadd231ps ", $acc, ", ", $dd, ", ", $tmp, "\n",
        )
    };
}

/// Token `$t` of the tile (its activation block at `$y`, 2 bytes past the block's start) against
/// both rows (`ymm13` the bytes `0x80`).
#[rustfmt::skip]
macro_rules! token {
    ($y:literal, $s0:literal, $s1:literal, $a0:literal, $a1:literal) => {
        concat!(
            "vpxor ymm10, ymm13, ymmword ptr [", $y, " + 2]\n",
            product!("ymm8", "ymm16", "ymm11", "ymm14", $s0, $a0),
            product!("ymm9", "ymm17", "ymm12", "ymm15", $s1, $a1),
        )
    };
}

/// The block loop of one tile, as the AVX2 one: the expanded rows `scr` (`x0`, its sums, `x1`,
/// its sums, the two scales per block), the token tile's scales `da`, its 4 activation rows at
/// `y`, `y + rs`, `y + 2 rs`, `y + 3 rs` (`rb` blocks each).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX-512 F/BW/VL and VNNI; `rb >= 1`, `scr` (32-byte
/// aligned) and `da` hold `rb` blocks, the 4 activation rows `rb` blocks each.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile(scr: &[u8], da: &[f32], y: *const u8, rs: usize, rb: usize) -> Acc {
    debug_assert!((1..=MAX_RB).contains(&rb) && scr.len() >= rb * SCR_BLOCK && da.len() >= rb * DA_BLOCK);
    debug_assert!(scr.as_ptr() as usize % 32 == 0);
    let mut acc = [_mm256_setzero_ps(); ROWS * TOKS];
    // the 8 products d_w(r) * d_a(t) of every block, `[d0, d1] x [da_t, da_t]` per token, are
    // computed before the block loop (broadcasts of a vector stored in the same iteration: 48-50
    // against 59 GMAC/s), into `dd` (written by the first loop before the second reads it)
    let mut dd = core::mem::MaybeUninit::<Products>::uninit();
    let high = _mm256_set1_epi8(0x80u8 as i8);
    // SAFETY: the loops read blocks b < rb <= MAX_RB of `scr` (SCR_BLOCK bytes each, 32-byte
    // aligned), `da` (DA_BLOCK f32 each) and of the 4 activation rows (34 bytes each, the 32
    // quants at offset 2), write only `dd` (32-byte aligned, MAX_RB blocks), and read of it
    // only what the first loop wrote; registers as declared.
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
            "add {y}, 34",
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
            in("ymm13") high, out("ymm14") _, out("ymm15") _, out("ymm16") _, out("ymm17") _,
            options(nostack),
        );
    }
    acc
}
