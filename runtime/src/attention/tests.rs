//! Attention against a naive model of llama.cpp's sliding-window cache.

use super::*;
use crate::sampler::Rng;
use alloc::vec;
use emberlm_quant::lanes::dot_f16;

/// `n` values uniform in `[-amp, amp)` from the sampler's seeded generator.
fn uniform(rng: &mut Rng, n: usize, amp: f32) -> Vec<f32> {
    (0..n).map(|_| amp * (2.0 * rng.next_f64() as f32 - 1.0)).collect()
}

/// llama.cpp's sliding-window cache written out naively: `cells` cells, position `q` in cell
/// `q % cells`, keys `[cell][dim]`, values `[dim][cell]`; attention over every cell with the
/// masked ones at `-inf` (the spec's dots over the whole padded row).
struct Cells {
    n: usize,
    pos: Vec<Option<usize>>,
    k: Vec<f16>,
    v: Vec<f16>,
}

impl Cells {
    fn store(&mut self, q: usize, k: &[f32], v: &[f32]) {
        let (c, hd) = (q % self.n, k.len());
        self.pos[c] = Some(q);
        for (d, &x) in k.iter().enumerate() {
            self.k[c * hd + d] = f16::from_f32(x);
        }
        for (d, &x) in v.iter().enumerate() {
            self.v[d * self.n + c] = f16::from_f32(x);
        }
    }

    /// One query head's output at `pos` for a window of `w`, single-token or batched dots.
    fn attend(&self, q: &[f32], pos: usize, w: usize, scale: f32, batched: bool) -> Vec<f32> {
        let hd = q.len();
        let q16: Vec<f16> = q.iter().map(|&x| f16::from_f32(x)).collect();
        let (kq, kqv) = if batched {
            (DotOrder::Tinyblas, DotOrder::Tinyblas)
        } else {
            (DotOrder::VecDot, DotOrder::VecDotPadded)
        };
        let mut sc: Vec<f32> = (0..self.n)
            .map(|c| match self.pos[c] {
                Some(p) if p <= pos && pos - p < w => dot_f16(&self.k[c * hd..(c + 1) * hd], &q16, kq),
                _ => f32::NEG_INFINITY,
            })
            .collect();
        softmax_scaled(Kernels::best(), &mut sc, scale);
        let p16: Vec<f16> = sc.iter().map(|&x| f16::from_f32(x)).collect();
        (0..self.v.len() / self.n)
            .map(|d| dot_f16(&self.v[d * self.n..(d + 1) * self.n], &p16, kqv))
            .collect()
    }
}

/// Our ring (W slots) summed in the cell order gives, at every position and in every phase
/// (before the wrap; window across a multiple of the cell count; rotated), the bits of the
/// naive cell array above: single-token and batched dots, and (with threads) the split by
/// keys and value rows.
#[test]
fn rings_sum_in_llama_cpps_cell_order() {
    let kernels = Kernels::best();
    // (window, context, ubatch): 512 cells (W + 32 padded), 256 cells (= the context: the
    // window never spans a multiple of it), 256 cells for a window of 96 (not a divisor)
    for (w, n_ctx, n_ubatch) in [(256, 2048, 32), (64, 256, 32), (96, 2048, 100)] {
        let (hd, group) = (64, 2);
        let cells = crate::cells::swa_cells(w, n_ctx, n_ubatch);
        let mut kv = KvCache::one_layer(n_ctx, n_ubatch, w, hd, hd);
        let mut naive = Cells {
            n: cells,
            pos: vec![None; cells],
            k: vec![f16::ZERO; cells * hd],
            v: vec![f16::ZERO; cells * hd],
        };
        let span = crate::cells::cell_span(w);
        let mut scratch = vec![AttnScratch::new(n_ctx, hd, hd, group, span).unwrap(); 2];
        let shape = AttnShape { n_head: group, n_head_kv: 1, head_dim: hd, head_dim_v: hd, scale: 0.125 };
        let mut rng = Rng::new(7 + w as u64);
        #[cfg(feature = "std")]
        let pool = Pool::new(2).unwrap();
        let mut out = vec![0f32; group * hd];
        let last = (3 * cells + w / 2).min(n_ctx - 1);
        let (mut checked, mut checked_split) = ([0usize; 3], 0);
        for pos in 0..=last {
            let (k, v, q) =
                (uniform(&mut rng, hd, 1.0), uniform(&mut rng, hd, 1.0), uniform(&mut rng, group * hd, 4.0));
            kv.store(kernels, 0, pos, &k, &v);
            naive.store(pos, &k, &v);
            if pos % 7 != 0 && pos + 1 != w && pos != w {
                continue;
            }
            let mut single = vec![0f32; group * hd];
            for batched in [false, true] {
                attend(kernels, &kv, 0, &shape, &q, pos, 0..group, &mut scratch[0], &mut out, batched);
                if !batched {
                    single.copy_from_slice(&out);
                }
                for h in 0..group {
                    let want = naive.attend(&q[h * hd..(h + 1) * hd], pos, w, shape.scale, batched);
                    let got = &out[h * hd..(h + 1) * hd];
                    let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "w {w} cells {cells} pos {pos} head {h} batched {batched}");
                }
            }
            let phase = match kv.cell_order(0, pos) {
                None => 0,
                Some(o) if o.ascending() => 1,
                Some(_) => 2,
            };
            checked[phase] += 1;
            #[cfg(feature = "std")]
            {
                let mut sp = SplitScratch {
                    q16: vec![f16::ZERO; group * hd],
                    scores: vec![0.0; group * (n_ctx + 8)],
                    probs: vec![f16::ZERO; group * n_ctx.max(span)],
                    out: vec![0.0; group * (hd + 8)],
                };
                if sp.takes(&kv, 0, pos) {
                    let mut split = vec![0f32; group * hd];
                    attend_split(kernels, &pool, &kv, 0, &shape, &q, pos, &mut scratch, &mut sp, &mut split);
                    let same = split.iter().zip(&single).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "w {w} cells {cells} pos {pos}: split by keys");
                    checked_split += 1;
                }
            }
        }
        // every phase was met: before the wrap, across a multiple of the cells, rotated
        let spans = cells < n_ctx;
        assert!(checked[0] > 0 && checked[2] > 0 && (checked[1] > 0) == spans, "w {w}: {checked:?}");
        assert!(!cfg!(feature = "std") || w < SPLIT_MIN_KEYS || checked_split > 0);
    }
}
