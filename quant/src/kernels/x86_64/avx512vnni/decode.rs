//! The decoding tiles (8 weight rows x 1 token) of the `Q5_0` and `Q4_1` products with AVX-512
//! VNNI's `vpdpbusd` (256-bit, EVEX): the block loop of the AVX2 tiles (`avx2/decode.rs`: the
//! heads, the `d_w * d_a` scales, the prefetches, the two row streams) with rows that build the
//! integer lanes in fewer instructions.
//!
//! `Q4_1` ([`q4_1_row_vnni`]): `vpdpbusd` of the unsigned nibbles and the activation replaces
//! `maddubs` and `madd`, for any activation. `gemm-throughput` in L2 21.2 -> 22.4-22.6 GB/s;
//! whole SmolLM2 decoding steps alternating with the AVX2 tile in one process (16 x 128 steps,
//! 2026-12-07): mean 3.875 against 3.935 ms at t=2, 5.859 against 5.941 at t=1 (about 1.5 %).
//!
//! `Q5_0`: it takes an activation without -128 (every activation our quantizers make; the callers
//! send others to the AVX2 kernel) and the unsigned weight codes `u = code + 16` (the 5-bit value,
//! 0..31). Per 4-value lane, `vpdpbusd` adds `Σ u * y` to a copy of `-16 * Σ y` (computed once per
//! block for the 8 rows): `Σ code * y`, the integer the sign trick's `madd(maddubs(|x|, sign(y,
//! x)), 1)` gives when no `y` is -128, so the lane, and the `cvt`, `fmadd` and final `hsum_float_8`
//! after it, are the AVX2 tile's bits and llama.cpp's (llama.cpp's own AVX-512 VNNI build sums
//! these lanes with `vpdpbusd` too). The fifth bits are a mask register (`kmovd`) and one masked
//! `vpaddb`: 6 vector ALU instructions per row and block against the AVX2 row's 12.
//! `gemm-throughput` on Zen 4 (one thread, weights in L2): 14.4 against 20-21 GB/s (GFNI's
//! `vgf2p8affineqb` for the nibbles, one instruction less, gave 21.5: not worth leaving out Cascade
//! Lake for). (A `Q8_0` tile with `vpdpbusd` was no faster on the memory-bound output projection,
//! 46-50 against 47-52 GB/s in alternating `model-gemv` runs, and is not used.)
//! tests/kernel_exact.rs checks the bits.

use core::arch::x86_64::*;

use super::super::avx2::decode::{Acc, HALF, ROWS, heads4, tile, tiles};
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;

/// A `Q5_0` row: the nibbles (`ymm9` the shift 0 / 4 of the two halves, `ymm8` `0x0F`), `0x10`
/// added where the block's `qh` bit is set (`k1`, `ymm10` the bytes `0x10`), `ymm14 <- ymm12 +
/// Σ u y` (`ymm12 = -16 Σ y`), then the `cvt` and the `fmadd` as the AVX2 row, its scale
/// broadcast by the `fmadd` itself (`{1to8}`: one instruction less; `gemm-throughput` in L2
/// 20.8-21.0 -> 20.8-21.9 GB/s, 2026-12-07, within the noise).
#[rustfmt::skip]
macro_rules! q5_0_row_vnni {
    ($addr:literal, $scale:literal, $acc:literal) => {
        concat!(
            "kmovd k1, dword ptr [", $addr, " + 2]\n",
            "vbroadcasti128 ymm15, xmmword ptr [", $addr, " + 6]\n",
            "vpsrlvq ymm15, ymm15, ymm9\n",
            "vpandd ymm15, ymm15, ymm8\n",
            "vpaddb ymm15 {{k1}}, ymm15, ymm10\n",
            "vmovdqa64 ymm14, ymm12\n",
            "vpdpbusd ymm14, ymm15, ymm13\n",
            "vcvtdq2ps ymm14, ymm14\n",
            "vfmadd231ps ", $acc, ", ymm14, dword ptr [{scr} + ", $scale, "]{{1to8}}\n",
        )
    };
}

