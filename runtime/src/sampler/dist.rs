//! The final random draw.

use super::{Candidates, Rng, SampleError, Sampler};

/// Draw one candidate from the softmax of the current logits with a seeded [`Rng`]
/// (llama.cpp's `llama_sampler_dist_apply`), and leave the normalized probabilities in `p`.
///
/// With `S = sum_i exp(l_i - max)` accumulated in f64 in list order and `u` uniform in
/// `[0, 1)`, candidate `i` is chosen when `C_{i-1} <= u*S < C_i` (running sums `C`), so it has
/// probability exactly `exp(l_i - max) / S` and a zero-probability candidate is never chosen.
/// Exactly one random number is consumed per call, also for a single candidate, so the stream
/// stays aligned whatever the chain kept.
#[derive(Debug, Clone)]
pub struct Dist {
    seed: u64,
    rng: Rng,
}

impl Dist {
    /// A draw seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, rng: Rng::new(seed) }
    }

    /// The seed it was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl Sampler for Dist {
    fn name(&self) -> &'static str {
        "dist"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if cur.is_empty() {
            return Err(SampleError::Empty);
        }
        let rnd = self.rng.next_f64();
        let max = cur.max_logit();
        if !max.is_finite() {
            return Err(SampleError::NonFinite);
        }
        let sorted = cur.is_sorted();
        let data = cur.as_mut_slice();
        let mut sum = 0.0f64;
        for d in data.iter_mut() {
            d.p = libm::expf(d.logit - max);
            sum += d.p as f64;
        }
        if !sum.is_finite() {
            return Err(SampleError::NonFinite);
        }
        let target = sum * rnd;
        let mut run = 0.0f64;
        let mut selected = None;
        let mut last_positive = 0;
        for (i, d) in data.iter_mut().enumerate() {
            if d.p > 0.0 {
                last_positive = i;
            }
            if selected.is_none() {
                run += d.p as f64;
                if run > target {
                    selected = Some(i);
                }
            }
            d.p = (d.p as f64 / sum) as f32;
        }
        cur.set_sorted(sorted);
        // Rounding cannot leave `run <= target` at the end (the same sum in the same order
        // gives `run == sum > target`), but never select nothing.
        cur.select(Some(selected.unwrap_or(last_positive)));
        Ok(())
    }

    fn reset(&mut self) {
        self.rng = Rng::new(self.seed);
    }
}
