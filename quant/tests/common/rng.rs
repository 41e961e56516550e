//! The test data generator of the kernel tests: splitmix64, deterministic, plus the value and
//! block shapes they need; and the SKIPPED-printing tier lookup.
use std::io::Write;

use bytemuck::Pod;
use emberlm_quant::{Kernels, Tier};
use half::f16;

/// The table of `tier`, or `None` after printing the SKIPPED line (to the real stderr, so that it
/// shows even when the harness captures test output).
pub fn tier_kernels(tier: Tier, what: &str) -> Option<&'static Kernels> {
    let k = Kernels::for_tier(tier);
    if k.is_none() {
        let _ = writeln!(std::io::stderr(), "SKIPPED: tier {tier} not supported on this CPU ({what})");
    }
    k
}

/// The tables of every tier this CPU runs, with a SKIPPED line for each other tier.
pub fn supported_tiers(what: &str) -> Vec<&'static Kernels> {
    Tier::ALL.into_iter().filter_map(|t| tier_kernels(t, what)).collect()
}

/// splitmix64, deterministic.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below((hi - lo + 1) as u64) as i32
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn fill(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.next_u64() as u8;
        }
    }
    /// A block of random bytes.
    pub fn block<B: Pod>(&mut self) -> B {
        let mut b = B::zeroed();
        self.fill(bytemuck::bytes_of_mut(&mut b));
        b
    }
    /// A finite scale like the fixtures': 1/8 exactly 0, else ±2^[-10, 3) with a random mantissa.
    pub fn scale(&mut self) -> f32 {
        if self.below(8) == 0 {
            return 0.0;
        }
        let sign = if self.below(2) == 0 { 1.0 } else { -1.0 };
        sign * 2f32.powi(self.range(-10, 2)) * (1.0 + (self.next_u64() >> 41) as f32 / (1u64 << 23) as f32)
    }
    pub fn scale_f16(&mut self) -> f16 {
        f16::from_f32(self.scale())
    }
    /// ±{1/2, 1, 2}.
    pub fn pow2(&mut self) -> f32 {
        let m = [0.5, 1.0, 2.0][self.below(3) as usize];
        if self.below(2) == 0 { m } else { -m }
    }
    pub fn pow2_f16(&mut self) -> f16 {
        f16::from_f32(self.pow2())
    }
    /// Random values in groups of 32 with a random magnitude (2^-12 .. 2^8) and offset (larger
    /// values overflow Q8_1's f16 sum field).
    pub fn values(&mut self, n: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(n + 32);
        while out.len() < n {
            let scale = 2f32.powi(self.range(-12, 8));
            let offset = self.unit() * 1.5;
            for _ in 0..32 {
                out.push(scale * (self.unit() + offset));
            }
        }
        out.truncate(n);
        out
    }
}

impl Rng {
    /// Random sign and mantissa, exponent spread over `2^lo ..= 2^hi`.
    pub fn wide(&mut self, lo: i32, hi: i32) -> f32 {
        self.unit() * 2f32.powi(self.range(lo, hi))
    }
}
