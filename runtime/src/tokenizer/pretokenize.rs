//! Byte-level BPE pre-tokenizer splits, as llama.cpp's `unicode_regex_split` performs them.
//!
//! llama.cpp applies a list of regexes in turn; each one only splits the pieces the previous
//! ones produced (matches and the gaps between them both become pieces). The common GPT-2,
//! Llama-3, Qwen2 and Qwen3.5 regexes have hand-written splitters in `unicode.cpp`, ported here
//! line by line. The other regexes llama.cpp runs through `std::regex` are all of a few simple
//! shapes (`\s?[class]+`, `[class]+`, `[class]`, `\s+$`, `[0-9][0-9][0-9]`), implemented here
//! with the same leftmost-first semantics. Their classes follow llama.cpp's "collapsed" text:
//! `\p{..}` classes test ASCII against fixed sets and other code points by category, and
//! non-ASCII whitespace only ever matches `\s`.

use alloc::vec::Vec;

use super::unicode::{ACCENT_MARK, LETTER, MASK_CATEGORIES, NUMBER, PUNCTUATION, WHITESPACE, cpt_flags};
use super::unicode_table::{DEEPSEEK_CJK, DEEPSEEK_LETTERS, DEEPSEEK_PUNCT};

/// The regex list of a `tokenizer.ggml.pre` family (llm_tokenizer_bpe's `regex_exprs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreSplit {
    /// `default`: `[\p{P}\$\+<=>\^~\|]+`, GPT-2, `\p{N}+`, `[0-9][0-9][0-9]`.
    Default,
    /// `gpt2`, `mpt`, `olmo`, ...: the GPT-2 regex.
    Gpt2,
    /// `llama3`/`llama-bpe`, `dbrx`, `smaug-bpe`: the Llama-3 regex.
    Llama3,
    /// `deepseek-llm`.
    DeepseekLlm,
    /// `deepseek-coder`.
    DeepseekCoder,
    /// `falcon`: `[\p{P}\$\+<=>\^~\|`]+`, GPT-2, `[0-9][0-9][0-9]`.
    Falcon,
    /// `starcoder`, `refact`, `command-r`, `smollm`, ...: `\p{N}`, then GPT-2.
    Starcoder,
    /// `qwen2`, `stablelm2`, ...: the Qwen2 regex.
    Qwen2,
    /// `qwen35`: the Qwen3.5 regex (letters runs include marks).
    Qwen35,
}

#[derive(Clone, Copy)]
enum Class {
    /// `\p{N}` (collapsed)
    Number,
    /// `\p{L}` (collapsed)
    Letter,
    /// `\p{P}` (collapsed)
    Punct,
    /// `\p{P}` plus some ASCII characters (collapsed)
    PunctOr(&'static [u8]),
    /// `[\r\n]`
    CrLf,
    /// literal code point ranges (std::wregex over code points)
    Ranges(&'static [(u32, u32)]),
}

#[derive(Clone, Copy)]
enum Stage {
    Gpt2,
    Llama3,
    Qwen2,
    Qwen35,
    /// `\s?[class]+` (when the bool is set) or `[class]+`
    Run(bool, Class),
    /// `[class]`
    One(Class),
    /// `\s+$`
    TrailingSpace,
    /// `[0-9][0-9][0-9]`
    ThreeDigits,
}

static DEFAULT: [Stage; 4] = [
    Stage::Run(false, Class::PunctOr(b"$+<=>^~|")),
    Stage::Gpt2,
    Stage::Run(false, Class::Number),
    Stage::ThreeDigits,
];
static DEEPSEEK_LLM: [Stage; 6] = [
    Stage::One(Class::CrLf),
    Stage::Run(true, Class::Ranges(&DEEPSEEK_LETTERS)),
    Stage::Run(true, Class::Ranges(&DEEPSEEK_PUNCT)),
    Stage::TrailingSpace,
    Stage::Run(false, Class::Ranges(&DEEPSEEK_CJK)),
    Stage::Run(false, Class::Number),
];
static DEEPSEEK_CODER: [Stage; 5] = [
    Stage::One(Class::CrLf),
    Stage::Run(true, Class::Letter),
    Stage::Run(true, Class::Punct),
    Stage::Run(false, Class::Ranges(&DEEPSEEK_CJK)),
    Stage::One(Class::Number),
];
static FALCON: [Stage; 3] =
    [Stage::Run(false, Class::PunctOr(b"$+<=>^~|`")), Stage::Gpt2, Stage::ThreeDigits];
static STARCODER: [Stage; 2] = [Stage::One(Class::Number), Stage::Gpt2];

impl PreSplit {
    fn stages(self) -> &'static [Stage] {
        match self {
            PreSplit::Default => &DEFAULT,
            PreSplit::Gpt2 => &[Stage::Gpt2],
            PreSplit::Llama3 => &[Stage::Llama3],
            PreSplit::DeepseekLlm => &DEEPSEEK_LLM,
            PreSplit::DeepseekCoder => &DEEPSEEK_CODER,
            PreSplit::Falcon => &FALCON,
            PreSplit::Starcoder => &STARCODER,
            PreSplit::Qwen2 => &[Stage::Qwen2],
            PreSplit::Qwen35 => &[Stage::Qwen35],
        }
    }
}

/// Splits `cpts` into pieces; returns the piece lengths (in code points), summing to
/// `cpts.len()`.
pub(crate) fn split(cpts: &[u32], pre: PreSplit) -> Vec<usize> {
    let flags: Vec<u16> = cpts.iter().map(|&c| cpt_flags(c)).collect();
    let mut offsets: Vec<usize> = alloc::vec![cpts.len()];
    for stage in pre.stages() {
        let t = Text { cpts, flags: &flags };
        offsets = match *stage {
            Stage::Gpt2 => custom(&t, &offsets, gpt2_segment),
            Stage::Llama3 => custom(&t, &offsets, |t, s, e, out| llama3_segment(t, s, e, out, 3, false)),
            Stage::Qwen2 => custom(&t, &offsets, |t, s, e, out| llama3_segment(t, s, e, out, 1, false)),
            Stage::Qwen35 => custom(&t, &offsets, |t, s, e, out| llama3_segment(t, s, e, out, 1, true)),
            _ => custom(&t, &offsets, |t, s, e, out| simple_segment(t, s, e, out, *stage)),
        };
    }
    offsets
}

struct Text<'a> {
    cpts: &'a [u32],
    flags: &'a [u16],
}

