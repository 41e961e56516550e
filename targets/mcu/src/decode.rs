//! Token ids to text with no allocation: the bytes of `llama_detokenize(ids, remove_special =
//! false, unparse_special = false)`, one token at a time, as `emberlm run` streams them.
//!
//! The runtime's `StreamDecoder` returns a fresh `String` per token; on an MCU the pieces are
//! written straight from the vocabulary to the serial port instead. Two rules of
//! `llama_detokenize` matter here: control and unknown tokens print nothing, and with
//! `add_space_prefix` the first token loses one leading space. Both are read off the
//! tokenizer's public API once, at [`DecodeRules::probe`]. The third rule, `clean_spaces`
//! (some byte-level BPE vocabularies), needs look-behind over emitted text; a vocabulary that
//! uses it is rejected by the probe rather than printed differently. Bytes are written raw:
//! a UTF-8 character split over two tokens arrives whole after the second, exactly as the host
//! prints it for valid UTF-8 (the host replaces invalid sequences by U+FFFD, the MCU does not).

use emberlm::tokenizer::{DecodeOptions, Tokenizer, attr};

/// How pieces are joined, probed from the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeRules {
    /// The first token's leading space is dropped (`add_space_prefix`).
    pub lstrip_first: bool,
}

/// Why a tokenizer cannot be detokenized without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanSpacesUnsupported;

const OPTS: DecodeOptions = DecodeOptions { remove_special: false, unparse_special: false };

impl DecodeRules {
    /// Read the rules off `tok` by decoding probe sequences through the runtime's
    /// `llama_detokenize` (allocates transiently: call at init).
    pub fn probe(tok: &Tokenizer) -> Result<Self, CleanSpacesUnsupported> {
        let n = tok.n_tokens() as u32;
        let normal = |id: &u32| tok.vocab().token_attr(*id).is_some_and(|a| a & attr::NORMAL != 0);
        let find = |f: &dyn Fn(&[u8]) -> bool| {
            (0..n).filter(normal).find(|&id| tok.token_to_piece(id).is_ok_and(|p| !p.is_empty() && f(p)))
        };
        let lstrip_first = match find(&|p| p[0] == b' ' && p.len() > 1) {
            Some(id) => {
                let piece = tok.token_to_piece(id).unwrap_or_default();
                tok.decode(&[id], OPTS).is_ok_and(|d| d.len() + 1 == piece.len())
            }
            None => false,
        };
        // clean_spaces turns " ." into "." across tokens.
        let word = find(&|p| p.iter().all(u8::is_ascii_alphabetic));
        let space = find(&|p| p == b" ");
        let dot = find(&|p| p == b".");
        if let (Some(w), Some(s), Some(d)) = (word, space, dot) {
            let joined: usize =
                [w, s, d].iter().map(|&id| tok.token_to_piece(id).map_or(0, <[u8]>::len)).sum();
            let got = tok.decode(&[w, s, d], OPTS).map_or(0, |v| v.len());
            if got + 1 == joined {
                return Err(CleanSpacesUnsupported);
            }
        }
        Ok(Self { lstrip_first })
    }
}

/// Streams token pieces; see the module docs.
#[derive(Debug)]
pub struct PieceDecoder<'t> {
    tok: &'t Tokenizer,
    strip_next: bool,
}

impl<'t> PieceDecoder<'t> {
    /// A decoder at the start of a text.
    pub fn new(tok: &'t Tokenizer, rules: DecodeRules) -> Self {
        Self { tok, strip_next: rules.lstrip_first }
    }

    /// The bytes `id` adds to the text (empty for control/unknown tokens and unknown ids).
    pub fn piece(&mut self, id: u32) -> &'t [u8] {
        let tok: &'t Tokenizer = self.tok;
        let Ok(p) = tok.token_to_piece(id) else { return &[] };
        let strip = core::mem::take(&mut self.strip_next);
        if tok.vocab().token_attr(id).is_some_and(|a| a & (attr::UNKNOWN | attr::CONTROL) != 0) {
            return &[];
        }
        if strip && p.first() == Some(&b' ') { &p[1..] } else { p }
    }
}
