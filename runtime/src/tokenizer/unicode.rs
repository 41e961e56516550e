//! Code point classification and UTF-8 helpers with llama.cpp's exact semantics
//! (`src/unicode.cpp`): its flag table, its lenient UTF-8 decoder and the GPT-2 byte<->unicode
//! mapping used by byte-level BPE.

use alloc::vec::Vec;

use super::unicode_table::CPT_RANGES;

/// `\p{N}`
pub(crate) const NUMBER: u16 = 0x0002;
/// `\p{L}`
pub(crate) const LETTER: u16 = 0x0004;
/// `\p{M}`
pub(crate) const ACCENT_MARK: u16 = 0x0010;
/// `\p{P}`
pub(crate) const PUNCTUATION: u16 = 0x0020;
/// `\p{S}`
#[cfg(test)]
pub(crate) const SYMBOL: u16 = 0x0040;
/// The category bits (exactly one is set for every code point below 0x110000).
pub(crate) const MASK_CATEGORIES: u16 = 0x00FF;
/// `\s`
pub(crate) const WHITESPACE: u16 = 0x0100;
/// llama.cpp's `UNDEFINED` category, also used for code points past U+10FFFF.
pub(crate) const UNDEFINED: u16 = 0x0001;

/// Flags of a code point, as llama.cpp's `unicode_cpt_flags_from_cpt` (category + whitespace).
/// Never zero: zero is reserved for "outside the segment" in the splitters.
pub(crate) fn cpt_flags(cpt: u32) -> u16 {
    if cpt >= 0x11_0000 {
        return UNDEFINED;
    }
    // last entry whose start <= cpt
    let idx = CPT_RANGES.partition_point(|&e| (e >> 9) <= cpt);
    (CPT_RANGES[idx - 1] & 0x1FF) as u16
}

/// `unicode_len_utf8`: the sequence length announced by a lead byte (continuation bytes: 1).
pub(crate) fn utf8_len(lead: u8) -> usize {
    const LOOKUP: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    LOOKUP[(lead >> 4) as usize] as usize
}

/// `unicode_cpts_from_utf8`: lenient decoding; each invalid byte becomes U+FFFD.
pub(crate) fn cpts_from_utf8(s: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    let cont = |b: u8| b & 0xC0 == 0x80;
    while i < s.len() {
        let b0 = s[i];
        let (cpt, n) = if b0 & 0x80 == 0 {
            (u32::from(b0), 1)
        } else if b0 & 0x40 == 0 {
            (0xFFFD, 0)
        } else if b0 & 0x20 == 0 {
            if i + 1 < s.len() && cont(s[i + 1]) {
                ((u32::from(b0 & 0x1F) << 6) | u32::from(s[i + 1] & 0x3F), 2)
            } else {
                (0xFFFD, 0)
            }
        } else if b0 & 0x10 == 0 {
            if i + 2 < s.len() && cont(s[i + 1]) && cont(s[i + 2]) {
                let c = (u32::from(b0 & 0x0F) << 12)
                    | (u32::from(s[i + 1] & 0x3F) << 6)
                    | u32::from(s[i + 2] & 0x3F);
                (c, 3)
            } else {
                (0xFFFD, 0)
            }
        } else if b0 & 0x08 == 0 {
            if i + 3 < s.len() && cont(s[i + 1]) && cont(s[i + 2]) && cont(s[i + 3]) {
                let c = (u32::from(b0 & 0x07) << 18)
                    | (u32::from(s[i + 1] & 0x3F) << 12)
                    | (u32::from(s[i + 2] & 0x3F) << 6)
                    | u32::from(s[i + 3] & 0x3F);
                (c, 4)
            } else {
                (0xFFFD, 0)
            }
        } else {
            (0xFFFD, 0)
        };
        out.push(cpt);
        // n == 0: invalid, skip one byte
        i += n.max(1);
    }
    out
}

/// `unicode_cpt_to_utf8` (no surrogate check, like llama.cpp). Code points past U+10FFFF
/// cannot come out of [`cpts_from_utf8`]; they are written as U+FFFD.
pub(crate) fn push_utf8(cpt: u32, out: &mut Vec<u8>) {
    if cpt <= 0x7F {
        out.push(cpt as u8);
    } else if cpt <= 0x7FF {
        out.extend_from_slice(&[0xC0 | ((cpt >> 6) & 0x1F) as u8, 0x80 | (cpt & 0x3F) as u8]);
    } else if cpt <= 0xFFFF {
        out.extend_from_slice(&[
            0xE0 | ((cpt >> 12) & 0x0F) as u8,
            0x80 | ((cpt >> 6) & 0x3F) as u8,
            0x80 | (cpt & 0x3F) as u8,
        ]);
    } else if cpt <= 0x10_FFFF {
        out.extend_from_slice(&[
            0xF0 | ((cpt >> 18) & 0x07) as u8,
            0x80 | ((cpt >> 12) & 0x3F) as u8,
            0x80 | ((cpt >> 6) & 0x3F) as u8,
            0x80 | (cpt & 0x3F) as u8,
        ]);
    } else {
        out.extend_from_slice("\u{FFFD}".as_bytes());
    }
}

