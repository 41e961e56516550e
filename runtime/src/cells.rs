//! Where llama.cpp's KV cache keeps the positions a sliding-window ring holds, so that attention
//! can sum over them in llama.cpp's order.
//!
//! Attention's sums run over cache cells in cell order: the softmax adds its 8-value chunk sums
//! chunk after chunk, and the value product's lanes take the cells `c ≡ l (mod 32)` (`mod 8` for
//! tinyBLAS) in order. Our ring keeps position `q` in slot `q % W`; llama.cpp's sliding-window
//! cache has `R = pad256(min(pad256(n_ctx), W + n_ubatch))` cells (`llama_kv_cache_iswa`), and a
//! sequence decoded from position 0 in whole ubatches (a perplexity chunk, a prompt then single
//! tokens) has `q` in cell `q % R` (`find_slot` wraps its head at `R` and reuses the cells the
//! window has left). Both agree on `q mod 32` when `W` is a multiple of 32, so every value falls in
//! the same lane either way; what differs once the ring has wrapped is the order within a lane
//! and which values share a softmax chunk:
//!
//! - when no multiple of `R` lies inside the window, the cells hold the window in position order:
//!   our slots rotated (oldest first);
//! - when one does (`m`), the cells hold `m..=pos` first (cells `0..`), then, `R - W` cells later,
//!   the older positions: our slot order, but the two runs never share a chunk.
//!
//! [`cell_order`] describes that order as runs of slots placed at *virtual* indices: llama.cpp's
//! cell indices with empty stretches of whole 32-cell chunks left out (they hold masked cells,
//! probability 0, which add exactly nothing), so that a virtual index and its cell agree mod 32.
//! A softmax over the virtual row (empty indices `-inf`) and a value product over it (empty
//! indices probability 0) compute llama.cpp's bits.
//!
//! A context shift (sinks) renumbers the positions without moving llama.cpp's cells; from then on
//! this order is not llama.cpp's any more (the same terms, summed in another order).

/// Most slot runs a window takes: two position runs, each split once where the ring wraps.
pub(crate) const MAX_RUNS: usize = 4;

/// Alignment of virtual indices to cells: the lanes of `ggml_vec_dot_f16` (32) and of tinyBLAS
/// and the softmax chunks (8) repeat within it.
const ALIGN: usize = 32;

/// Slots `slot..slot + len` at virtual indices `at..at + len`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) slot: usize,
    pub(crate) len: usize,
    pub(crate) at: usize,
}

/// llama.cpp's cell order of a wrapped ring's slots (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CellOrder {
    runs: [Run; MAX_RUNS],
    n_runs: usize,
}

impl CellOrder {
    /// The runs, in cell order.
    pub(crate) fn runs(&self) -> &[Run] {
        &self.runs[..self.n_runs]
    }

    /// Virtual indices used: `0..len` (a multiple of 32 holds them all zero-extended).
    pub(crate) fn len(&self) -> usize {
        self.runs().last().map_or(0, |r| r.at + r.len)
    }

    /// Whether the slots ascend along the runs: then a dot product over the slots in slot order
    /// is the one over the virtual row (every lane sees the same values in the same order, the
    /// virtual row only adds zero products), and the values need no copy.
    pub(crate) fn ascending(&self) -> bool {
        self.runs().windows(2).all(|w| w[0].slot + w[0].len <= w[1].slot)
    }

    fn push(&mut self, run: Run) {
        self.runs[self.n_runs] = run;
        self.n_runs += 1;
    }

    /// Positions `a..b` (consecutive, in cell order) from virtual index `at` on, split where
    /// the ring of `cap` slots wraps.
    fn push_positions(&mut self, a: usize, b: usize, at: usize, cap: usize) {
        let (slot, len) = (a % cap, b - a);
        let first = len.min(cap - slot);
        self.push(Run { slot, len: first, at });
        if first < len {
            self.push(Run { slot: 0, len: len - first, at: at + first });
        }
    }
}

/// The cell order of the positions a ring of `cap` slots holds after storing position `pos`, for
/// a llama.cpp cache of `cells` cells. `None` when it is simply slots `0..n` at virtual indices
/// `0..n`: the ring has not wrapped (`pos < cap`), the layer has no ring (`cells == 0`), or the
/// sizes are not multiples of 32 (then the slot order is kept: the same terms, summed in another
/// order than llama.cpp's).
pub(crate) fn cell_order(pos: usize, cap: usize, cells: usize) -> Option<CellOrder> {
    if cells == 0 || pos < cap || cap % ALIGN != 0 || cells % ALIGN != 0 || cells < cap {
        return None;
    }
    let first = pos + 1 - cap;
    let m = pos / cells * cells;
    let mut o = CellOrder { runs: [Run::default(); MAX_RUNS], n_runs: 0 };
    if m > first {
        // cells 0..=pos - m hold m..=pos; the older positions end at cell R - 1, R - W cells on
        o.push_positions(m, pos + 1, 0, cap);
        let gap = cells - cap;
        let gap = if gap < ALIGN { gap } else { ALIGN + gap % ALIGN };
        o.push_positions(first, m, pos + 1 - m + gap, cap);
    } else {
        o.push_positions(first, pos + 1, first % ALIGN, cap);
    }
    Some(o)
}

