//! The vocabulary as plain data: token bytes, scores, attributes, BPE merges, special ids and
//! flags, set up with llama.cpp's `llama_vocab::impl::load` rules (defaults per model and
//! pre-tokenizer, metadata overrides, special-token auto-detection and attribute fix-ups).
//!
//! Built with [`VocabBuilder`], from GGUF metadata (see `gguf.rs`) or from plain data.

use alloc::string::String;
use alloc::vec::Vec;

use super::TokenizerError;
use super::piece::piece_for_cache;
use super::pretokenize::PreSplit;
use super::pretype::{PreInfo, pre_info};
use super::special;
use super::stdsort::std_sort;

/// Token attribute bits (llama.cpp's `llama_token_attr`).
pub mod attr {
    /// `LLAMA_TOKEN_ATTR_UNKNOWN`
    pub const UNKNOWN: u16 = 1 << 0;
    /// `LLAMA_TOKEN_ATTR_UNUSED`
    pub const UNUSED: u16 = 1 << 1;
    /// `LLAMA_TOKEN_ATTR_NORMAL`
    pub const NORMAL: u16 = 1 << 2;
    /// `LLAMA_TOKEN_ATTR_CONTROL`
    pub const CONTROL: u16 = 1 << 3;
    /// `LLAMA_TOKEN_ATTR_USER_DEFINED`
    pub const USER_DEFINED: u16 = 1 << 4;
    /// `LLAMA_TOKEN_ATTR_BYTE`
    pub const BYTE: u16 = 1 << 5;
    /// `LLAMA_TOKEN_ATTR_LSTRIP`
    pub const LSTRIP: u16 = 1 << 7;
    /// `LLAMA_TOKEN_ATTR_RSTRIP`
    pub const RSTRIP: u16 = 1 << 8;
}

/// `tokenizer.ggml.token_type` values -> attributes (llama.cpp's load switch).
fn type_to_attr(t: i32) -> u16 {
    match t {
        1 => attr::NORMAL,
        2 => attr::UNKNOWN,
        3 => attr::CONTROL,
        4 => attr::USER_DEFINED,
        5 => attr::UNUSED,
        6 => attr::BYTE,
        _ => 0,
    }
}

/// The tokenizer algorithm (`tokenizer.ggml.model`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocabType {
    /// `llama`: SentencePiece BPE with scores and byte fallback.
    Spm,
    /// `gpt2`: byte-level BPE with merges.
    Bpe,
}

/// Which special token a GGUF id key sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Special {
    Bos,
    Eos,
    Eot,
    Eom,
    Unk,
    Sep,
    Pad,
    Mask,
    FimPre,
    FimSuf,
    FimMid,
    FimPad,
    FimRep,
    FimSep,
}

pub(crate) const N_SPECIAL: usize = 14;

/// GGUF keys of the special ids, in llama.cpp's processing order (the deprecated
/// prefix/suffix/middle keys come last and override the fim ones).
pub const SPECIAL_KEYS: [(&str, Special); 17] = [
    ("tokenizer.ggml.bos_token_id", Special::Bos),
    ("tokenizer.ggml.eos_token_id", Special::Eos),
    ("tokenizer.ggml.eot_token_id", Special::Eot),
    ("tokenizer.ggml.eom_token_id", Special::Eom),
    ("tokenizer.ggml.unknown_token_id", Special::Unk),
    ("tokenizer.ggml.seperator_token_id", Special::Sep),
    ("tokenizer.ggml.padding_token_id", Special::Pad),
    ("tokenizer.ggml.mask_token_id", Special::Mask),
    ("tokenizer.ggml.fim_pre_token_id", Special::FimPre),
    ("tokenizer.ggml.fim_suf_token_id", Special::FimSuf),
    ("tokenizer.ggml.fim_mid_token_id", Special::FimMid),
    ("tokenizer.ggml.fim_pad_token_id", Special::FimPad),
    ("tokenizer.ggml.fim_rep_token_id", Special::FimRep),
    ("tokenizer.ggml.fim_sep_token_id", Special::FimSep),
    ("tokenizer.ggml.prefix_token_id", Special::FimPre),
    ("tokenizer.ggml.suffix_token_id", Special::FimSuf),
    ("tokenizer.ggml.middle_token_id", Special::FimMid),
];

