//! Tokenizers built from GGUF metadata, matching llama.cpp token for token.
//!
//! - byte-level BPE (`tokenizer.ggml.model = gpt2`) with the pre-tokenizer splits of the
//!   common `tokenizer.ggml.pre` values ([`PreSplit`]);
//! - SentencePiece (`tokenizer.ggml.model = llama`) with scores and `<0xNN>` byte fallback.
//!
//! [`Tokenizer::encode`] follows `llama_tokenize(vocab, text, add_special, parse_special)`:
//! special-token texts are split out first (control and unknown tokens only when
//! `parse_special`; user-defined tokens always), then each raw fragment is tokenized.
//! [`Tokenizer::decode`] follows `llama_detokenize` and [`StreamDecoder`] yields the same text
//! incrementally, in whole UTF-8 characters.

mod bpe;
mod detok;
mod gguf;
mod piece;
mod pretokenize;
mod pretype;
mod special;
mod spm;
mod stdsort;
#[cfg(test)]
mod tests;
mod unicode;
mod unicode_table;
mod vocab;

use alloc::string::String;
use alloc::vec::Vec;

pub use detok::{DecodeOptions, StreamDecoder};
pub use pretokenize::PreSplit;
pub use vocab::{SPECIAL_KEYS, Special, Vocab, VocabBuilder, VocabType, attr};

/// Why a tokenizer could not be built or used.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenizerError {
    /// A required metadata key is absent.
    MissingKey(&'static str),
    /// A metadata key has an unexpected type.
    WrongType(&'static str),
    /// An array is shorter than the token list.
    LengthMismatch {
        /// the metadata key
        key: &'static str,
        /// number of tokens
        expected: usize,
        /// array length
        found: usize,
    },
    /// `tokenizer.ggml.model` that llama.cpp does not know either.
    UnknownModel(String),
    /// A `tokenizer.ggml.model` llama.cpp knows but this crate does not implement
    /// (WordPiece, Unigram, RWKV, ...).
    UnsupportedModel(String),
    /// A `tokenizer.ggml.pre` that llama.cpp rejects too ("unknown pre-tokenizer type").
    UnknownPreTokenizer(String),
    /// A `tokenizer.ggml.pre` llama.cpp knows but whose split is not implemented here.
    UnsupportedPreTokenizer(String),
    /// The token list is empty.
    EmptyVocab,
    /// Two tokens have the same text (llama.cpp aborts on this).
    DuplicateToken(u32),
    /// A token llama.cpp requires for this model is missing.
    MissingToken(String),
    /// `add_bos`/`add_eos` is set but the model has no such token.
    MissingSpecial(Special),
    /// SentencePiece byte fallback needs a `<0xNN>` token that the vocabulary lacks.
    NoByteToken(u8),
    /// A token id is not in the vocabulary.
    TokenOutOfRange(u32),
}

impl core::fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MissingKey(k) => write!(f, "missing metadata key {k}"),
            Self::WrongType(k) => write!(f, "metadata key {k} has the wrong type"),
            Self::LengthMismatch { key, expected, found } => {
                write!(f, "{key} has {found} entries, expected at least {expected}")
            }
            Self::UnknownModel(m) => write!(f, "unknown tokenizer model '{m}'"),
            Self::UnsupportedModel(m) => write!(f, "tokenizer model '{m}' is not supported"),
            Self::UnknownPreTokenizer(p) => write!(f, "unknown pre-tokenizer type '{p}'"),
            Self::UnsupportedPreTokenizer(p) => write!(f, "pre-tokenizer '{p}' is not supported"),
            Self::EmptyVocab => write!(f, "empty vocabulary"),
            Self::DuplicateToken(id) => write!(f, "token {id} duplicates another token's text"),
            Self::MissingToken(t) => write!(f, "vocabulary lacks the token '{t}'"),
            Self::MissingSpecial(s) => write!(f, "vocabulary has no {s:?} token"),
            Self::NoByteToken(b) => write!(f, "no byte-fallback token for byte {b:#04x}"),
            Self::TokenOutOfRange(id) => write!(f, "token id {id} out of range"),
        }
    }
}

/// A tokenizer: a [`Vocab`] plus the encode/decode algorithms.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    vocab: Vocab,
}

enum Fragment {
    Text(usize, usize),
    Token(u32),
}

impl Tokenizer {
    /// Wraps a built vocabulary.
    pub fn new(vocab: Vocab) -> Self {
        Self { vocab }
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Number of tokens.
    pub fn n_tokens(&self) -> usize {
        self.vocab.len()
    }

    /// `llama_tokenize(text, add_special, parse_special)`.
    ///
    /// `add_special` adds BOS/EOS as the model's `add_bos`/`add_eos` flags ask;
    /// `parse_special` lets control-token texts in `text` become those tokens.
    pub fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        self.encode_bytes(text.as_bytes(), add_special, parse_special)
    }

