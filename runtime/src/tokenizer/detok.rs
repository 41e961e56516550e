//! Detokenization: llama.cpp's `llama_detokenize` and a streaming decoder that yields the same
//! text in whole UTF-8 characters.

use alloc::string::String;
use alloc::vec::Vec;

use super::vocab::{Vocab, attr};
use super::{Special, Tokenizer, TokenizerError};

/// Options of [`Tokenizer::decode`] (`llama_detokenize`'s flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Drop a leading BOS / trailing EOS when the model adds them (`remove_special`).
    pub remove_special: bool,
    /// Render control and unknown tokens as their text (`unparse_special`); otherwise they
    /// produce nothing.
    pub unparse_special: bool,
}

impl Default for DecodeOptions {
    /// `common_detokenize(ctx, tokens, special = true)`: keep everything, render specials.
    fn default() -> Self {
        Self { remove_special: false, unparse_special: true }
    }
}

/// `token_to_piece(id, lstrip, special)`.
fn piece(vocab: &Vocab, id: u32, lstrip: bool, special: bool) -> Result<&[u8], TokenizerError> {
    let p = vocab.piece(id).ok_or(TokenizerError::TokenOutOfRange(id))?;
    if !special && vocab.attrs[id as usize] & (attr::UNKNOWN | attr::CONTROL) != 0 {
        return Ok(&[]);
    }
    Ok(if lstrip && p.first() == Some(&b' ') { &p[1..] } else { p })
}

/// `llama_detokenize`.
pub(crate) fn detokenize(
    vocab: &Vocab,
    mut ids: &[u32],
    opts: DecodeOptions,
) -> Result<Vec<u8>, TokenizerError> {
    let mut remove_space = vocab.add_space_prefix;
    if opts.remove_special && vocab.add_bos && !ids.is_empty() && Some(ids[0]) == vocab.special(Special::Bos)
    {
        remove_space = false;
        ids = &ids[1..];
    }
    if opts.remove_special
        && vocab.add_eos
        && ids.last().is_some_and(|&l| Some(l) == vocab.special(Special::Eos))
    {
        ids = &ids[..ids.len() - 1];
    }
    let mut out = Vec::new();
    for &id in ids {
        out.extend_from_slice(piece(vocab, id, remove_space, opts.unparse_special)?);
        remove_space = false;
    }
    if vocab.clean_spaces {
        clean_spaces(&mut out);
    }
    Ok(out)
}

/// The three `clean_spaces` passes of `llama_detokenize`, in place.
fn clean_spaces(text: &mut Vec<u8>) {
    // " ?", " !", " .", " ,"
    let n = text.len();
    let mut total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            total -= 1;
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
    // " ' " -> "'"
    let n = text.len();
    let mut total = usize::from(n > 0);
    let mut i = 1;
    while i < n {
        let x = text[i];
        if x == b'\'' && i + 1 < n && text[i - 1] == b' ' && text[i + 1] == b' ' {
            total -= 1;
            // llama.cpp overwrites the skipped space with NUL, which later lookbehinds see
            i += 1;
            text[i] = 0;
        }
        text[total] = x;
        total += 1;
        i += 1;
    }
    text.truncate(total);
    // " 's", " 'm", " 're", " 've"
    let n = text.len();
    let mut total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && x == b'\'' && i + 1 < n {
            let x1 = text[i + 1];
            if x1 == b's' || x1 == b'm' {
                total -= 1;
            } else if !matches!(x1, b't' | b'd') && i + 2 < n {
                let x2 = text[i + 2];
                if matches!((x1, x2), (b'r' | b'v', b'e')) {
                    total -= 1;
                }
            }
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
}

/// Decodes ids one at a time into text, emitting only complete UTF-8 characters.
///
/// The concatenation of everything [`StreamDecoder::push_text`] and
/// [`StreamDecoder::finish_text`] return (or [`StreamDecoder::push`] and
/// [`StreamDecoder::finish`]) equals `String::from_utf8_lossy(&tokenizer.decode(ids, opts))`:
/// a character whose bytes are split across tokens is emitted whole once its last byte
/// arrives; an invalid sequence becomes U+FFFD as soon as it cannot be completed any more,
/// and an incomplete sequence still pending at the end becomes one U+FFFD.
///
/// [`StreamDecoder::push_text`] returns text borrowed from a buffer the decoder reuses, so
/// once its buffers have grown to the longest piece, decoding allocates nothing.
#[derive(Debug)]
pub struct StreamDecoder<'t> {
    tok: &'t Tokenizer,
    opts: DecodeOptions,
    /// ids seen so far
    seen: usize,
    /// a held-back EOS (dropped if the stream ends on it and `remove_special` applies)
    held_eos: Option<u32>,
    remove_space: bool,
    /// raw detokenized bytes not yet through `clean_spaces` (prefixed with one byte of
    /// already-emitted context when `ctx`)
    raw: Vec<u8>,
    ctx: bool,
    /// cleaned bytes not yet emitted because they end in an incomplete character
    utf8: Vec<u8>,
    /// scratch of `clean_spaces`
    chunk: Vec<u8>,
    /// the text of the last `push_text` / `finish_text`
    text: String,
}

