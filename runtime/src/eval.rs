//! Perplexity and KL-divergence statistics, computed exactly as llama.cpp's `llama-perplexity`
//! computes them, so the numbers are comparable and its KL base files can be read and written.
//!
//! A KL base file (`llama-perplexity --kl-divergence-base FILE`) is:
//! `"_logits_"`, `n_ctx: i32`, `n_vocab: i32`, `n_chunk: i32`, `n_ctx * n_chunk` tokens (`i32`),
//! then for every chunk the `n_ctx - 1 - n_ctx/2` scored rows, each `nv = 2*((n_vocab+1)/2) + 4`
//! `u16`: the first four hold two `f32` (`scale`, `min_log_prob`), then one `u16` per token, the
//! log-probability `scale * q + min_log_prob` (log-probs below `max - 16` are clamped).
//! Everything is little-endian.

use alloc::vec::Vec;

/// The 8-byte tag a KL base file starts with.
pub const KL_MAGIC: &[u8; 8] = b"_logits_";

/// `u16` slots of one row of a KL base file for a vocabulary of `n_vocab` tokens.
pub const fn kl_row_len(n_vocab: usize) -> usize {
    2 * n_vocab.div_ceil(2) + 4
}

/// Positions of a window of `n_ctx` tokens that are scored: `first = n_ctx / 2` onwards, the logits
/// at position `i` predicting token `i + 1`; `n_ctx - 1 - first` of them.
pub const fn scored_range(n_ctx: usize) -> core::ops::Range<usize> {
    n_ctx / 2..n_ctx - 1
}

/// llama.cpp's float-to-int rounding trick (`nearest_int` in perplexity.cpp).
fn nearest_int(fval: f32) -> i32 {
    let val = fval + 12_582_912.0;
    (val.to_bits() as i32 & 0x007f_ffff) - 0x0040_0000
}

fn max_min(logits: &[f32]) -> (f32, f32) {
    logits[1..].iter().fold((logits[0], logits[0]), |(mx, mn), &v| (mx.max(v), mn.min(v)))
}

/// `sum_i expf(logits[i] - max)` accumulated in f64, as llama.cpp does.
fn sum_exp(logits: &[f32], max: f32) -> f64 {
    logits.iter().map(|&v| f64::from(libm::expf(v - max))).sum()
}

/// Encode one row of logits as a KL base row (`out.len() == kl_row_len(logits.len())`) and return
/// the negative log-likelihood of `tok` (llama.cpp's `log_softmax(n_vocab, logits, log_prob, tok)`).
///
/// # Panics
/// If `logits` is empty, `tok` is out of range or `out` has the wrong length.
pub fn encode_kl_row(logits: &[f32], tok: usize, out: &mut [u16]) -> f64 {
    assert_eq!(out.len(), kl_row_len(logits.len()), "encode_kl_row: row length");
    let (max_logit, min_logit) = max_min(logits);
    let min_logit = min_logit.max(max_logit - 16.0);
    let log_sum_exp = libm::log(sum_exp(logits, max_logit)) as f32;
    let min_log_prob = min_logit - max_logit - log_sum_exp;
    let scale = (max_logit - min_logit) / 65535.0;
    let (head, row) = out.split_at_mut(4);
    for (pair, v) in head.chunks_exact_mut(2).zip([scale, min_log_prob]) {
        let b = v.to_bits();
        pair[0] = b as u16;
        pair[1] = (b >> 16) as u16;
    }
    if scale != 0.0 {
        let inv_scale = 1.0 / scale;
        for (q, &l) in row.iter_mut().zip(logits) {
            *q = if l > min_logit { nearest_int(inv_scale * (l - min_logit)) as u16 } else { 0 };
        }
    } else {
        row.fill(0);
    }
    f64::from(max_logit) + f64::from(log_sum_exp) - f64::from(logits[tok])
}

/// Running perplexity: sums of the negative log-likelihood and its square.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Perplexity {
    pub nll: f64,
    pub nll2: f64,
    pub count: usize,
}

impl Perplexity {
    /// Score one row of logits against the token that followed (`results_log_softmax`).
    pub fn add(&mut self, logits: &[f32], tok: usize) {
        let max_logit = logits.iter().copied().fold(logits[0], f32::max);
        let s = sum_exp(logits, max_logit);
        let v = -(f64::from(logits[tok] - max_logit) - libm::log(s));
        self.add_nll(v);
    }

    /// Add one negative log-likelihood.
    pub fn add_nll(&mut self, v: f64) {
        self.nll += v;
        self.nll2 += v * v;
        self.count += 1;
    }