const OUT_OF_RANGE: u32 = 0xFFFF_FFFF;

/// One segment `[ini, end)` of the text with llama.cpp's `_get_cpt`/`_get_flags` semantics:
/// positions outside the segment read as `OUT_OF_RANGE` / no flags.
struct Seg<'a> {
    t: &'a Text<'a>,
    ini: usize,
    end: usize,
}

impl Seg<'_> {
    fn cpt(&self, pos: usize) -> u32 {
        if self.ini <= pos && pos < self.end { self.t.cpts[pos] } else { OUT_OF_RANGE }
    }
    fn flags(&self, pos: usize) -> u16 {
        if self.ini <= pos && pos < self.end { self.t.flags[pos] } else { 0 }
    }
}

/// Runs a per-segment splitter over every current segment.
fn custom(
    t: &Text<'_>,
    offsets: &[usize],
    f: impl Fn(&Text<'_>, usize, usize, &mut Vec<usize>),
) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len());
    let mut start = 0;
    for &len in offsets {
        f(t, start, start + len, &mut out);
        start += len;
    }
    out
}

/// Emits tokens ending at given positions (llama.cpp's `_add_token`).
struct Emitter<'o> {
    prev_end: usize,
    out: &'o mut Vec<usize>,
}

impl Emitter<'_> {
    fn add(&mut self, end: usize) -> usize {
        let len = end - self.prev_end;
        if len > 0 {
            self.out.push(len);
        }
        self.prev_end = end;
        len
    }
}

fn is_l(f: u16) -> bool {
    f & LETTER != 0
}
fn is_n(f: u16) -> bool {
    f & NUMBER != 0
}
fn is_ws(f: u16) -> bool {
    f & WHITESPACE != 0
}
fn is_m(f: u16) -> bool {
    f & ACCENT_MARK != 0
}

/// ASCII-only lower-casing suffices: the only code points llama.cpp's `unicode_tolower` maps
/// onto the letters of the contractions are their ASCII capitals (checked by the generator).
fn lower(c: u32) -> u32 {
    if (u32::from(b'A')..=u32::from(b'Z')).contains(&c) { c + 32 } else { c }
}

fn is_char(c: u32, ch: u8) -> bool {
    c == u32::from(ch)
}

/// `'s|'t|'re|'ve|'m|'ll|'d` at `pos` (optionally case-insensitive): the match length.
fn contraction(s: &Seg<'_>, pos: usize, fold: bool) -> Option<usize> {
    if !is_char(s.cpt(pos), b'\'') || pos + 1 >= s.end {
        return None;
    }
    let f = |c: u32| if fold { lower(c) } else { c };
    let n1 = f(s.cpt(pos + 1));
    if [b's', b't', b'm', b'd'].iter().any(|&c| is_char(n1, c)) {
        return Some(2);
    }
    if pos + 2 < s.end {
        let n2 = f(s.cpt(pos + 2));
        let pair = |a: u8, b: u8| is_char(n1, a) && is_char(n2, b);
        if pair(b'r', b'e') || pair(b'v', b'e') || pair(b'l', b'l') {
            return Some(3);
        }
    }
    None
}

