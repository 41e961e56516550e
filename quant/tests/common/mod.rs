//! Shared helpers for the format tests: loading the llama.cpp reference fixtures in
//! `quant/tests/fixtures/` (see the README there) and comparing floats bit for bit.
#![allow(dead_code)] // each test binary uses a different subset

mod rng;

use std::path::PathBuf;

#[allow(unused_imports)] // each test binary uses a different subset
pub use rng::{Rng, supported_tiers, tier_kernels};

/// Number of values in `input.f32` and in every `*.deq.f32` fixture.
pub const FIXTURE_VALUES: usize = 4096;

/// The raw bytes of `quant/tests/fixtures/<name>`.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// A fixture of little-endian f32 values.
pub fn fixture_f32(name: &str) -> Vec<f32> {
    let bytes = fixture_bytes(name);
    assert_eq!(bytes.len() % 4, 0, "fixture {name} is not a whole number of f32");
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// A fixture of raw blocks (copied, so alignment does not matter).
pub fn fixture_blocks<B: bytemuck::Pod>(name: &str) -> Vec<B> {
    let bytes = fixture_bytes(name);
    assert_eq!(bytes.len() % size_of::<B>(), 0, "fixture {name} is not a whole number of blocks");
    let mut blocks = vec![B::zeroed(); bytes.len() / size_of::<B>()];
    bytemuck::cast_slice_mut::<B, u8>(&mut blocks).copy_from_slice(&bytes);
    blocks
}

/// Asserts `got` and `want` are identical bit for bit, except that any NaN matches any NaN.
pub fn assert_same_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
        assert!(
            same,
            "{what}: value {i}: got {g:e} ({:#010x}), want {w:e} ({:#010x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// One `#[test]` per SIMD tier (`avx2`, `avx512vnni`, `neon`, `dotprod`) running `$run(tier)`.
#[allow(unused_macros)]
macro_rules! tier_tests {
    ($run:expr) => {
        #[test]
        fn avx2() {
            ($run)(Tier::Avx2)
        }
        #[test]
        fn avx512vnni() {
            ($run)(Tier::Avx512Vnni)
        }
        #[test]
        fn neon() {
            ($run)(Tier::Neon)
        }
        #[test]
        fn dotprod() {
            ($run)(Tier::Dotprod)
        }
    };
}
