//! Token pieces: the bytes a token stands for (llama.cpp's `token_to_piece` with
//! `special = true`, as it caches them).

use alloc::vec::Vec;

use super::unicode::{cpt_to_byte, cpts_from_utf8, push_utf8};
use super::vocab::{VocabType, attr};

/// llama.cpp's `token_to_piece(token, special = true)` without lstrip.
pub(crate) fn piece_for_cache(kind: VocabType, text: &[u8], a: u16, out: &mut Vec<u8>) {
    if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
        out.extend_from_slice(text);
    } else if a & attr::NORMAL != 0 {
        match kind {
            VocabType::Spm => unescape_whitespace(text, out),
            VocabType::Bpe => decode_bpe_text(text, out),
        }
    } else if a & attr::BYTE != 0 {
        out.push(token_to_byte(text));
    }
    // other types (unused, undefined) have an empty piece
}

/// `▁` -> ` `
fn unescape_whitespace(text: &[u8], out: &mut Vec<u8>) {
    const ESC: &[u8] = "\u{2581}".as_bytes();
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(ESC) {
            out.push(b' ');
            i += ESC.len();
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
}

/// `llama_decode_text`: GPT-2 byte-level code points back to bytes.
fn decode_bpe_text(text: &[u8], out: &mut Vec<u8>) {
    for cpt in cpts_from_utf8(text) {
        match cpt_to_byte(cpt) {
            Some(b) => out.push(b),
            None => {
                let mut utf8 = Vec::new();
                push_utf8(cpt, &mut utf8);
                out.extend_from_slice(b"[UNK_BYTE_0x");
                for b in utf8 {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
                }
                out.extend_from_slice(text);
                out.push(b']');
            }
        }
    }
}

/// `token_to_byte`: `strtol(text.substr(3, 2), 16)`.
fn token_to_byte(text: &[u8]) -> u8 {
    let digits = text.get(3..text.len().min(5)).unwrap_or_default();
    let mut v: u32 = 0;
    for &c in digits {
        match (c as char).to_digit(16) {
            Some(d) => v = v * 16 + d,
            None => break,
        }
    }
    v as u8
}