/// A bound on [`CellOrder::len`] for a ring of `cap` slots, rounded up to a multiple of 32: the
/// first run starts before index 32, and a gap between the runs keeps at most 63 indices.
pub(crate) fn cell_span(cap: usize) -> usize {
    (cap + 2 * ALIGN).next_multiple_of(ALIGN)
}

/// llama.cpp's sliding-window cache size for a window of `w` positions, a context of `n_ctx` and
/// ubatches of `n_ubatch` tokens (`llama_kv_cache_iswa`: `GGML_PAD(min(size_base, n_swa +
/// n_ubatch), 256)`, with `size_base = GGML_PAD(n_ctx, 256)`).
pub(crate) fn swa_cells(w: usize, n_ctx: usize, n_ubatch: usize) -> usize {
    let base = n_ctx.next_multiple_of(256);
    base.min(w.saturating_add(n_ubatch)).next_multiple_of(256)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The virtual index of every slot, by brute force: the visible positions sorted by cell,
    /// each at its cell index, with every empty 32-cell chunk between two used ones left out.
    fn brute(pos: usize, cap: usize, cells: usize) -> Vec<(usize, usize)> {
        let mut qs: Vec<usize> = (pos + 1 - cap..=pos).collect();
        qs.sort_by_key(|q| q % cells);
        let mut out = Vec::new();
        let (mut prev_cell, mut prev_at) = (None::<usize>, 0usize);
        for q in qs {
            let c = q % cells;
            let at = match prev_cell {
                None => c % ALIGN,
                Some(p) => {
                    // the empty cells between p and c, whole empty chunks of 32 dropped
                    let gap = c - p - 1;
                    let keep = if gap < ALIGN { gap } else { ALIGN + gap % ALIGN };
                    prev_at + 1 + keep
                }
            };
            out.push((q % cap, at));
            (prev_cell, prev_at) = (Some(c), at);
        }
        out
    }

    fn flat(o: &CellOrder) -> Vec<(usize, usize)> {
        o.runs().iter().flat_map(|r| (0..r.len).map(move |i| (r.slot + i, r.at + i))).collect()
    }

    #[test]
    fn runs_are_the_sorted_cells() {
        for (cap, cells) in [(512, 1024), (512, 768), (256, 768), (64, 256), (96, 256), (512, 512)] {
            for pos in cap..4 * cells + 3 {
                let o = cell_order(pos, cap, cells).unwrap();
                let got = flat(&o);
                assert_eq!(got, brute(pos, cap, cells), "cap {cap} cells {cells} pos {pos}");
                assert_eq!(o.len(), got.last().unwrap().1 + 1);
                assert!(o.len() <= cell_span(cap));
                // every virtual index agrees with its cell (and so its slot) mod 32
                assert!(got.iter().all(|&(s, at)| s % ALIGN == at % ALIGN));
                let asc = got.windows(2).all(|w| w[0].0 < w[1].0);
                assert_eq!(o.ascending(), asc, "cap {cap} cells {cells} pos {pos}");
            }
        }
    }

    #[test]
    fn the_plain_cases_have_no_order() {
        assert_eq!(cell_order(511, 512, 1024), None); // not wrapped
        assert_eq!(cell_order(5000, 512, 0), None); // no ring
        assert_eq!(cell_order(5000, 500, 1024), None); // not a multiple of 32
        // Gemma 3 at -c 2048 (ubatch 512): positions 512..1023 rotated, 1024.. two runs
        let o = cell_order(700, 512, 1024).unwrap();
        assert!(!o.ascending());
        assert_eq!(o.runs(), &[Run { slot: 189, len: 323, at: 29 }, Run { slot: 0, len: 189, at: 352 }]);
        let o = cell_order(1100, 512, 1024).unwrap();
        assert!(o.ascending());
        assert_eq!(o.runs(), &[Run { slot: 0, len: 77, at: 0 }, Run { slot: 77, len: 435, at: 109 }]);
    }

    #[test]
    fn swa_cells_is_llama_cpps_size() {
        assert_eq!(swa_cells(512, 2048, 512), 1024);
        assert_eq!(swa_cells(512, 256, 512), 256);
        assert_eq!(swa_cells(512, 700, 512), 768);
        assert_eq!(swa_cells(4096, 32768, 512), 4608);
    }
}
