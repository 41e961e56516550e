//! One file per GGUF block format: the scalar, safe specification of each.
//!
//! Each module defines a `Block*` struct (the on-disk layout, `#[repr(C)]`, with a compile-time
//! size check) and a unit struct named after the format implementing [`crate::Format`].

pub mod bf16;
pub mod f16;
pub mod f32;
mod k_common;
pub(crate) mod legacy_lanes;
pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q8_0;
pub mod q8_1;
pub mod q8_k;