    /// `exp(mean nll)` and its uncertainty (llama.cpp's "Final estimate: PPL = x +/- y").
    pub fn ppl(&self) -> (f64, f64) {
        let n = self.count as f64;
        let nll = self.nll / n;
        let ppl = libm::exp(nll);
        let var = self.nll2 / n - nll * nll;
        let unc = if var > 0.0 && self.count > 1 { libm::sqrt(var / (n - 1.0)) * ppl } else { 0.0 };
        (ppl, unc)
    }
}

/// KL-divergence accumulators against a base (`kl_divergence_result` in perplexity.cpp), plus the
/// per-position KLD and Δp values for the percentiles.
#[derive(Clone, Debug, Default)]
pub struct KlDivergence {
    sum_nll: f64,
    sum_nll2: f64,
    sum_nll_base: f64,
    sum_nll_base2: f64,
    sum_nll_nll_base: f64,
    sum_kld: f64,
    sum_kld2: f64,
    sum_p_diff: f64,
    sum_p_diff2: f64,
    sum_p_diff4: f64,
    max_p_diff: f32,
    n_same_top: usize,
    count: usize,
    kld_values: Vec<f32>,
    p_diff_values: Vec<f32>,
}

/// A value and its uncertainty.
pub type Estimate = (f64, f64);

/// What `llama-perplexity --kl-divergence` prints at the end.
#[derive(Clone, Debug, PartialEq)]
pub struct KlSummary {
    pub count: usize,
    pub ppl: Estimate,
    pub ppl_base: Estimate,
    /// Correlation of ln PPL(Q) and ln PPL(base).
    pub ppl_correlation: f64,
    pub ln_ppl_ratio: Estimate,
    pub ppl_ratio: Estimate,
    pub ppl_diff: Estimate,
    pub kld: Estimate,
    /// KLD maximum, 99.9 %, 99 %, 95 %, 90 %, median, 10 %, 5 %, 1 %, 0.1 %, minimum.
    pub kld_percentiles: [f64; 11],
    pub p_diff: Estimate,
    /// Δp maximum, 99.9, 99, 95, 90, 75 %, median, 25, 10, 5, 1, 0.1 %, minimum.
    pub p_diff_percentiles: [f64; 13],
    pub p_diff_rms: Estimate,
    pub same_top: Estimate,
}

fn mean_and_uncertainty(sum: f64, sum2: f64, count: usize) -> Estimate {
    if count < 1 {
        return (0.0, 0.0);
    }
    let n = count as f64;
    let f = sum / n;
    let df = sum2 / n - f * f;
    (f, if df > 0.0 && count > 10 { libm::sqrt(df / (n - 1.0)) } else { 0.0 })
}

fn covariance(suma: f64, sumb: f64, sumab: f64, count: usize) -> f64 {
    if count < 10 {
        return 0.0;
    }
    let n = count as f64;
    (sumab / n - (suma / n) * (sumb / n)) / (n - 1.0)
}

/// Linear interpolation between the sorted values, as llama.cpp's `percentile` lambda (in f32).
fn percentile(sorted: &[f32], fraction: f32) -> f64 {
    if fraction <= 0.0 {
        return f64::from(sorted[0]);
    }
    if fraction >= 1.0 {
        return f64::from(sorted[sorted.len() - 1]);
    }
    let mut p = fraction * (sorted.len() - 1) as f32;
    let ip = p as usize;
    p -= ip as f32;
    f64::from((1.0 - p) * sorted[ip] + p * sorted[(ip + 1).min(sorted.len() - 1)])
}

fn median(sorted: &[f32]) -> f64 {
    let n = sorted.len();
    f64::from(if n % 2 == 0 { 0.5 * (sorted[n / 2] + sorted[n / 2 - 1]) } else { sorted[n / 2] })
}

