//! Top-k truncation.

use super::{Candidates, SampleError, Sampler};

/// Keep the `k` candidates with the highest logits, sorted (llama.cpp's
/// `llama_sampler_top_k_impl`). `k = 0` disables it; `k >= len` only sorts.
///
/// Ties at the cut are broken by lower token id (llama.cpp leaves them unspecified).
#[derive(Debug, Clone, Copy)]
pub struct TopK {
    k: usize,
}

impl TopK {
    /// A top-k sampler; 0 disables it.
    pub fn new(k: usize) -> Self {
        Self { k }
    }
}

impl Sampler for TopK {
    fn name(&self) -> &'static str {
        "top-k"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if self.k == 0 || cur.is_empty() {
            return Ok(());
        }
        let k = self.k.min(cur.len());
        cur.sort_prefix(k);
        cur.truncate(k);
        cur.set_sorted(true);
        Ok(())
    }
}