    /// [`Tokenizer::encode`] for arbitrary bytes (invalid UTF-8 is handled as llama.cpp does).
    pub fn encode_bytes(
        &self,
        text: &[u8],
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let v = &self.vocab;
        let frags = if text.is_empty() { Vec::new() } else { self.partition(text, parse_special) };
        let bos = || v.special(Special::Bos).ok_or(TokenizerError::MissingSpecial(Special::Bos));
        let eos = || v.special(Special::Eos).ok_or(TokenizerError::MissingSpecial(Special::Eos));
        let mut out = Vec::new();
        if add_special && v.add_bos {
            out.push(bos()?);
        }
        match v.kind {
            VocabType::Spm => {
                let mut prev_special = true;
                let mut buf = Vec::new();
                for f in &frags {
                    match *f {
                        Fragment::Text(s, n) => {
                            buf.clear();
                            if v.add_space_prefix && prev_special {
                                buf.extend_from_slice("\u{2581}".as_bytes());
                            }
                            for &b in &text[s..s + n] {
                                if b == b' ' {
                                    buf.extend_from_slice("\u{2581}".as_bytes());
                                } else {
                                    buf.push(b);
                                }
                            }
                            spm::tokenize(v, &buf, &mut out)?;
                            prev_special = false;
                        }
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                    }
                }
            }
            VocabType::Bpe => {
                for f in &frags {
                    match *f {
                        Fragment::Text(s, n) => bpe::tokenize(v, &text[s..s + n], &mut out),
                        Fragment::Token(id) => out.push(id),
                    }
                }
            }
        }
        if add_special && v.add_eos {
            out.push(eos()?);
        }
        Ok(out)
    }

    /// `tokenizer_st_partition`: splits special-token texts out of `text`, longest tokens
    /// first (in llama.cpp's order), honouring the tokens' lstrip/rstrip attributes.
    fn partition(&self, text: &[u8], parse_special: bool) -> Vec<Fragment> {
        let v = &self.vocab;
        let mut frags = alloc::vec![Fragment::Text(0, text.len())];
        for &id in &v.special_cache {
            let a = v.attrs[id as usize];
            if !parse_special && a & (attr::CONTROL | attr::UNKNOWN) != 0 {
                continue;
            }
            let tok = v.token_text(id).unwrap_or_default();
            if !frags
                .iter()
                .any(|f| matches!(*f, Fragment::Text(s, n) if find(&text[s..s + n], tok).is_some()))
            {
                continue;
            }
            let mut next = Vec::with_capacity(frags.len() + 2);
            for f in frags {
                let Fragment::Text(mut off, mut len) = f else {
                    next.push(f);
                    continue;
                };
                while let Some(p) = find(&text[off..off + len], tok) {
                    let m = off + p;
                    if m > off {
                        let mut l = m - off;
                        if a & attr::LSTRIP != 0 {
                            while l > 0 && is_c_space(text[off + l - 1]) {
                                l -= 1;
                            }
                        }
                        if l > 0 {
                            next.push(Fragment::Text(off, l));
                        }
                    }
                    next.push(Fragment::Token(id));
                    let end = m + tok.len();
                    if end < off + len {
                        let (mut r_off, mut r_len) = (end, off + len - end);
                        if a & attr::RSTRIP != 0 {
                            while r_len > 0 && is_c_space(text[r_off]) {
                                r_off += 1;
                                r_len -= 1;
                            }
                        }
                        off = r_off;
                        len = r_len;
                    } else {
                        len = 0;
                        break;
                    }
                }
                if len > 0 {
                    next.push(Fragment::Text(off, len));
                }
            }
            frags = next;
        }
        frags
    }

    /// `token_to_piece(id, special = true)`: the bytes a token stands for.
    pub fn token_to_piece(&self, id: u32) -> Result<&[u8], TokenizerError> {
        self.vocab.piece(id).ok_or(TokenizerError::TokenOutOfRange(id))
    }

    /// `llama_detokenize(ids, remove_special, unparse_special)`.
    pub fn decode(&self, ids: &[u32], opts: DecodeOptions) -> Result<Vec<u8>, TokenizerError> {
        detok::detokenize(&self.vocab, ids, opts)
    }

    /// [`Tokenizer::decode`] as text, invalid UTF-8 replaced by U+FFFD.
    pub fn decode_lossy(&self, ids: &[u32], opts: DecodeOptions) -> Result<String, TokenizerError> {
        Ok(String::from_utf8_lossy(&self.decode(ids, opts)?).into_owned())
    }

    /// A streaming decoder over this tokenizer.
    pub fn stream_decoder(&self, opts: DecodeOptions) -> StreamDecoder<'_> {
        StreamDecoder::new(self, opts)
    }
}

/// C `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}
