//! Repetition, frequency and presence penalties over a window of the last N tokens.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::logit_bias::for_each_listed;
use super::{Candidates, SampleError, Sampler};

/// llama.cpp's `llama_sampler_penalties`: for every candidate that occurs `count > 0` times
/// among the last `last_n` accepted tokens,
///
/// ```text
/// logit = logit <= 0 ? logit * repeat : logit / repeat
/// logit -= count * freq + presence
/// ```
///
/// `last_n = 0`, or `repeat = 1, freq = 0, presence = 0`, disables it. (llama.cpp's
/// `last_n = -1` means "the context size"; the caller resolves that before building this.)
#[derive(Debug, Clone)]
pub struct Penalties {
    last_n: usize,
    repeat: f32,
    freq: f32,
    presence: f32,
    /// the window, oldest first (capacity `last_n`, allocated once)
    window: VecDeque<u32>,
    /// (token, count) for every distinct token of the window, sorted by token
    counts: Vec<(u32, u32)>,
    /// scratch for the lookup
    missed: Vec<(u32, u32)>,
}

impl Penalties {
    /// A penalties sampler over the last `last_n` tokens.
    pub fn new(last_n: usize, repeat: f32, freq: f32, presence: f32) -> Self {
        Self {
            last_n,
            repeat,
            freq,
            presence,
            window: VecDeque::with_capacity(last_n),
            counts: Vec::with_capacity(last_n),
            missed: Vec::with_capacity(last_n),
        }
    }

    /// Whether it changes nothing (`last_n = 0` or neutral penalties).
    pub fn is_disabled(&self) -> bool {
        self.last_n == 0 || (self.repeat == 1.0 && self.freq == 0.0 && self.presence == 0.0)
    }

    /// How often `token` occurs in the window.
    pub fn count(&self, token: u32) -> u32 {
        self.counts.binary_search_by_key(&token, |e| e.0).map_or(0, |i| self.counts[i].1)
    }

    /// The window, oldest first.
    pub fn window(&self) -> impl Iterator<Item = u32> + '_ {
        self.window.iter().copied()
    }
}

impl Sampler for Penalties {
    fn name(&self) -> &'static str {
        "penalties"
    }

    fn apply(&mut self, cur: &mut Candidates) -> Result<(), SampleError> {
        if self.is_disabled() || self.counts.is_empty() {
            return Ok(());
        }
        let (repeat, freq, presence) = (self.repeat, self.freq, self.presence);
        for_each_listed(cur, &self.counts, &mut self.missed, |d, count| {
            if d.logit <= 0.0 {
                d.logit *= repeat;
            } else {
                d.logit /= repeat;
            }
            d.logit -= count as f32 * freq + presence;
        });
        Ok(())
    }

    fn accept(&mut self, token: u32) {
        if self.last_n == 0 {
            return;
        }
        if self.window.len() >= self.last_n
            && let Some(old) = self.window.pop_front()
            && let Ok(i) = self.counts.binary_search_by_key(&old, |e| e.0)
        {
            self.counts[i].1 -= 1;
            if self.counts[i].1 == 0 {
                self.counts.remove(i);
            }
        }
        self.window.push_back(token);
        match self.counts.binary_search_by_key(&token, |e| e.0) {
            Ok(i) => self.counts[i].1 += 1,
            Err(i) => self.counts.insert(i, (token, 1)),
        }
    }

    fn reset(&mut self) {
        self.window.clear();
        self.counts.clear();
    }
}
