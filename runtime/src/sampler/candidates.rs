//! The candidate list the samplers work on (llama.cpp's `llama_token_data_array`).

use alloc::vec::Vec;
use core::cmp::Ordering;

/// One candidate token: its id, its (possibly transformed) logit and, once a sampler computed
/// it, its probability among the current candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenData {
    /// token id
    pub id: u32,
    /// logit (log-odds before softmax)
    pub logit: f32,
    /// probability; only meaningful after a sampler that computes it (top-p, typical, dist)
    pub p: f32,
}

impl TokenData {
    /// A candidate with probability 0 (not computed yet).
    pub const fn new(id: u32, logit: f32) -> Self {
        Self { id, logit, p: 0.0 }
    }
}

/// The total order every sort here uses: logit descending, then id ascending.
///
/// `f32::total_cmp` makes it total (NaN logits sort first, `-0.0` after `+0.0`), so sorts are
/// deterministic whatever the algorithm.
pub(crate) fn by_logit_desc(a: &TokenData, b: &TokenData) -> Ordering {
    b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
}

/// A list of candidate tokens plus two flags: whether it is sorted by [`by_logit_desc`] and
/// which entry (if any) a selecting sampler chose.
///
/// The buffer is reused from token to token: [`Candidates::fill`] clears it and refills it
/// without reallocating once its capacity reached the vocabulary size.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    data: Vec<TokenData>,
    sorted: bool,
    selected: Option<usize>,
}

impl Candidates {
    /// An empty list.
    pub const fn new() -> Self {
        Self { data: Vec::new(), sorted: false, selected: None }
    }

    /// An empty list with room for `n` candidates (e.g. the vocabulary size).
    pub fn with_capacity(n: usize) -> Self {
        Self { data: Vec::with_capacity(n), sorted: false, selected: None }
    }

    /// Replace the contents with one candidate per logit, `id` = index.
    pub fn fill(&mut self, logits: &[f32]) {
        self.data.clear();
        self.data.extend(logits.iter().enumerate().map(|(i, &l)| TokenData::new(i as u32, l)));
        self.sorted = false;
        self.selected = None;
    }

    /// Replace the contents with arbitrary candidates (ids need not be dense or ordered).
    pub fn set(&mut self, items: &[TokenData]) {
        self.data.clear();
        self.data.extend_from_slice(items);
        self.sorted = false;
        self.selected = None;
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there is no candidate.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The candidates in their current order.
    pub fn as_slice(&self) -> &[TokenData] {
        &self.data
    }

    /// Mutable access; marks the list unsorted and clears the selection.
    pub fn as_mut_slice(&mut self) -> &mut [TokenData] {
        self.sorted = false;
        self.selected = None;
        &mut self.data
    }

    /// Whether the list is known to be sorted by logit, descending.
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }

    /// Declare the order (used by samplers that keep or break it).
    pub(crate) fn set_sorted(&mut self, sorted: bool) {
        self.sorted = sorted;
    }

    /// Index of the selected candidate, if a selecting sampler ran.
    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    /// The selected candidate, if any.
    pub fn selected_token(&self) -> Option<TokenData> {
        self.selected.and_then(|i| self.data.get(i).copied())
    }

    /// Mark entry `i` as the chosen one (`None` to clear).
    pub fn select(&mut self, i: Option<usize>) {
        self.selected = i.filter(|&i| i < self.data.len());
    }

    /// Keep only the first `n` candidates.
    pub fn truncate(&mut self, n: usize) {
        self.data.truncate(n);
        if self.selected.is_some_and(|s| s >= n) {
            self.selected = None;
        }
    }

    /// Keep the candidates for which `keep` is true, in order.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&TokenData) -> bool) {
        self.data.retain(keep);
        self.selected = None;
    }

    /// Sort the whole list (logit descending, id ascending) unless it already is.
    pub fn sort(&mut self) {
        if !self.sorted {
            self.data.sort_unstable_by(by_logit_desc);
            self.sorted = true;
            self.selected = None;
        }
    }

    /// Move the `k` best candidates to the front, sorted, in O(n + k log k).
    ///
    /// The tail after them is left in an unspecified (but deterministic) order and the list is
    /// not marked sorted unless `k >= len`.
    pub fn sort_prefix(&mut self, k: usize) {
        if self.sorted || k == 0 {
            return;
        }
        if k >= self.data.len() {
            self.sort();
            return;
        }
        self.data.select_nth_unstable_by(k, by_logit_desc);
        self.data[..k].sort_unstable_by(by_logit_desc);
        self.selected = None;
    }

    /// The largest logit (ignoring NaN), `-inf` if empty.
    pub fn max_logit(&self) -> f32 {
        if self.sorted {
            return self.data.first().map_or(f32::NEG_INFINITY, |d| d.logit);
        }
        self.data.iter().fold(f32::NEG_INFINITY, |m, d| if d.logit > m { d.logit } else { m })
    }

    /// Fill `p` with the softmax of the logits (llama.cpp's `llama_sampler_softmax_impl`
    /// without sorting): `p_i = exp(l_i - max) / sum_j exp(l_j - max)`, summed in order in f32.
    pub fn softmax(&mut self) {
        if self.data.is_empty() {
            return;
        }
        let max = self.max_logit();
        let mut sum = 0.0f32;
        for d in &mut self.data {
            d.p = libm::expf(d.logit - max);
            sum += d.p;
        }
        for d in &mut self.data {
            d.p /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_prefix_matches_full_sort() {
        let logits: Vec<f32> = (0..200u32).map(|i| ((i * 37) % 23) as f32 * 0.5).collect();
        let mut full = Candidates::new();
        full.fill(&logits);
        full.sort();
        for k in [1, 5, 23, 199, 200, 500] {
            let mut part = Candidates::new();
            part.fill(&logits);
            part.sort_prefix(k);
            let k = k.min(200);
            assert_eq!(&part.as_slice()[..k], &full.as_slice()[..k], "k = {k}");
        }
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut c = Candidates::new();
        c.fill(&[1.0, 2.0, 3.0, f32::NEG_INFINITY]);
        c.softmax();
        let s: f32 = c.as_slice().iter().map(|d| d.p).sum();
        assert!((s - 1.0).abs() < 1e-6);
        assert_eq!(c.as_slice()[3].p, 0.0);
        let e = libm::expf(1.0);
        assert!((c.as_slice()[2].p / c.as_slice()[1].p - e).abs() < 1e-5);
    }
}
