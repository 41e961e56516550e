//! Temperature scaling.

use super::{Candidates, SampleError, Sampler};

/// Divide every logit by `temp` (llama.cpp's `llama_sampler_temp_impl`).
///
/// `temp <= 0` keeps only the first candidate with the highest logit and sets every other
/// logit to `-inf`, so a following [`Dist`](super::Dist) draw is greedy.
#[derive(Debug, Clone, Copy)]
pub struct Temperature {
    temp: f32,
}

impl Temperature {
    /// A temperature sampler.
    pub fn new(temp: f32) -> Self {
        Self { temp }
    }
}

impl Sampler for Temperature {
    fn name(&self) -> &'static str {
        "temp"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if cur.is_empty() {
            return Ok(());
        }
        let sorted = cur.is_sorted();
        let temp = self.temp;
        let data = cur.as_mut_slice();
        if temp <= 0.0 {
            let mut max_i = 0;
            for i in 1..data.len() {
                if data[i].logit > data[max_i].logit {
                    data[max_i].logit = f32::NEG_INFINITY;
                    max_i = i;
                } else {
                    data[i].logit = f32::NEG_INFINITY;
                }
            }
        } else {
            for d in data.iter_mut() {
                d.logit /= temp;
            }
        }
        // Dividing by a positive number keeps the order; keeping only the first maximum does too.
        cur.set_sorted(sorted);
        Ok(())
    }
}
