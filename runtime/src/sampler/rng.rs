//! The sampler's portable PRNG: xoshiro256** (Blackman & Vigna, 2018) seeded via splitmix64.
//!
//! Chosen because it is tiny, fast on 32-bit MCUs too, statistically strong for this use, and
//! fully specified by integer operations, so a seed gives the same stream on every target.
//! (llama.cpp uses `std::mt19937`, whose `uniform_real_distribution` is implementation-defined
//! across C++ standard libraries; we do not try to reproduce its stream.)

/// splitmix64 step (Vigna's reference `splitmix64.c`): used to expand a 64-bit seed into the
/// 256-bit xoshiro state, as the xoshiro authors recommend.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seed from a 64-bit value: the state is four successive splitmix64 outputs.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Self { s }
    }

    /// Start from a raw state (must not be all zero; an all-zero state is replaced by seed 0's).
    pub fn from_state(s: [u64; 4]) -> Self {
        if s == [0; 4] { Self::new(0) } else { Self { s } }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform `f64` in `[0, 1)`: the top 53 bits of [`Rng::next_u64`] times 2^-53 (exact).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_vectors() {
        // Outputs of the reference splitmix64.c for seed 0.
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(splitmix64(&mut s), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn xoshiro256starstar_reference_vectors() {
        // Outputs of the reference xoshiro256starstar.c from state {1, 2, 3, 4}. The first two
        // follow by hand: out0 = rotl(2 * 5, 7) * 9 = 11520; after one step s[1] = 0, so out1 = 0.
        let mut r = Rng::from_state([1, 2, 3, 4]);
        assert_eq!(r.next_u64(), 11520);
        assert_eq!(r.next_u64(), 0);
        assert_eq!(r.next_u64(), 1_509_978_240);
        assert_eq!(r.next_u64(), 1_215_971_899_390_074_240);
    }

    #[test]
    fn unit_interval() {
        let mut r = Rng::new(42);
        for _ in 0..10_000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
