//! Additive per-token logit bias.

use alloc::vec::Vec;

use super::{Candidates, SampleError, Sampler};

/// Add a fixed bias to the logits of chosen tokens (llama.cpp's `llama_sampler_logit_bias`);
/// `-inf` bans a token. Several entries for one token add up. Tokens not among the candidates
/// are ignored.
#[derive(Debug, Clone, Default)]
pub struct LogitBias {
    /// (token, bias), sorted by token, one entry per token
    bias: Vec<(u32, f32)>,
    /// scratch: entries whose token was not at index == id
    missed: Vec<(u32, f32)>,
}

impl LogitBias {
    /// A logit-bias sampler from (token, bias) pairs.
    pub fn new(entries: &[(u32, f32)]) -> Self {
        let mut bias: Vec<(u32, f32)> = entries.to_vec();
        bias.sort_by_key(|e| e.0);
        bias.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
        let missed = Vec::with_capacity(bias.len());
        Self { bias, missed }
    }

    /// The merged (token, bias) table, sorted by token.
    pub fn entries(&self) -> &[(u32, f32)] {
        &self.bias
    }
}

/// Apply `f(candidate, value)` to every candidate whose id is in `table` (sorted by id).
///
/// Fast path: a candidate list straight from [`Candidates::fill`] has `data[id].id == id`, so
/// most entries are found by indexing; the rest are looked up by one pass over the candidates
/// with a binary search in the missed entries. Shared with the penalties sampler.
pub(crate) fn for_each_listed<T: Copy>(
    cur: &mut Candidates,
    table: &[(u32, T)],
    missed: &mut Vec<(u32, T)>,
    mut f: impl FnMut(&mut super::TokenData, T),
) {
    missed.clear();
    let sorted = cur.is_sorted();
    let data = cur.as_mut_slice();
    for &(id, v) in table {
        match data.get_mut(id as usize) {
            Some(d) if d.id == id => f(d, v),
            _ => missed.push((id, v)),
        }
    }
    if !missed.is_empty() {
        for d in data.iter_mut() {
            if let Ok(i) = missed.binary_search_by_key(&d.id, |e| e.0) {
                f(d, missed[i].1);
            }
        }
    }
    cur.set_sorted(sorted && table.is_empty());
}

impl Sampler for LogitBias {
    fn name(&self) -> &'static str {
        "logit-bias"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if self.bias.is_empty() {
            return Ok(());
        }
        for_each_listed(cur, &self.bias, &mut self.missed, |d, b| d.logit += b);
        Ok(())
    }
}
