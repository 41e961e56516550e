//! `Q4_0`, `Q5_0` and `Q8_0` (x `Q8_0`) multi-row products of the VNNI tier: against an
//! activation without -128, batches in the tiles of [`batch`](super::batch) and one token of
//! `Q5_0` in those of [`decode`]; the rest (one token of `Q4_0` and `Q8_0`: the memory-bound
//! `Q8_0` was no faster with `vpdpbusd`; the last rows and tokens; a -128 activation) by the
//! AVX2 kernels, whose bits these are.

use super::super::avx2::{self, batch::gemm_with, gemm::gemm_rest};
use super::{batch, decode};
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q8_0::BlockQ8_0;

/// `$fmt`'s safe entry point; `$decode` the one-token tiles of the format, if it has them.
macro_rules! vnni_gemm {
    ($fmt:ident, $block:ty, $what:literal $(, decode: $decode:path)?) => {
        /// Safe entry point of the multi-row kernel (see [`crate::kernels::GemmFn`]); only
        /// reachable through [`super::AVX512VNNI`].
        pub(crate) fn $fmt(w: &[$block], a: &[BlockQ8_0], row_blocks: usize, out: &mut [f32], stride: usize) {
            let checked =
                crate::kernels::gemm_operands(w.len(), a.len(), row_blocks, out.len(), stride, $what);
            if checked.is_none() || !decode::takes(a) {
                return avx2::$fmt::gemm(w, a, row_blocks, out, stride);
            }
            /// # Safety
            /// The CPU must support the tier's features. Operands checked, `a` without -128.
            #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
            unsafe fn vnni(w: &[$block], a: &[BlockQ8_0], rb: usize, out: &mut [f32], stride: usize) {
                if a.len() == rb {
                    // one token: the format's VNNI tiles if it has them, the rest by AVX2
                    let done = 0 $(+ $decode(w, a, rb, out))?;
                    return avx2::$fmt::gemm(&w[done * rb..], a, rb, &mut out[done..], stride);
                }
                let ops = avx2::$fmt::ops();
                let mut flipped = batch::Flipped::new();
                let f = &mut flipped.0[..];
                // SAFETY: the VNNI tiles' features are this function's; `f` is 32-byte aligned.
                let wide = unsafe { gemm_with(&batch::VNNI_WIDE, &ops, w, a, rb, out, stride, f) };
                let (mut rows, mut toks) = wide;
                // the last 4-7 tokens (or a batch of 4-7) in the 4-token tile
                if a.len() / rb - toks >= batch::VNNI.toks {
                    let (rest, out_rest) = (&a[toks * rb..], &mut out[toks * stride..]);
                    // SAFETY: as above.
                    let (r, t) = unsafe { gemm_with(&batch::VNNI, &ops, w, rest, rb, out_rest, stride, f) };
                    if t > 0 {
                        (rows, toks) = (r, toks + t);
                    }
                }
                gemm_rest(&ops, w, a, rb, out, stride, (rows, toks))
            }
            // SAFETY: this wrapper is crate-private and only reachable through the VNNI table,
            // which `Kernels::for_tier` returns only after detecting the tier's features;
            // operands checked, every slice access in `vnni` is bounds-checked.
            unsafe { vnni(w, a, row_blocks, out, stride) }
        }
    };
}

vnni_gemm!(q4_0, BlockQ4_0, "Q4_0 vnni");
vnni_gemm!(q5_0, BlockQ5_0, "Q5_0 vnni", decode: decode::q5_0);
vnni_gemm!(q8_0, BlockQ8_0, "Q8_0 vnni");
