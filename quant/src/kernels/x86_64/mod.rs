//! x86_64 kernels. One tier so far: [`avx2`] (AVX2 + FMA + F16C, Haswell and later).
//!
//! This is the only place in the crate where `unsafe` is allowed on x86_64: the kernels are
//! `#[target_feature]` functions, and calling one is sound only on a CPU that has the features.
//! The safe wrappers in each kernel file are crate-private and reachable only through the
//! [`avx2::AVX2`] table, which [`Kernels::for_tier`](crate::Kernels::for_tier) hands out only
//! after [`Tier::is_supported`](crate::Tier::is_supported) has detected AVX2, FMA and F16C.
#![allow(unsafe_code)]

pub(crate) mod avx2;
