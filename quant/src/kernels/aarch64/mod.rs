//! aarch64 kernels: the [`Tier::Neon`](crate::Tier::Neon) table (baseline Advanced SIMD, runs on a
//! Cortex-A72 / Raspberry Pi 4) and the [`Tier::Dotprod`](crate::Tier::Dotprod) table (NEON plus
//! FEAT_DotProd `sdot`, Cortex-A76 / Raspberry Pi 5).
//!
//! Every kernel is an `unsafe` `#[target_feature]` function with a crate-private safe wrapper
//! (`vec_dot` / `quantize`) that checks the operand lengths once. The wrappers are only ever
//! stored in the `NEON` / `DOTPROD` tables, and [`Kernels::for_tier`](crate::Kernels::for_tier)
//! hands a table out only after checking that the CPU has the features the tier needs (NEON is
//! part of the aarch64 baseline; dotprod is detected at run time with `std`, or required at
//! compile time without). That is what makes calling the kernels from the wrappers sound.
//!
//! Exactness against the scalar spec (`crate::formats`), per kernel (details in each file):
//! - integer sums are always exact (products and sums are formed in lanes wide enough for the
//!   extreme inputs, including random bytes and `-128` quants);
//! - the legacy formats (`q4_0 q4_1 q5_0 q5_1 q8_0`) and `q2_K` are bit-identical on both tiers:
//!   per block they evaluate the spec's float expression in the spec's order;
//! - `q3_K q4_K q5_K q6_K` are bit-identical on the NEON tier (the spec's 8 integer lanes,
//!   `value i -> lane i % 8`, are kept as 8 vector lanes) and differ from the spec only by float
//!   summation order on the dotprod tier (`sdot` sums 4 neighbouring products, which mixes the
//!   spec's lanes; the per-block integer sum is still exact);
//! - `f32 f16 bf16` form each product exactly as the spec does (f32) and accumulate in f64 like
//!   the spec, in a different order;
//! - the quantizers produce the spec's bytes for every input (NaN and infinity included).
#![allow(unsafe_code)]

pub(crate) mod dotprod;
pub(crate) mod neon;