/// `unicode_regex_split_custom_gpt2`:
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
fn gpt2_segment(t: &Text<'_>, ini: usize, end: usize, out: &mut Vec<usize>) {
    let s = Seg { t, ini, end };
    let mut em = Emitter { prev_end: ini, out };
    let mut pos = ini;
    while pos < end {
        let cpt = s.cpt(pos);
        let flags = s.flags(pos);
        if let Some(n) = contraction(&s, pos, false) {
            pos += em.add(pos + n);
            continue;
        }
        let space = is_char(cpt, b' ');
        let mut flags2 = if space { s.flags(pos + 1) } else { flags };
        if is_l(flags2) || is_n(flags2) {
            let want = if is_l(flags2) { is_l } else { is_n };
            pos += usize::from(space);
            while want(flags2) {
                pos += 1;
                flags2 = s.flags(pos);
            }
            em.add(pos);
            continue;
        }
        if !(is_ws(flags2) || is_l(flags2) || is_n(flags2)) && flags2 != 0 {
            pos += usize::from(space);
            while !(is_ws(flags2) || is_l(flags2) || is_n(flags2)) && flags2 != 0 {
                pos += 1;
                flags2 = s.flags(pos);
            }
            em.add(pos);
            continue;
        }
        let mut nws = 0;
        while is_ws(s.flags(pos + nws)) {
            nws += 1;
        }
        if nws > 1 && s.cpt(pos + nws) != OUT_OF_RANGE {
            pos += nws - 1;
            em.add(pos);
            continue;
        }
        if nws > 0 {
            pos += nws;
            em.add(pos);
            continue;
        }
        pos += 1;
        em.add(pos);
    }
}

