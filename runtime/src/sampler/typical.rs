//! Locally typical sampling (Meister et al., 2022).

use alloc::vec::Vec;

use super::{Candidates, SampleError, Sampler, TokenData};

/// Keep the candidates whose surprisal `-ln p_i` is closest to the entropy `H = -sum p ln p`
/// until their cumulative probability exceeds `p` (llama.cpp's `llama_sampler_typical_apply`):
/// candidates are ordered by `|-ln p_i - H|` ascending and the one that makes the running sum
/// `> p` (strictly) is kept, with at least `min_keep` kept. `p >= 1` disables it.
///
/// Differences from llama.cpp, both for determinism and robustness: candidates with `p = 0`
/// contribute 0 to the entropy (llama.cpp's `-0 * ln 0` is NaN), and ties in `|-ln p - H|` keep
/// the softmax order (llama.cpp's `std::sort` leaves them unspecified). The result is left
/// unsorted, in typicality order.
#[derive(Debug, Clone, Default)]
pub struct Typical {
    p: f32,
    min_keep: usize,
    /// scratch: (|surprisal - entropy|, index) per candidate
    scores: Vec<(f32, u32)>,
    /// scratch: the kept candidates
    kept: Vec<TokenData>,
}

impl Typical {
    /// A typical-p sampler keeping at least `min_keep` candidates.
    pub fn new(p: f32, min_keep: usize) -> Self {
        Self { p, min_keep, scores: Vec::new(), kept: Vec::new() }
    }
}

impl Sampler for Typical {
    fn name(&self) -> &'static str {
        "typical"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if self.p >= 1.0 || cur.is_empty() {
            return Ok(());
        }
        cur.sort();
        cur.softmax();
        let data = cur.as_slice();
        let mut entropy = 0.0f32;
        for d in data {
            if d.p > 0.0 {
                entropy += -d.p * libm::logf(d.p);
            }
        }
        self.scores.clear();
        self.scores.extend(
            data.iter().enumerate().map(|(i, d)| (libm::fabsf(-libm::logf(d.p) - entropy), i as u32)),
        );
        // Stable in the index: ties keep the softmax (logit-descending) order.
        self.scores.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

        let mut cum = 0.0f32;
        let mut last = self.scores.len();
        for (i, &(_, idx)) in self.scores.iter().enumerate() {
            cum += data[idx as usize].p;
            if cum > self.p && (self.min_keep == 0 || i + 1 >= self.min_keep) {
                last = i + 1;
                break;
            }
        }
        self.kept.clear();
        self.kept.extend(self.scores[..last].iter().map(|&(_, idx)| data[idx as usize]));
        let kept = core::mem::take(&mut self.kept);
        cur.set(&kept);
        self.kept = kept;
        Ok(())
    }
}