/// A token vocabulary with everything the tokenizer needs.
#[derive(Debug, Clone)]
pub struct Vocab {
    pub(crate) kind: VocabType,
    pub(crate) pre: PreSplit,
    /// concatenated token texts; token `i` is `text[offs[i]..offs[i + 1]]`
    text: Vec<u8>,
    offs: Vec<u32>,
    pub(crate) scores: Vec<f32>,
    pub(crate) attrs: Vec<u16>,
    /// token ids sorted by text, for text -> id lookups
    by_text: Vec<u32>,
    /// concatenated merge texts and `(first_start, first_len, second_len, rank)` sorted by pair
    merge_text: Vec<u8>,
    merges: Vec<(u32, u32, u32, u32)>,
    pub(crate) special: [Option<u32>; N_SPECIAL],
    pub(crate) eog: Vec<u32>,
    /// control / user-defined / unknown tokens, in llama.cpp's partition order
    pub(crate) special_cache: Vec<u32>,
    /// `token_to_piece(id, special = true)` for every token
    piece_text: Vec<u8>,
    piece_offs: Vec<u32>,
    pub(crate) add_space_prefix: bool,
    pub(crate) add_bos: bool,
    pub(crate) add_eos: bool,
    pub(crate) add_sep: bool,
    pub(crate) clean_spaces: bool,
    pub(crate) ignore_merges: bool,
    /// whether every byte has a `<0xNN>` (or raw single-byte) token (SPM byte fallback)
    pub(crate) byte_tokens: [Option<u32>; 256],
}

impl Vocab {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.offs.len() - 1
    }

    /// Whether the vocabulary has no tokens (never true for a built vocabulary).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Algorithm of this vocabulary.
    pub fn kind(&self) -> VocabType {
        self.kind
    }

    /// Raw token text as stored in the model (`tokenizer.ggml.tokens`).
    pub fn token_text(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        (i < self.len()).then(|| &self.text[self.offs[i] as usize..self.offs[i + 1] as usize])
    }

    /// Attribute bits of a token (see [`attr`]).
    pub fn token_attr(&self, id: u32) -> Option<u16> {
        self.attrs.get(id as usize).copied()
    }

    /// Score of a token.
    pub fn token_score(&self, id: u32) -> Option<f32> {
        self.scores.get(id as usize).copied()
    }

    /// The id of a special token, if the vocabulary has one.
    pub fn special(&self, which: Special) -> Option<u32> {
        self.special[which as usize]
    }

    /// Whether `id` ends generation (llama.cpp's `is_eog`).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// `add_bos` flag (applied by `encode(.., add_special = true, ..)`).
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// `add_eos` flag.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// `add_sep` flag (BERT-style separators; not applied by the BPE/SPM encoders, like
    /// llama.cpp).
    pub fn add_sep(&self) -> bool {
        self.add_sep
    }

    /// Exact text -> id lookup (`text_to_token`).
    pub fn text_to_token(&self, s: &[u8]) -> Option<u32> {
        let i = self.by_text.binary_search_by(|&id| self.token_text(id).unwrap_or_default().cmp(s)).ok()?;
        Some(self.by_text[i])
    }

    /// Rank of the merge `left right` (`find_bpe_rank`).
    pub(crate) fn merge_rank(&self, left: &[u8], right: &[u8]) -> Option<u32> {
        let key = |m: &(u32, u32, u32, u32)| {
            let a = m.0 as usize;
            let b = a + m.1 as usize;
            (&self.merge_text[a..b], &self.merge_text[b..b + m.2 as usize])
        };
        let i = self.merges.binary_search_by(|m| key(m).cmp(&(left, right))).ok()?;
        Some(self.merges[i].3)
    }

    /// `token_to_piece(id, special = true)`, as cached by llama.cpp.
    pub(crate) fn piece(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        (i < self.len())
            .then(|| &self.piece_text[self.piece_offs[i] as usize..self.piece_offs[i + 1] as usize])
    }
}

/// Builds a [`Vocab`] from metadata, in the order llama.cpp loads it.
#[derive(Debug)]
pub struct VocabBuilder {
    kind: VocabType,
    pre_name: String,
    pre: PreInfo,
    text: Vec<u8>,
    offs: Vec<u32>,
    scores: Vec<f32>,
    attrs: Vec<u16>,
    merge_text: Vec<u8>,
    merges: Vec<(u32, u32, u32, u32)>,
    special_defaults: [Option<u32>; N_SPECIAL],
    special_keys: Vec<(Special, u32)>,
    add_space_prefix: bool,
    add_bos: Option<bool>,
    add_eos: Option<bool>,
    add_sep: Option<bool>,
    general_name: String,
    architecture: String,
}

