//! SentencePiece BPE (llama.cpp's `llm_tokenizer_spm_session`): greedy merges of adjacent
//! symbols by the score of the merged token, then re-segmentation with byte fallback.

use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::vec::Vec;
use core::cmp::Ordering;

use super::TokenizerError;
use super::unicode::utf8_len;
use super::vocab::Vocab;

#[derive(Clone, Copy)]
struct Sym {
    start: usize,
    n: usize,
    prev: isize,
    next: isize,
}

struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    size: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Bigram {}

impl Ord for Bigram {
    /// Highest score first, then leftmost (llama.cpp's comparator).
    fn cmp(&self, o: &Self) -> Ordering {
        if self.score < o.score {
            Ordering::Less
        } else if self.score > o.score {
            Ordering::Greater
        } else {
            o.left.cmp(&self.left)
        }
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

struct Session<'a> {
    vocab: &'a Vocab,
    text: &'a [u8],
    syms: Vec<Sym>,
    heap: BinaryHeap<Bigram>,
    rev_merge: BTreeMap<&'a [u8], (usize, usize)>,
}

/// Tokenizes one (already space-escaped) fragment, appending ids to `out`.
pub(crate) fn tokenize(vocab: &Vocab, text: &[u8], out: &mut Vec<u32>) -> Result<(), TokenizerError> {
    let mut s =
        Session { vocab, text, syms: Vec::new(), heap: BinaryHeap::new(), rev_merge: BTreeMap::new() };
    let mut off = 0;
    while off < text.len() {
        let n = utf8_len(text[off]).min(text.len() - off);
        let i = s.syms.len() as isize;
        s.syms.push(Sym { start: off, n, prev: i - 1, next: if off + n == text.len() { -1 } else { i + 1 } });
        off += n;
    }
    for i in 1..s.syms.len() {
        s.try_add_bigram(i as isize - 1, i as isize);
    }
    while let Some(bg) = s.heap.pop() {
        let (l, r) = (s.syms[bg.left], s.syms[bg.right]);
        if l.n == 0 || r.n == 0 || l.n + r.n != bg.size {
            continue;
        }
        s.syms[bg.left].n += r.n;
        s.syms[bg.right].n = 0;
        s.syms[bg.left].next = r.next;
        if r.next >= 0 {
            s.syms[r.next as usize].prev = bg.left as isize;
        }
        let left = s.syms[bg.left];
        s.try_add_bigram(left.prev, bg.left as isize);
        s.try_add_bigram(bg.left as isize, left.next);
    }
    if s.syms.is_empty() {
        return Ok(());
    }
    let mut i = 0isize;
    while i != -1 {
        s.resegment(i as usize, out)?;
        i = s.syms[i as usize].next;
    }
    Ok(())
}

impl<'a> Session<'a> {
    fn sym_text(&self, i: usize) -> &'a [u8] {
        let s = self.syms[i];
        &self.text[s.start..s.start + s.n]
    }

    fn try_add_bigram(&mut self, left: isize, right: isize) {
        if left < 0 || right < 0 {
            return;
        }
        let (l, r) = (self.syms[left as usize], self.syms[right as usize]);
        let text = &self.text[l.start..l.start + l.n + r.n];
        let Some(id) = self.vocab.text_to_token(text) else { return };
        let score = self.vocab.scores[id as usize];
        self.heap.push(Bigram { left: left as usize, right: right as usize, score, size: text.len() });
        self.rev_merge.insert(text, (left as usize, right as usize));
    }

    fn resegment(&self, i: usize, out: &mut Vec<u32>) -> Result<(), TokenizerError> {
        let text = self.sym_text(i);
        if let Some(id) = self.vocab.text_to_token(text) {
            out.push(id);
            return Ok(());
        }
        match self.rev_merge.get(text) {
            None => {
                for &b in text {
                    // llama.cpp's byte_to_token throws when the byte has no token
                    let id = self.vocab.byte_tokens[b as usize].ok_or(TokenizerError::NoByteToken(b))?;
                    out.push(id);
                }
                Ok(())
            }
            Some(&(l, r)) => {
                self.resegment(l, out)?;
                self.resegment(r, out)
            }
        }
    }
}
