//! Min-p truncation.

use super::{Candidates, SampleError, Sampler};

/// Keep the candidates whose probability is at least `p` times the largest one, i.e. whose
/// logit is `>= max_logit + ln(p)` (llama.cpp's `llama_sampler_min_p_apply`), and at least
/// `min_keep` of them. `p <= 0` disables it.
///
/// Unsorted input keeps its order when the filter alone keeps enough candidates (llama.cpp's
/// unsorted fast path); otherwise the list is sorted and the best `max(kept, min_keep)` remain.
#[derive(Debug, Clone, Copy)]
pub struct MinP {
    p: f32,
    min_keep: usize,
}

impl MinP {
    /// A min-p sampler keeping at least `min_keep` candidates.
    pub fn new(p: f32, min_keep: usize) -> Self {
        Self { p, min_keep }
    }
}

impl Sampler for MinP {
    fn name(&self) -> &'static str {
        "min-p"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if self.p <= 0.0 || cur.is_empty() {
            return Ok(());
        }
        let min_logit = cur.max_logit() + libm::logf(self.p);
        if !cur.is_sorted() {
            let n_keep = cur.as_slice().iter().filter(|d| d.logit >= min_logit).count();
            if n_keep > 0 && n_keep >= self.min_keep {
                cur.retain(|d| d.logit >= min_logit);
                return Ok(());
            }
            cur.sort();
        }
        let data = cur.as_slice();
        let mut i = 1; // the first token always matches
        while i < data.len() {
            if data[i].logit < min_logit && i >= self.min_keep {
                break;
            }
            i += 1;
        }
        cur.truncate(i);
        Ok(())
    }
}