impl VocabBuilder {
    /// Starts a vocabulary for `tokenizer.ggml.model` = `model` and `tokenizer.ggml.pre` = `pre`.
    pub fn new(model: &str, pre: Option<&str>) -> Result<Self, TokenizerError> {
        let (kind, defaults, info, space_prefix) = match model {
            "llama" => {
                let info = PreInfo {
                    split: PreSplit::Default,
                    clean_spaces: false,
                    ignore_merges: false,
                    add_bos: true,
                    add_sep: false,
                };
                let mut d = [None; N_SPECIAL];
                d[Special::Bos as usize] = Some(1);
                d[Special::Eos as usize] = Some(2);
                d[Special::Unk as usize] = Some(0);
                (VocabType::Spm, d, info, true)
            }
            "gpt2" => {
                let mut d = [None; N_SPECIAL];
                d[Special::Bos as usize] = Some(11);
                d[Special::Eos as usize] = Some(11);
                (VocabType::Bpe, d, pre_info(pre.unwrap_or(""))?, false)
            }
            "bert" | "t5" | "rwkv" | "plamo2" | "gemma4" | "hybriddna" | "whitespace" | "test"
            | "no_vocab" | "none" => return Err(TokenizerError::UnsupportedModel(model.into())),
            other => return Err(TokenizerError::UnknownModel(other.into())),
        };
        Ok(Self {
            kind,
            pre_name: pre.unwrap_or("").into(),
            pre: info,
            text: Vec::new(),
            offs: alloc::vec![0],
            scores: Vec::new(),
            attrs: Vec::new(),
            merge_text: Vec::new(),
            merges: Vec::new(),
            special_defaults: defaults,
            special_keys: Vec::new(),
            add_space_prefix: space_prefix,
            add_bos: None,
            add_eos: None,
            add_sep: None,
            general_name: String::new(),
            architecture: String::new(),
        })
    }

    /// Appends a token (`tokenizer.ggml.tokens[i]`, `scores[i]` or 0, `token_type[i]` or
    /// `None` when the model has no token types).
    pub fn push_token(&mut self, text: &[u8], score: f32, token_type: Option<i32>) {
        let i = self.offs.len() - 1;
        if text.is_empty() {
            // llama.cpp renames empty tokens
            let name = alloc::format!("[EMPTY_{i}]");
            self.text.extend_from_slice(name.as_bytes());
        } else {
            self.text.extend_from_slice(text);
        }
        self.offs.push(self.text.len() as u32);
        self.scores.push(score);
        self.attrs.push(token_type.map_or(attr::NORMAL, type_to_attr));
    }

    /// Appends a merge rule (`tokenizer.ggml.merges[i]`, "left right").
    pub fn push_merge(&mut self, merge: &[u8]) {
        let rank = self.merges.len() as u32;
        let start = self.merge_text.len() as u32;
        // llama.cpp splits at the first space after the first byte; no space: ("", "")
        let (a, b) = match merge.iter().skip(1).position(|&c| c == b' ') {
            Some(p) => (&merge[..p + 1], &merge[p + 2..]),
            None => (&merge[..0], &merge[..0]),
        };
        self.merge_text.extend_from_slice(a);
        self.merge_text.extend_from_slice(b);
        self.merges.push((start, a.len() as u32, b.len() as u32, rank));
    }

    /// A special id from metadata (`tokenizer.ggml.*_token_id`); out-of-range ids are ignored
    /// like llama.cpp does.
    pub fn set_special(&mut self, which: Special, id: u32) {
        self.special_keys.push((which, id));
    }

    /// `tokenizer.ggml.add_space_prefix`
    pub fn set_add_space_prefix(&mut self, v: bool) {
        self.add_space_prefix = v;
    }
    /// `tokenizer.ggml.add_bos_token`
    pub fn set_add_bos(&mut self, v: bool) {
        self.add_bos = Some(v);
    }
    /// `tokenizer.ggml.add_eos_token`
    pub fn set_add_eos(&mut self, v: bool) {
        self.add_eos = Some(v);
    }
    /// `tokenizer.ggml.add_sep_token`
    pub fn set_add_sep(&mut self, v: bool) {
        self.add_sep = Some(v);
    }
    /// `general.name` (llama.cpp sets per-token strip flags for some model names).
    pub fn set_general_name(&mut self, v: &str) {
        self.general_name = v.into();
    }
    /// `general.architecture`.
    pub fn set_architecture(&mut self, v: &str) {
        self.architecture = v.into();
    }