impl KlDivergence {
    /// Compare one row of our logits with the base's encoded row (`kl_row_len(logits.len())`
    /// slots) for the token `tok` that followed. Returns (KLD, Δp) of the position.
    ///
    /// # Panics
    /// If the row lengths disagree or `tok` is out of range.
    pub fn add(&mut self, logits: &[f32], base_row: &[u16], tok: usize) -> (f64, f32) {
        assert_eq!(base_row.len(), kl_row_len(logits.len()), "KlDivergence::add: row length");
        let mut max_logit = logits[0];
        let mut imax = 0;
        for (i, &l) in logits.iter().enumerate().skip(1) {
            if l > max_logit {
                max_logit = l;
                imax = i;
            }
        }
        let log_sum_exp = libm::log(sum_exp(logits, max_logit)) as f32;
        let scale = f32::from_bits(u32::from(base_row[0]) | (u32::from(base_row[1]) << 16));
        let min_log_prob = f32::from_bits(u32::from(base_row[2]) | (u32::from(base_row[3]) << 16));
        let base = &base_row[4..];

        let nll = max_logit + log_sum_exp - logits[tok];
        self.sum_nll += f64::from(nll);
        self.sum_nll2 += f64::from(nll * nll);
        let nll_base = -(scale * f32::from(base[tok]) + min_log_prob);
        self.sum_nll_base += f64::from(nll_base);
        self.sum_nll_base2 += f64::from(nll_base * nll_base);
        self.sum_nll_nll_base += f64::from(nll * nll_base);

        let max_plus_lse = max_logit + log_sum_exp;
        let mut sum = 0f64;
        let mut imax_base = 0;
        let mut p_log_base_max = 0f32;
        for (i, (&q, &l)) in base.iter().zip(logits).enumerate() {
            let p_log_base = scale * f32::from(q) + min_log_prob;
            if i == 0 || p_log_base > p_log_base_max {
                p_log_base_max = p_log_base;
                imax_base = i;
            }
            if p_log_base > -16.0 {
                let p_base = libm::expf(p_log_base);
                sum += f64::from(p_base * (p_log_base - l + max_plus_lse));
            }
        }
        self.sum_kld += sum;
        self.sum_kld2 += sum * sum;
        self.count += 1;
        self.n_same_top += usize::from(imax == imax_base);

        let p_diff = libm::expf(-nll) - libm::expf(-nll_base);
        self.sum_p_diff += f64::from(p_diff);
        let p_diff2 = f64::from(p_diff * p_diff);
        self.sum_p_diff2 += p_diff2;
        self.sum_p_diff4 += p_diff2 * p_diff2;
        self.max_p_diff = self.max_p_diff.max(p_diff.abs());
        self.kld_values.push(sum as f32);
        self.p_diff_values.push(p_diff);
        (sum, p_diff)
    }

    /// Positions compared so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Rate of positions whose top token is the same as the base's.
    pub fn same_top(&self) -> f64 {
        self.n_same_top as f64 / self.count as f64
    }

