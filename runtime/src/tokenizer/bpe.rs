//! Byte-level BPE (llama.cpp's `llm_tokenizer_bpe_session`): pre-tokenizer split, GPT-2 byte
//! encoding, then merges by rank inside each word.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Ordering;

use super::pretokenize::split;
use super::unicode::{byte_to_cpt_table, cpts_from_utf8, push_utf8, utf8_len};
use super::vocab::Vocab;

#[derive(Clone, Copy)]
struct Sym {
    start: usize,
    n: usize,
    prev: isize,
    next: isize,
}

#[derive(PartialEq, Eq)]
struct Bigram {
    rank: u32,
    left: usize,
    right: usize,
    size: usize,
}

impl Ord for Bigram {
    /// The best bigram is the greatest: lowest rank, then leftmost.
    fn cmp(&self, o: &Self) -> Ordering {
        o.rank.cmp(&self.rank).then(o.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Tokenizes one raw-text fragment, appending ids to `out`.
pub(crate) fn tokenize(vocab: &Vocab, text: &[u8], out: &mut Vec<u32>) {
    let cpts = cpts_from_utf8(text);
    let lens = split(&cpts, vocab.pre);
    let table = byte_to_cpt_table();

    let mut start = 0;
    let mut utf8 = Vec::new();
    let mut word = Vec::new();
    for len in lens {
        // the word re-encoded to UTF-8, then each byte mapped to its GPT-2 code point
        utf8.clear();
        for &c in &cpts[start..start + len] {
            push_utf8(c, &mut utf8);
        }
        start += len;
        word.clear();
        for &b in &utf8 {
            push_utf8(table[b as usize], &mut word);
        }
        merge_word(vocab, &word, out);
    }
}

fn merge_word(vocab: &Vocab, word: &[u8], out: &mut Vec<u32>) {
    let mut syms: Vec<Sym> = Vec::new();
    if vocab.ignore_merges && vocab.text_to_token(word).is_some() {
        syms.push(Sym { start: 0, n: word.len(), prev: -1, next: -1 });
    } else {
        let mut off = 0;
        while off < word.len() {
            let n = utf8_len(word[off]).min(word.len() - off);
            let i = syms.len() as isize;
            syms.push(Sym {
                start: off,
                n,
                prev: i - 1,
                next: if off + n == word.len() { -1 } else { i + 1 },
            });
            off += n;
        }
    }

    let text = |s: &Sym| &word[s.start..s.start + s.n];
    let mut heap = BinaryHeap::new();
    let add = |heap: &mut BinaryHeap<Bigram>, syms: &[Sym], l: isize, r: isize| {
        if l < 0 || r < 0 {
            return;
        }
        let (a, b) = (&syms[l as usize], &syms[r as usize]);
        if let Some(rank) = vocab.merge_rank(text(a), text(b)) {
            heap.push(Bigram { rank, left: l as usize, right: r as usize, size: a.n + b.n });
        }
    };
    for i in 1..syms.len() {
        add(&mut heap, &syms, i as isize - 1, i as isize);
    }
    while let Some(bg) = heap.pop() {
        let (l, r) = (syms[bg.left], syms[bg.right]);
        // outdated: a side was merged away or grew (the texts are contiguous, so equal
        // sizes mean equal text)
        if l.n == 0 || r.n == 0 || l.n + r.n != bg.size {
            continue;
        }
        syms[bg.left].n += r.n;
        syms[bg.right].n = 0;
        syms[bg.left].next = r.next;
        if r.next >= 0 {
            syms[r.next as usize].prev = bg.left as isize;
        }
        let left = syms[bg.left];
        add(&mut heap, &syms, left.prev, bg.left as isize);
        add(&mut heap, &syms, bg.left as isize, left.next);
    }

    for s in syms.iter().filter(|s| s.n > 0) {
        let t = text(s);
        match vocab.text_to_token(t) {
            Some(id) => out.push(id),
            None => {
                // llama.cpp looks each raw byte up as a one-byte token (and drops misses)
                for &b in t {
                    if let Some(id) = vocab.text_to_token(&[b]) {
                        out.push(id);
                    }
                }
            }
        }
    }
}