impl<'t> StreamDecoder<'t> {
    /// A decoder for `tok` with `llama_detokenize`'s options.
    pub fn new(tok: &'t Tokenizer, opts: DecodeOptions) -> Self {
        Self {
            tok,
            opts,
            seen: 0,
            held_eos: None,
            remove_space: tok.vocab().add_space_prefix,
            raw: Vec::new(),
            ctx: false,
            utf8: Vec::new(),
            chunk: Vec::new(),
            text: String::new(),
        }
    }

    /// Adds one token; returns the text that became complete (possibly empty) in a new
    /// `String`. [`StreamDecoder::push_text`] does the same without allocating.
    pub fn push(&mut self, id: u32) -> Result<String, TokenizerError> {
        self.push_text(id).map(String::from)
    }

    /// Ends the stream; returns the remaining text.
    pub fn finish(mut self) -> String {
        self.finish_text();
        core::mem::take(&mut self.text)
    }

    /// Adds one token; returns the text that became complete (possibly empty), borrowed from
    /// the decoder's reused buffer (valid until the next call).
    pub fn push_text(&mut self, id: u32) -> Result<&str, TokenizerError> {
        self.text.clear();
        let v = self.tok.vocab();
        if (id as usize) >= v.len() {
            return Err(TokenizerError::TokenOutOfRange(id));
        }
        let first = self.seen == 0;
        self.seen += 1;
        if self.opts.remove_special && v.add_bos && first && Some(id) == v.special(Special::Bos) {
            self.remove_space = false;
            return Ok("");
        }
        if let Some(eos) = self.held_eos.take() {
            self.append(eos)?;
        }
        if self.opts.remove_special && v.add_eos && Some(id) == v.special(Special::Eos) {
            self.held_eos = Some(id);
            return Ok("");
        }
        self.append(id)?;
        self.flush(false);
        Ok(&self.text)
    }

    /// Ends the stream and returns the remaining text (borrowed like
    /// [`StreamDecoder::push_text`]'s). The decoder then starts a new stream, as if new.
    pub fn finish_text(&mut self) -> &str {
        self.text.clear();
        // a held EOS is the last token: remove_special drops it
        self.held_eos = None;
        self.flush(true);
        self.seen = 0;
        self.remove_space = self.tok.vocab().add_space_prefix;
        self.raw.clear();
        self.ctx = false;
        self.utf8.clear();
        &self.text
    }

    fn append(&mut self, id: u32) -> Result<(), TokenizerError> {
        let p = piece(self.tok.vocab(), id, self.remove_space, self.opts.unparse_special)?;
        self.remove_space = false;
        self.raw.extend_from_slice(p);
        Ok(())
    }

    /// Move what is complete into `self.text` (appended).
    fn flush(&mut self, end: bool) {
        if self.tok.vocab().clean_spaces {
            // clean_spaces patterns start with a space and span at most 4 bytes: cut after
            // the last position with 3 non-space bytes before it
            let lo = usize::from(self.ctx);
            let cut = if end {
                self.raw.len()
            } else {
                (lo + 3..=self.raw.len())
                    .rev()
                    .find(|&c| self.raw[c - 3..c].iter().all(|&b| b != b' '))
                    .unwrap_or(0)
            };
            if cut > lo {
                self.chunk.clear();
                self.chunk.extend_from_slice(&self.raw[..cut]);
                clean_spaces(&mut self.chunk);
                // the context byte is a non-space and is kept first
                self.utf8.extend_from_slice(&self.chunk[lo..]);
                let keep = self.raw[cut - 1];
                self.raw.drain(..cut);
                self.raw.insert(0, keep);
                self.ctx = true;
            }
        } else {
            self.utf8.append(&mut self.raw);
        }
        let out = &mut self.text;
        let mut i = 0;
        loop {
            match core::str::from_utf8(&self.utf8[i..]) {
                Ok(s) => {
                    out.push_str(s);
                    i = self.utf8.len();
                    break;
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    out.push_str(core::str::from_utf8(&self.utf8[i..i + good]).unwrap_or_default());
                    i += good;
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{FFFD}');
                            i += n;
                        }
                        None if end => {
                            out.push('\u{FFFD}');
                            i = self.utf8.len();
                            break;
                        }
                        None => break,
                    }
                }
            }
        }
        self.utf8.drain(..i);
    }
}

#[cfg(test)]
mod tests {
    use super::clean_spaces;
    use alloc::vec::Vec;

    fn clean(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        clean_spaces(&mut v);
        v
    }

    #[test]
    fn clean_spaces_passes() {
        assert_eq!(clean("a , b ."), b"a, b.");
        assert_eq!(clean("a ' b"), b"a'b");
        assert_eq!(clean("it 's we 're I 'll don 't"), b"it's we're I 'll don 't");
        assert_eq!(clean(" ?"), b"?");
        assert_eq!(clean("a ' ' b"), b"a'' b");
    }
}
