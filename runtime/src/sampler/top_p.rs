//! Top-p (nucleus) truncation.

use super::{Candidates, SampleError, Sampler};

/// Keep the smallest prefix of the candidates, sorted by probability, whose cumulative
/// probability reaches `p` (and at least `min_keep` candidates), llama.cpp's
/// `llama_sampler_top_p_apply`: the softmax is taken over the current candidates, the token
/// that makes the running sum `>= p` is kept. `p >= 1` disables it.
///
/// For large unsorted lists only the best 256 are sorted first; the full sort happens only if
/// they do not reach `p` (the kept set is the same either way).
#[derive(Debug, Clone, Copy)]
pub struct TopP {
    p: f32,
    min_keep: usize,
}

/// How many candidates the first, partial sort covers (llama.cpp's heuristic).
const PARTIAL: usize = 256;

impl TopP {
    /// A top-p sampler keeping at least `min_keep` candidates.
    pub fn new(p: f32, min_keep: usize) -> Self {
        Self { p, min_keep }
    }
}

impl Sampler for TopP {
    fn name(&self) -> &'static str {
        "top-p"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if self.p >= 1.0 || cur.is_empty() {
            return Ok(());
        }
        cur.softmax();
        let n = cur.len();
        let mut sorted_upto = if cur.is_sorted() {
            n
        } else if n > 1024 {
            cur.sort_prefix(PARTIAL);
            PARTIAL
        } else {
            cur.sort();
            n
        };
        let mut cum = 0.0f32;
        let mut last = n;
        let mut i = 0;
        while i < n {
            if i == sorted_upto {
                // The partial sort did not reach p: sort everything. The sorted prefix stays
                // where it is because the order is total.
                cur.sort();
                sorted_upto = n;
            }
            cum += cur.as_slice()[i].p;
            if cum >= self.p && i + 1 >= self.min_keep {
                last = i + 1;
                break;
            }
            i += 1;
        }
        cur.truncate(last);
        cur.set_sorted(true);
        Ok(())
    }
}