    /// The final statistics, or `None` before the first position.
    pub fn summary(&self) -> Option<KlSummary> {
        if self.count == 0 {
            return None;
        }
        let n = self.count;
        let log_ppl = mean_and_uncertainty(self.sum_nll, self.sum_nll2, n);
        let ppl = libm::exp(log_ppl.0);
        let ppl_unc = ppl * log_ppl.1;
        let log_ppl_base = mean_and_uncertainty(self.sum_nll_base, self.sum_nll_base2, n);
        let ppl_base = libm::exp(log_ppl_base.0);
        let ppl_base_unc = ppl_base * log_ppl_base.1;
        let cov = covariance(self.sum_nll, self.sum_nll_base, self.sum_nll_nll_base, n);
        let ratio_ln = log_ppl.0 - log_ppl_base.0;
        let ratio_ln_unc = libm::sqrt(log_ppl.1 * log_ppl.1 + log_ppl_base.1 * log_ppl_base.1 - 2.0 * cov);
        let ratio = libm::exp(ratio_ln);
        let ppl_cov = ppl * ppl_base * cov;
        let ppl_diff_unc = libm::sqrt(ppl_unc * ppl_unc + ppl_base_unc * ppl_base_unc - 2.0 * ppl_cov);

        let mut kld = self.kld_values.clone();
        kld.sort_by(f32::total_cmp);
        let mut pd = self.p_diff_values.clone();
        pd.sort_by(f32::total_cmp);
        let kp = |f| percentile(&kld, f);
        let pp = |f| percentile(&pd, f);
        let p_diff_mse = mean_and_uncertainty(self.sum_p_diff2, self.sum_p_diff4, n);
        let rms = libm::sqrt(p_diff_mse.0);
        let same = self.same_top();
        Some(KlSummary {
            count: n,
            ppl: (ppl, ppl_unc),
            ppl_base: (ppl_base, ppl_base_unc),
            ppl_correlation: cov / (log_ppl.1 * log_ppl_base.1),
            ln_ppl_ratio: (ratio_ln, ratio_ln_unc),
            ppl_ratio: (ratio, ratio * ratio_ln_unc),
            ppl_diff: (ppl - ppl_base, ppl_diff_unc),
            kld: mean_and_uncertainty(self.sum_kld, self.sum_kld2, n),
            kld_percentiles: [
                f64::from(kld[kld.len() - 1]),
                kp(0.999),
                kp(0.990),
                kp(0.950),
                kp(0.900),
                median(&kld),
                kp(0.100),
                kp(0.050),
                kp(0.010),
                kp(0.001),
                f64::from(kld[0]),
            ],
            p_diff: mean_and_uncertainty(self.sum_p_diff, self.sum_p_diff2, n),
            p_diff_percentiles: [
                f64::from(pd[pd.len() - 1]),
                pp(0.999),
                pp(0.990),
                pp(0.950),
                pp(0.900),
                pp(0.750),
                median(&pd),
                pp(0.250),
                pp(0.100),
                pp(0.050),
                pp(0.010),
                pp(0.001),
                f64::from(pd[0]),
            ],
            p_diff_rms: (rms, if rms > 0.0 { 0.5 / rms * p_diff_mse.1 } else { 0.0 }),
            same_top: (same, libm::sqrt(same * (1.0 - same) / (n as f64 - 1.0).max(1.0))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn logits(seed: u32, n: usize) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                // Within a 14-wide range: no log-prob falls under the base format's max-16 clamp.
                (s >> 8) as f32 / (1u32 << 24) as f32 * 14.0 - 7.0
            })
            .collect()
    }

    #[test]
    fn a_model_against_its_own_base_has_zero_kld_and_same_top() {
        let n_vocab = 257;
        let mut kl = KlDivergence::default();
        let mut ppl = Perplexity::default();
        let mut row = vec![0u16; kl_row_len(n_vocab)];
        for seed in 0..200 {
            let l = logits(seed, n_vocab);
            let tok = (seed as usize * 31) % n_vocab;
            let nll = encode_kl_row(&l, tok, &mut row);
            ppl.add_nll(nll);
            let (kld, p_diff) = kl.add(&l, &row, tok);
            // The base row is rounded to steps of range/65535 in log space (range <= 16) and
            // log-probs below max-16 are clamped, so the decoded base is not exactly our
            // distribution: |KLD| stays around 1e-5 (it can even be slightly negative).
            assert!(kld.abs() < 1e-4, "kld {kld}");
            assert!(p_diff.abs() < 1e-3, "p_diff {p_diff}");
        }
        let s = kl.summary().unwrap();
        // Top-1 can only flip where the two best logits are within one u16 step of each other.
        assert!(s.same_top.0 >= 0.99, "same top {}", s.same_top.0);
        assert!(s.kld.0.abs() < 5e-5, "mean kld {}", s.kld.0);
        assert!((s.ppl.0 - s.ppl_base.0).abs() / s.ppl.0 < 1e-4, "{} vs {}", s.ppl.0, s.ppl_base.0);
        assert!((s.ppl.0 - ppl.ppl().0).abs() / s.ppl.0 < 1e-4);
        assert!(s.ppl_correlation > 0.999);
    }

    #[test]
    fn kld_matches_the_definition_for_a_shifted_distribution() {
        // Q = P with one logit raised by 2: KLD(P||Q) has a closed form to compare with.
        let n_vocab = 64;
        let base = logits(7, n_vocab);
        let mut q = base.clone();
        q[5] += 2.0;
        let mut row = vec![0u16; kl_row_len(n_vocab)];
        encode_kl_row(&base, 3, &mut row);
        let mut kl = KlDivergence::default();
        let (kld, _) = kl.add(&q, &row, 3);
        let lse = |l: &[f32]| {
            let m = l.iter().copied().fold(f64::MIN, |a, b| a.max(f64::from(b)));
            m + l.iter().map(|&x| (f64::from(x) - m).exp()).sum::<f64>().ln()
        };
        let (lp, lq) = (lse(&base), lse(&q));
        let exact: f64 = base
            .iter()
            .zip(&q)
            .map(|(&b, &x)| (f64::from(b) - lp).exp() * ((f64::from(b) - lp) - (f64::from(x) - lq)))
            .sum();
        assert!((kld - exact).abs() < 2e-3 * exact.max(1e-3), "kld {kld} vs exact {exact}");
        assert!(kld > 0.0);
    }

    #[test]
    fn perplexity_of_a_uniform_model_is_the_vocab_size() {
        let mut ppl = Perplexity::default();
        for tok in 0..100 {
            ppl.add(&[0.0; 100], tok);
        }
        assert!((ppl.ppl().0 - 100.0).abs() < 1e-6);
    }

    #[test]
    fn row_layout_and_scored_range_match_llama_cpp() {
        assert_eq!(kl_row_len(49152), 49156);
        assert_eq!(kl_row_len(5), 10);
        assert_eq!(scored_range(512), 256..511);
        assert_eq!(scored_range(512).len(), 512 - 1 - 256);
    }
}
