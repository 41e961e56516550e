//! Greedy selection: the candidate with the highest logit.

use super::{Candidates, SampleError, Sampler};

/// Select the candidate with the largest logit; among equal logits, the first in list order
/// (llama.cpp's `llama_sampler_greedy_apply`). NaN logits are never selected unless every
/// logit is NaN.
#[derive(Debug, Clone, Copy, Default)]
pub struct Greedy;

impl Sampler for Greedy {
    fn name(&self) -> &'static str {
        "greedy"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        let data = cur.as_slice();
        if data.is_empty() {
            return Err(SampleError::Empty);
        }
        let mut best = 0;
        for (i, d) in data.iter().enumerate().skip(1) {
            if d.logit > data[best].logit || data[best].logit.is_nan() && !d.logit.is_nan() {
                best = i;
            }
        }
        if data[best].logit.is_nan() {
            return Err(SampleError::NonFinite);
        }
        cur.select(Some(best));
        Ok(())
    }
}