    /// Finishes the vocabulary.
    pub fn build(self) -> Result<Vocab, TokenizerError> {
        let n = self.offs.len() - 1;
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        let tok = |id: u32| -> &[u8] {
            &self.text[self.offs[id as usize] as usize..self.offs[id as usize + 1] as usize]
        };
        let mut by_text: Vec<u32> = (0..n as u32).collect();
        by_text.sort_by(|&a, &b| tok(a).cmp(tok(b)));
        if let Some(w) = by_text.windows(2).find(|w| tok(w[0]) == tok(w[1])) {
            // llama.cpp asserts id_to_token.size() == token_to_id.size()
            return Err(TokenizerError::DuplicateToken(w[1]));
        }
        let lookup = |s: &[u8]| -> Option<u32> {
            by_text.binary_search_by(|&id| tok(id).cmp(s)).ok().map(|i| by_text[i])
        };

        let mut merges = self.merges;
        {
            let mt = &self.merge_text;
            let key = |m: &(u32, u32, u32, u32)| {
                let a = m.0 as usize;
                let b = a + m.1 as usize;
                (&mt[a..b], &mt[b..b + m.2 as usize])
            };
            merges.sort_by(|x, y| key(x).cmp(&key(y)).then(x.3.cmp(&y.3)));
            // bpe_ranks.emplace: the first rank of a repeated pair wins
            merges.dedup_by(|later, first| key(later) == key(first));
        }

        // special ids: defaults out of range are disabled, metadata overrides when in range
        let mut special = self.special_defaults;
        for s in special.iter_mut() {
            if s.is_some_and(|id| id as usize >= n) {
                *s = None;
            }
        }
        for &(which, id) in &self.special_keys {
            if (id as usize) < n {
                special[which as usize] = Some(id);
            }
        }
        let add_bos = self.add_bos.unwrap_or(self.pre.add_bos);
        let add_eos = self.add_eos.unwrap_or(false);
        let add_sep = self.add_sep.unwrap_or(self.pre.add_sep);

        let mut attrs = self.attrs;
        let by_name = |name: &str| lookup(name.as_bytes());
        let eog = special::detect(&mut attrs, &mut special, &by_name, n, &tok);

        // special tokens cache: ids ascending, then libstdc++'s std::sort by length (desc)
        let mut special_cache: Vec<u32> = (0..n as u32)
            .filter(|&id| attrs[id as usize] & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0)
            .collect();
        std_sort(&mut special_cache, &|&a: &u32, &b: &u32| tok(a).len() > tok(b).len());

        // byte tokens for SPM byte fallback (byte_to_token)
        let mut byte_tokens = [None; 256];
        for (b, slot) in byte_tokens.iter_mut().enumerate() {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            let name = [b'<', b'0', b'x', HEX[b >> 4], HEX[b & 15], b'>'];
            *slot = lookup(&name).or_else(|| lookup(&[b as u8]));
        }

        // token -> piece cache (special = true)
        let mut piece_text = Vec::with_capacity(self.text.len());
        let mut piece_offs = Vec::with_capacity(n + 1);
        piece_offs.push(0u32);
        for id in 0..n as u32 {
            piece_for_cache(self.kind, tok(id), attrs[id as usize], &mut piece_text);
            piece_offs.push(piece_text.len() as u32);
        }

        // per-model attribute fix-ups (done after the caches, like llama.cpp)
        let set_by_name = |attrs: &mut Vec<u16>, name: &str, bit: u16, on: bool| {
            let id = by_name(name).ok_or_else(|| TokenizerError::MissingToken(name.into()))?;
            let a = &mut attrs[id as usize];
            *a = if on { *a | bit } else { *a & !bit };
            Ok::<(), TokenizerError>(())
        };
        let model_name = self.general_name.to_ascii_lowercase();
        let any = |s: &str, subs: &[&str]| subs.iter().any(|x| s.contains(x));
        if any(&self.pre_name, &["jina-v2-de", "jina-v2-es", "jina-v2-code"])
            || any(&self.architecture, &["nomic-bert-moe", "jina-bert-v3"])
        {
            if by_name("<mask>").is_some() {
                set_by_name(&mut attrs, "<mask>", attr::LSTRIP, true)?;
            }
        } else if any(&model_name, &["phi-3", "phi3"]) {
            for &id in &special_cache {
                attrs[id as usize] |= attr::RSTRIP;
            }
            set_by_name(&mut attrs, "</s>", attr::RSTRIP, true)?;
            for name in ["<unk>", "<s>", "<|endoftext|>"] {
                set_by_name(&mut attrs, name, attr::RSTRIP, false)?;
            }
        } else if any(&model_name, &["modern-bert"]) && by_name("[MASK]").is_some() {
            set_by_name(&mut attrs, "[MASK]", attr::LSTRIP, true)?;
        }

        Ok(Vocab {
            kind: self.kind,
            pre: self.pre.split,
            text: self.text,
            offs: self.offs,
            scores: self.scores,
            attrs,
            by_text,
            merge_text: self.merge_text,
            merges,
            special,
            eog,
            special_cache,
            piece_text,
            piece_offs,
            add_space_prefix: self.add_space_prefix,
            add_bos,
            add_eos,
            add_sep,
            clean_spaces: self.pre.clean_spaces,
            ignore_merges: self.pre.ignore_merges,
            byte_tokens,
        })
    }
}