/// GPT-2's byte -> code point mapping (`unicode_byte_to_utf8_map`): printable Latin-1 bytes
/// map to themselves, the others to U+0100.. in byte order.
pub(crate) fn byte_to_cpt(b: u8) -> u32 {
    let printable = |c: u8| matches!(c, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable(b) {
        return u32::from(b);
    }
    let n = (0..b).filter(|&c| !printable(c)).count() as u32;
    256 + n
}

/// Inverse of [`byte_to_cpt`] (`unicode_utf8_to_byte`).
pub(crate) fn cpt_to_byte(cpt: u32) -> Option<u8> {
    match cpt {
        0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF => Some(cpt as u8),
        0x100..=0x143 => (0u8..=255)
            .filter(|&c| !matches!(c, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF))
            .nth((cpt - 256) as usize),
        _ => None,
    }
}

/// Table form of [`byte_to_cpt`] (hot path of the byte-level BPE pre-tokenizer).
pub(crate) fn byte_to_cpt_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (b, slot) in t.iter_mut().enumerate() {
        *slot = byte_to_cpt(b as u8);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_mapping_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(cpt_to_byte(byte_to_cpt(b)), Some(b));
        }
        assert_eq!(byte_to_cpt(b' '), 0x120); // 'Ġ'
        assert_eq!(byte_to_cpt(b'\n'), 0x10A); // 'Ċ'
        assert_eq!(cpt_to_byte(0x144), None);
    }

    #[test]
    fn ascii_classes_match_llama_collapsed_regex_sets() {
        // unicode_regex_split's k_ucat_map hard-codes the ASCII members of \p{N} \p{L} \p{P} \p{S};
        // the table must agree so the collapsed-regex path and the custom splitters coincide.
        for c in 0u32..128 {
            let f = cpt_flags(c) & MASK_CATEGORIES;
            let ch = c as u8;
            assert_eq!(f == NUMBER, ch.is_ascii_digit(), "{c:#x}");
            assert_eq!(f == LETTER, ch.is_ascii_alphabetic(), "{c:#x}");
            let p = b"!\"#%&'()*,-./:;?@[\\]_{}".contains(&ch);
            assert_eq!(f == PUNCTUATION, p, "{c:#x}");
            let s = b"$+<=>^`|~".contains(&ch);
            assert_eq!(f == SYMBOL, s, "{c:#x}");
            let ws = matches!(ch, 9..=13 | b' ');
            assert_eq!(cpt_flags(c) & WHITESPACE != 0, ws, "{c:#x}");
        }
    }

    #[test]
    fn classes_of_some_code_points() {
        assert_eq!(cpt_flags('é' as u32) & MASK_CATEGORIES, LETTER);
        assert_eq!(cpt_flags('中' as u32) & MASK_CATEGORIES, LETTER);
        assert_eq!(cpt_flags('٣' as u32) & MASK_CATEGORIES, NUMBER);
        assert_eq!(cpt_flags(0x301) & MASK_CATEGORIES, ACCENT_MARK);
        assert_eq!(cpt_flags('😀' as u32) & MASK_CATEGORIES, SYMBOL);
        assert_ne!(cpt_flags(0x3000) & WHITESPACE, 0);
        assert_ne!(cpt_flags(0xA0) & WHITESPACE, 0);
        assert_eq!(cpt_flags(0x11_0000), UNDEFINED);
    }

    #[test]
    fn lenient_decoder_replaces_each_bad_byte() {
        assert_eq!(cpts_from_utf8("aé😀".as_bytes()), [0x61, 0xE9, 0x1F600]);
        assert_eq!(cpts_from_utf8(&[0x80, b'a', 0xE2, 0x82]), [0xFFFD, 0x61, 0xFFFD, 0xFFFD]);
        let mut v = Vec::new();
        for c in [0x61, 0xE9, 0x20AC, 0x1F600] {
            push_utf8(c, &mut v);
        }
        assert_eq!(v, "aé€😀".as_bytes());
    }
}