/// `unicode_regex_split_custom_llama3` (`max_digits == 3`), `..._qwen2` (`max_digits == 1`)
/// and `..._qwen35` (`marks`: letter runs include `\p{M}`):
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
fn llama3_segment(
    t: &Text<'_>,
    ini: usize,
    end: usize,
    out: &mut Vec<usize>,
    max_digits: usize,
    marks: bool,
) {
    let s = Seg { t, ini, end };
    let mut em = Emitter { prev_end: ini, out };
    let letterish = |f: u16| is_l(f) || (marks && is_m(f));
    let is_crlf = |c: u32| is_char(c, b'\r') || is_char(c, b'\n');
    let mut pos = ini;
    while pos < end {
        let cpt = s.cpt(pos);
        let flags = s.flags(pos);
        if let Some(n) = contraction(&s, pos, true) {
            pos += em.add(pos + n);
            continue;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !(is_crlf(cpt) || is_n(flags)) && (letterish(flags) || letterish(s.flags(pos + 1))) {
            pos += 1;
            while letterish(s.flags(pos)) {
                pos += 1;
            }
            em.add(pos);
            continue;
        }
        // \p{N}{1,max}
        if is_n(flags) {
            if max_digits == 1 {
                pos += 1;
                em.add(pos);
                continue;
            }
            let mut start = pos;
            while is_n(s.flags(pos)) {
                pos += 1;
                if pos - start >= max_digits {
                    em.add(pos);
                    start = pos;
                }
            }
            em.add(pos);
            continue;
        }
        // <space>?[^\s\p{L}\p{N}]+[\r\n]*
        let mut flags2 = if is_char(cpt, b' ') { s.flags(pos + 1) } else { flags };
        let other = |f: u16| !(is_ws(f) || letterish(f) || is_n(f));
        if other(flags2) && flags != 0 {
            pos += usize::from(is_char(cpt, b' '));
            while other(flags2) && flags2 != 0 {
                pos += 1;
                flags2 = s.flags(pos);
            }
            let mut cpt2 = s.cpt(pos);
            while is_crlf(cpt2) {
                pos += 1;
                cpt2 = s.cpt(pos);
            }
            em.add(pos);
            continue;
        }
        let mut nws = 0;
        let mut last_end_r_or_n = 0;
        while is_ws(s.flags(pos + nws)) {
            if is_crlf(s.cpt(pos + nws)) {
                last_end_r_or_n = pos + nws + 1;
            }
            nws += 1;
        }
        // \s*[\r\n]+
        if last_end_r_or_n > 0 {
            pos = last_end_r_or_n;
            em.add(pos);
            continue;
        }
        // \s+(?!\S)
        if nws > 1 && s.cpt(pos + nws) != OUT_OF_RANGE {
            pos += nws - 1;
            em.add(pos);
            continue;
        }
        // \s+
        if nws > 0 {
            pos += nws;
            em.add(pos);
            continue;
        }
        pos += 1;
        em.add(pos);
    }
}

/// Membership in a regex class, on llama.cpp's collapsed / whitespace-folded text.
fn in_class(class: Class, cpt: u32, flags: u16) -> bool {
    // non-ASCII whitespace is replaced by \v before matching: it belongs to no class
    if cpt >= 0x80 && is_ws(flags) {
        return false;
    }
    let cat = flags & MASK_CATEGORIES;
    match class {
        Class::Number => cat == NUMBER,
        Class::Letter => cat == LETTER,
        Class::Punct => cat == PUNCTUATION,
        Class::PunctOr(extra) => cat == PUNCTUATION || (cpt < 0x80 && extra.contains(&(cpt as u8))),
        Class::CrLf => cpt == u32::from(b'\r') || cpt == u32::from(b'\n'),
        Class::Ranges(r) => r.iter().any(|&(a, b)| a <= cpt && cpt <= b),
    }
}

/// The std::regex-run stages: leftmost-first matching, gaps kept as pieces.
fn simple_segment(t: &Text<'_>, ini: usize, end: usize, out: &mut Vec<usize>, stage: Stage) {
    let cls = |c: Class, p: usize| p < end && in_class(c, t.cpts[p], t.flags[p]);
    let ws = |p: usize| p < end && is_ws(t.flags[p]);
    let run_end = |c: Class, mut p: usize| {
        while cls(c, p) {
            p += 1;
        }
        p
    };
    // leftmost match starting at or after `p`
    let find = |p: usize| -> Option<(usize, usize)> {
        match stage {
            Stage::Run(space, c) => (p..end).find_map(|q| {
                if space && ws(q) && cls(c, q + 1) {
                    Some((q, run_end(c, q + 1)))
                } else if cls(c, q) {
                    Some((q, run_end(c, q)))
                } else {
                    None
                }
            }),
            Stage::One(c) => (p..end).find(|&q| cls(c, q)).map(|q| (q, q + 1)),
            Stage::TrailingSpace => {
                let mut q = end;
                while q > p && ws(q - 1) {
                    q -= 1;
                }
                (q < end).then_some((q, end))
            }
            Stage::ThreeDigits => {
                let d = |q: usize| q < end && (0x30..=0x39).contains(&t.cpts[q]);
                (p..end).find(|&q| d(q) && d(q + 1) && d(q + 2)).map(|q| (q, q + 3))
            }
            Stage::Gpt2 | Stage::Llama3 | Stage::Qwen2 | Stage::Qwen35 => None,
        }
    };
    let mut pos = ini;
    while let Some((m0, m1)) = find(pos) {
        if m0 > pos {
            out.push(m0 - pos);
        }
        out.push(m1 - m0);
        pos = m1;
    }
    if pos < end {
        out.push(end - pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::unicode::cpts_from_utf8;
    use alloc::string::String;

    fn pieces(text: &str, pre: PreSplit) -> Vec<String> {
        let cpts = cpts_from_utf8(text.as_bytes());
        let mut start = 0;
        split(&cpts, pre)
            .into_iter()
            .map(|n| {
                let s: String = cpts[start..start + n].iter().map(|&c| char::from_u32(c).unwrap()).collect();
                start += n;
                s
            })
            .collect()
    }

    #[test]
    fn gpt2_split() {
        assert_eq!(
            pieces("Hello world's  123 !!\n\n  x", PreSplit::Gpt2),
            ["Hello", " world", "'s", " ", " 123", " !!", "\n\n ", " x"]
        );
    }

    #[test]
    fn llama3_split() {
        assert_eq!(
            pieces("I'VE 12345 wörds!!\n\n  \tx", PreSplit::Llama3),
            ["I", "'VE", " ", "123", "45", " wörds", "!!\n\n", "  ", "\tx"]
        );
        assert_eq!(pieces("a123", PreSplit::Qwen2), ["a", "1", "2", "3"]);
    }

    #[test]
    fn regex_stages() {
        assert_eq!(pieces("x1234567", PreSplit::Default), ["x", "123", "456", "7"]);
        assert_eq!(pieces("a+=b", PreSplit::Default), ["a", "+=", "b"]);
        assert_eq!(pieces("ab 12", PreSplit::Starcoder), ["ab", " ", "1", "2"]);
        assert_eq!(pieces("ab  ", PreSplit::DeepseekLlm), ["ab", "  "]);
        assert_eq!(pieces("中文 ab", PreSplit::DeepseekCoder), ["中文", " ab"]);
    }
}
