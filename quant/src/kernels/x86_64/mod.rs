//! x86_64 kernels: [`avx2`] (AVX2 + FMA + F16C, Haswell and later) and [`avx512vnni`] (that plus
//! AVX-512 F/BW/VL/VNNI, for the decoding products).
//!
//! This is the only place in the crate where `unsafe` is allowed on x86_64: the kernels are
//! `#[target_feature]` functions, and calling one is sound only on a CPU that has the features.
//! The safe wrappers in each kernel file are crate-private and reachable only through the
//! [`avx2::AVX2`] and [`avx512vnni::AVX512VNNI`] tables, which
//! [`Kernels::for_tier`](crate::Kernels::for_tier) hands out only after
//! [`Tier::is_supported`](crate::Tier::is_supported) has detected the tier's features.
#![allow(unsafe_code)]

pub(crate) mod avx2;
pub(crate) mod avx512vnni;