tile! {
    /// One `Q5_0` tile of [`q5_0_row_vnni`].
    tile_q5_0(BlockQ5_0, BlockQ8_0), features: "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    row: q5_0_row_vnni, y: "2",
    // per block, for all rows: `ymm12 <- -16 Σ y` per lane of 4 (`ymm11` zero)
    block: ["vpxor xmm12, xmm12, xmm12", "vpdpbusd ymm12, ymm10, ymm13", "vpsubd ymm12, ymm11, ymm12"],
    summs: ["", ""],
    prefetch: ["0", "64"], far: [],
    let (low, shift, k, zero) = (
        _mm256_set1_epi8(0x0F),
        _mm256_set_epi64x(4, 4, 0, 0),
        _mm256_set1_epi8(0x10),
        _mm256_setzero_si256(),
    );
    named: [],
    regs: [in("ymm8") low, in("ymm9") shift, in("ymm10") k, in("ymm11") zero, out("ymm12") _, out("k1") _,],
    summs_out: [_mm256_setzero_ps(); 2]
}

/// A `Q4_1` row: the nibbles (`ymm10` the shift 0 / 4 of the two halves, `ymm11` `0x0F`), then
/// `ymm15 <- Σ u y` per lane of 4 by `vpdpbusd` on a zeroed register (the integers of the AVX2
/// row's `madd(maddubs(u, y), 1)`: its pairs stay within `±2 * 15 * 128`), the `cvt` and the
/// `fmadd` with the scale broadcast from memory: 5 vector ALU instructions against 6.
#[rustfmt::skip]
macro_rules! q4_1_row_vnni {
    ($addr:literal, $scale:literal, $acc:literal) => {
        concat!(
            "vbroadcasti128 ymm14, xmmword ptr [", $addr, " + 4]\n",
            "vpsrlvq ymm14, ymm14, ymm10\n",
            "vpand ymm14, ymm14, ymm11\n",
            "vpxor xmm15, xmm15, xmm15\n",
            "vpdpbusd ymm15, ymm14, ymm13\n",
            "vcvtdq2ps ymm15, ymm15\n",
            "vfmadd231ps ", $acc, ", ymm15, dword ptr [{scr} + ", $scale, "]{{1to8}}\n",
        )
    };
}

tile! {
    /// One `Q4_1` tile of [`q4_1_row_vnni`] (the AVX2 tile's `summs`).
    tile_q4_1(BlockQ4_1, BlockQ8_1), features: "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    row: q4_1_row_vnni, y: "4", block: [],
    summs: ["vfmadd231ps ymm8, ymm14, ymm13", "vfmadd231ps ymm9, ymm14, ymm13"],
    prefetch: ["0", "64"], far: [],
    let (mut summs, shift, mask) =
        ([_mm256_setzero_ps(); 2], _mm256_set_epi64x(4, 4, 0, 0), _mm256_set1_epi8(0x0F));
    named: [],
    regs: [inout("ymm8") summs[0], inout("ymm9") summs[1], in("ymm10") shift, in("ymm11") mask, out("ymm12") _,],
    summs_out: summs
}

/// The full tiles of a one-token `Q4_1` product (any activation).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn q4_1(w: &[BlockQ4_1], a: &[BlockQ8_1], rb: usize, out: &mut [f32]) -> usize {
    tiles(tile_q4_1, true, w, a, rb, out)
}

/// Whether the VNNI tiles (here and in `batch.rs`) may take activation `a`: no quant is -128.
pub(super) fn takes(a: &[BlockQ8_0]) -> bool {
    !a.iter().any(|b| b.qs.contains(&i8::MIN))
}

/// The full tiles of a one-token `Q5_0` product against an activation without -128.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) fn q5_0(w: &[BlockQ5_0], a: &[BlockQ8_0], rb: usize, out: &mut [f32]) -> usize {
    debug_assert!(takes(a));
    tiles(tile_q5_0, false, w, a, rb, out)
}
