//! llama2.c checkpoints (`model.bin` + `tokenizer.bin`) to llama GGUF files, with the metadata,
//! tensor names, layouts and vocabulary processing of llama.cpp's
//! `examples/convert-llama2c-to-ggml`.
//!
//! llama2.c's checkpoint: 7 little-endian `i32` (`dim, hidden_dim, n_layers, n_heads,
//! n_kv_heads, vocab_size, seq_len`; a negative `vocab_size` means a separate classifier), then
//! f32 weights: `token_embedding[vocab][dim]`, `rms_att[L][dim]`, `wq[L][dim][dim]`,
//! `wk[L][kv_dim][dim]`, `wv[L][kv_dim][dim]`, `wo[L][dim][dim]`, `rms_ffn[L][dim]`,
//! `w1[L][hidden][dim]`, `w2[L][dim][hidden]`, `w3[L][hidden][dim]`, `rms_final[dim]`,
//! `freq_cis_real/imag[seq_len][head_size/2]` (unused), then `wcls[vocab][dim]` if not shared.
//! Every matrix is row-major `[out][in]`, which is ggml's `[in, out]` memory order: the data is
//! copied unchanged. llama2.c's RoPE rotates adjacent pairs, which is ggml's NORM mode (what
//! the llama architecture uses), so unlike HF checkpoints `wq`/`wk` need no permutation.
//!
//! The tokenizer: `i32 max_token_length`, then per token `f32 score, i32 len, len bytes`.
//!
//! Differences from llama.cpp's converter, both deliberate: `llama.context_length` is the
//! checkpoint's `seq_len` (llama.cpp writes its `--ctx` option, default 128), and
//! `llama.rope.dimension_count` is the head size (llama.cpp writes `min(64, head_size)`, which
//! differs only for heads wider than 64, where llama.cpp itself then refuses the file).

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use std::path::Path;

use emberlm_models::GgufWriter;
use emberlm_models::arch::tensor;
use emberlm_quant::formats::f16::F16;
use emberlm_quant::formats::q8_0::Q8_0;
use emberlm_quant::{Format, QuantType};

/// llama.cpp's ids for llama2.c vocabularies.
const UNK_ID: u32 = 0;
const BOS_ID: u32 = 1;
const EOS_ID: u32 = 2;
/// `LLAMA_TOKEN_NULL` (-1) as llama.cpp stores it in a u32 key.
const TOKEN_NULL: u32 = u32::MAX;

/// llama.cpp's `llama_token_type` values.
const TYPE_NORMAL: i32 = 1;
const TYPE_UNKNOWN: i32 = 2;
const TYPE_CONTROL: i32 = 3;
const TYPE_BYTE: i32 = 6;

/// Weight type of the converted matrices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightType {
    /// Unchanged f32 weights.
    #[default]
    F32,
    /// Q8_0 matrices; norms stay f32, and matrices whose rows are not a whole number of 32-value
    /// blocks fall back to f16, as `llama-quantize` does.
    Q8_0,
}

/// The llama2.c checkpoint header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Llama2cConfig {
    pub dim: usize,
    pub hidden_dim: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub vocab_size: usize,
    pub seq_len: usize,
    /// The classifier is the token embedding (positive `vocab_size` in the file).
    pub shared_classifier: bool,
}

impl Llama2cConfig {
    /// Parse and validate the 28-byte header.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConvertError> {
        if bytes.len() < 28 {
            return Err(ConvertError::Truncated { what: "checkpoint header", need: 28, have: bytes.len() });
        }
        let field = |i: usize| -> Result<i32, ConvertError> {
            bytes
                .get(i * 4..i * 4 + 4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(ConvertError::Truncated { what: "checkpoint header", need: 28, have: bytes.len() })
        };
        let names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        let mut v = [0usize; 7];
        let mut shared = true;
        for (i, name) in names.iter().enumerate() {
            let x = field(i)?;
            if i == 5 && x < 0 {
                shared = false;
            }
            let x = x.unsigned_abs() as usize;
            if x == 0 {
                return Err(ConvertError::BadHeader { field: name, why: "is zero" });
            }
            v[i] = x;
        }
        let c = Self {
            dim: v[0],
            hidden_dim: v[1],
            n_layers: v[2],
            n_heads: v[3],
            n_kv_heads: v[4],
            vocab_size: v[5],
            seq_len: v[6],
            shared_classifier: shared,
        };
        if c.dim % c.n_heads != 0 {
            return Err(ConvertError::BadHeader { field: "n_heads", why: "does not divide dim" });
        }
        if c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0 {
            return Err(ConvertError::BadHeader { field: "n_kv_heads", why: "does not divide n_heads" });
        }
        if c.head_size() % 2 != 0 {
            return Err(ConvertError::BadHeader { field: "n_heads", why: "gives an odd head size" });
        }
        Ok(c)
    }

    /// `dim / n_heads`.
    pub fn head_size(&self) -> usize {
        self.dim / self.n_heads
    }

    /// `dim * n_kv_heads / n_heads`.
    pub fn kv_dim(&self) -> usize {
        self.head_size() * self.n_kv_heads
    }

    /// The f32 values after the header a checkpoint with this header holds, or `None` on overflow.
    pub fn n_floats(&self) -> Option<usize> {
        let (d, h, l, v, kv) = (self.dim, self.hidden_dim, self.n_layers, self.vocab_size, self.kv_dim());
        let per_layer = d.checked_mul(2)?.checked_add(d.checked_mul(d)?.checked_mul(2)?)?.checked_add(
            d.checked_mul(kv)?.checked_mul(2)?.checked_add(d.checked_mul(h)?.checked_mul(3)?)?,
        )?;
        let mut n = v.checked_mul(d)?.checked_add(l.checked_mul(per_layer)?)?.checked_add(d)?;
        n = n.checked_add(self.seq_len.checked_mul(self.head_size())?)?;
        if !self.shared_classifier {
            n = n.checked_add(v.checked_mul(d)?)?;
        }
        Some(n)
    }
}

/// Why a conversion failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConvertError {
    /// A file ends early.
    Truncated { what: &'static str, need: usize, have: usize },
    /// A checkpoint longer than its header implies.
    TrailingBytes { what: &'static str, expected: usize, found: usize },
    /// A header field that makes no sense.
    BadHeader { field: &'static str, why: &'static str },
    /// A malformed tokenizer file.
    Tokenizer { token: usize, why: &'static str },
    /// Reading or writing a file.
    Io { path: String, source: std::io::Error },
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { what, need, have } => {
                write!(f, "{what} is truncated: need {need} bytes, have {have}")
            }
            Self::TrailingBytes { what, expected, found } => {
                write!(f, "{what} is {found} bytes, but its header implies {expected}")
            }
            Self::BadHeader { field, why } => write!(f, "llama2.c checkpoint header: {field} {why}"),
            Self::Tokenizer { token, why } => write!(f, "llama2.c tokenizer, token {token}: {why}"),
            Self::Io { path, source } => write!(f, "{path}: {source}"),
        }
    }
}

impl std::error::Error for ConvertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One vocabulary entry as llama.cpp's converter stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct VocabEntry {
    /// Token text, spaces escaped as `▁` (U+2581).
    pub text: Vec<u8>,
    /// SentencePiece score.
    pub score: f32,
    /// `llama_token_type`.
    pub token_type: i32,
}

/// Parse a llama2.c tokenizer of `n_vocab` tokens and apply llama.cpp's converter rules: ids
/// 0/1/2 become `<unk>`/`<s>`/`</s>`, empty texts are control tokens, `<0xNN>` texts are byte
/// tokens, and spaces are escaped as `▁`.
pub fn parse_tokenizer(bytes: &[u8], n_vocab: usize) -> Result<Vec<VocabEntry>, ConvertError> {
    let mut pos = 4usize; // max_token_length, unused
    if bytes.len() < pos {
        return Err(ConvertError::Truncated { what: "tokenizer", need: 4, have: bytes.len() });
    }
    let mut take = |n: usize, token: usize| -> Result<&[u8], ConvertError> {
        let s = bytes.get(pos..pos.saturating_add(n));
        let s = s.ok_or(ConvertError::Tokenizer { token, why: "file ends inside the token" })?;
        pos += n;
        Ok(s)
    };
    let mut vocab = Vec::with_capacity(n_vocab.min(bytes.len() / 8));
    for id in 0..n_vocab {
        let score = f32::from_le_bytes(take(4, id)?.try_into().unwrap_or([0; 4]));
        let len = i32::from_le_bytes(take(4, id)?.try_into().unwrap_or([0; 4]));
        let len = usize::try_from(len)
            .map_err(|_| ConvertError::Tokenizer { token: id, why: "negative length" })?;
        let raw = take(len, id)?;
        let (text, token_type): (Vec<u8>, i32) = match id as u32 {
            UNK_ID => (b"<unk>".to_vec(), TYPE_UNKNOWN),
            BOS_ID => (b"<s>".to_vec(), TYPE_CONTROL),
            EOS_ID => (b"</s>".to_vec(), TYPE_CONTROL),
            _ if raw.is_empty() => (Vec::new(), TYPE_CONTROL),
            // sscanf(text, "<0x%02hhX>") == 1: "<0x" followed by a hex digit
            _ if raw.starts_with(b"<0x") && raw.get(3).is_some_and(u8::is_ascii_hexdigit) => {
                (raw.to_vec(), TYPE_BYTE)
            }
            _ => (raw.to_vec(), TYPE_NORMAL),
        };
        vocab.push(VocabEntry { text: escape_whitespace(&text), score, token_type });
    }
    Ok(vocab)
}

/// llama.cpp's `llama_escape_whitespaces`: every ' ' becomes "▁".
fn escape_whitespace(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        if b == b' ' {
            out.extend_from_slice("\u{2581}".as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// A converted tensor: name, GGUF dims, type and encoded data.
struct OutTensor {
    name: String,
    dims: Vec<u64>,
    ty: QuantType,
    data: Vec<u8>,
}

/// Encode `values` (GGUF dims `dims`) as `ty`'s tensor type for this tensor.
fn encode(name: String, dims: &[usize], values: &[f32], ty: WeightType) -> OutTensor {
    let dims64: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
    let f32_bytes = || values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    if ty == WeightType::F32 || dims.len() < 2 {
        return OutTensor { name, dims: dims64, ty: QuantType::F32, data: f32_bytes() };
    }
    if dims[0] % Q8_0::ELEMS == 0 {
        let mut blocks = vec![bytemuck::Zeroable::zeroed(); values.len() / Q8_0::ELEMS];
        Q8_0::quantize(values, &mut blocks);
        OutTensor { name, dims: dims64, ty: QuantType::Q8_0, data: bytemuck::cast_slice(&blocks).to_vec() }
    } else {
        let mut halves = vec![half::f16::ZERO; values.len()];
        F16::quantize(values, &mut halves);
        OutTensor { name, dims: dims64, ty: QuantType::F16, data: bytemuck::cast_slice(&halves).to_vec() }
    }
}

/// Convert a llama2.c checkpoint and tokenizer (their bytes) into GGUF bytes.
pub fn convert(model: &[u8], tokenizer: &[u8], ty: WeightType) -> Result<Vec<u8>, ConvertError> {
    let c = Llama2cConfig::parse(model)?;
    let n_floats =
        c.n_floats().ok_or(ConvertError::BadHeader { field: "dim", why: "gives a size that overflows" })?;
    let expected = n_floats.checked_mul(4).and_then(|n| n.checked_add(28)).unwrap_or(usize::MAX);
    if model.len() < expected {
        return Err(ConvertError::Truncated { what: "checkpoint", need: expected, have: model.len() });
    }
    if model.len() > expected {
        return Err(ConvertError::TrailingBytes { what: "checkpoint", expected, found: model.len() });
    }
    let floats: Vec<f32> =
        model[28..].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let vocab = parse_tokenizer(tokenizer, c.vocab_size)?;

    // Slice the weights in llama2.c order.
    let (d, h, l, v, kv) = (c.dim, c.hidden_dim, c.n_layers, c.vocab_size, c.kv_dim());
    let mut rest: &[f32] = &floats;
    let mut next = |n: usize| {
        let (a, b) = rest.split_at(n);
        rest = b;
        a
    };
    let tok_embd = next(v * d);
    let rms_att = next(l * d);
    let wq = next(l * d * d);
    let wk = next(l * kv * d);
    let wv = next(l * kv * d);
    let wo = next(l * d * d);
    let rms_ffn = next(l * d);
    let w1 = next(l * h * d);
    let w2 = next(l * d * h);
    let w3 = next(l * h * d);
    let rms_final = next(d);
    let _freq_cis = next(c.seq_len * c.head_size());
    let wcls = if c.shared_classifier { tok_embd } else { next(v * d) };

    // Tensors in llama.cpp's converter order. The classifier is always written as
    // output.weight (a copy of the embedding when shared), as llama.cpp does.
    let mut out = vec![
        encode(tensor::TOKEN_EMBD.to_string(), &[d, v], tok_embd, ty),
        encode(tensor::OUTPUT_NORM.to_string(), &[d], rms_final, ty),
        encode(tensor::OUTPUT.to_string(), &[d, v], wcls, ty),
    ];
    for i in 0..l {
        let n = |base: &str| tensor::layer(i, base);
        out.push(encode(n(tensor::ATTN_Q), &[d, d], &wq[i * d * d..][..d * d], ty));
        out.push(encode(n(tensor::ATTN_K), &[d, kv], &wk[i * kv * d..][..kv * d], ty));
        out.push(encode(n(tensor::ATTN_V), &[d, kv], &wv[i * kv * d..][..kv * d], ty));
        out.push(encode(n(tensor::ATTN_OUTPUT), &[d, d], &wo[i * d * d..][..d * d], ty));
        out.push(encode(n(tensor::ATTN_NORM), &[d], &rms_att[i * d..][..d], ty));
        out.push(encode(n(tensor::FFN_GATE), &[d, h], &w1[i * h * d..][..h * d], ty));
        out.push(encode(n(tensor::FFN_DOWN), &[h, d], &w2[i * d * h..][..d * h], ty));
        out.push(encode(n(tensor::FFN_UP), &[d, h], &w3[i * h * d..][..h * d], ty));
        out.push(encode(n(tensor::FFN_NORM), &[d], &rms_ffn[i * d..][..d], ty));
    }

    let u32_of = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    let mut w = GgufWriter::new();
    w.add_string_array("tokenizer.ggml.tokens", vocab.iter().map(|e| e.text.as_slice()))
        .add_scalar_array("tokenizer.ggml.scores", &vocab.iter().map(|e| e.score).collect::<Vec<f32>>())
        .add_scalar_array(
            "tokenizer.ggml.token_type",
            &vocab.iter().map(|e| e.token_type).collect::<Vec<i32>>(),
        )
        .add_string("tokenizer.ggml.model", "llama")
        .add_string("general.architecture", "llama")
        .add_string("general.name", "llama")
        .add_u32("tokenizer.ggml.unknown_token_id", UNK_ID)
        .add_u32("tokenizer.ggml.bos_token_id", BOS_ID)
        .add_u32("tokenizer.ggml.eos_token_id", EOS_ID)
        .add_u32("tokenizer.ggml.seperator_token_id", TOKEN_NULL)
        .add_u32("tokenizer.ggml.padding_token_id", TOKEN_NULL)
        .add_u32("llama.context_length", u32_of(c.seq_len))
        .add_u32("llama.embedding_length", u32_of(d))
        .add_u32("llama.feed_forward_length", u32_of(h))
        .add_u32("llama.attention.head_count", u32_of(c.n_heads))
        .add_u32("llama.attention.head_count_kv", u32_of(c.n_kv_heads))
        .add_u32("llama.block_count", u32_of(l))
        .add_u32("llama.rope.dimension_count", u32_of(c.head_size()))
        .add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5);
    for t in &out {
        w.add_tensor(&t.name, &t.dims, t.ty, &t.data);
    }
    w.to_bytes().map_err(|source| ConvertError::Io { path: "<gguf>".to_string(), source })
}

/// [`convert`] files: read `model` and `tokenizer`, write the GGUF to `out`. Returns the
/// checkpoint's header.
pub fn convert_files(
    model: &Path,
    tokenizer: &Path,
    out: &Path,
    ty: WeightType,
) -> Result<Llama2cConfig, ConvertError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| ConvertError::Io { path: p.display().to_string(), source })
    };
    let model_bytes = read(model)?;
    let tok_bytes = read(tokenizer)?;
    let gguf = convert(&model_bytes, &tok_bytes, ty)?;
    std::fs::write(out, gguf)
        .map_err(|source| ConvertError::Io { path: out.display().to_string(), source })?;
    Llama2cConfig::parse(&model_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(v: [i32; 7]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn header_validation() {
        assert!(matches!(Llama2cConfig::parse(&[0; 10]), Err(ConvertError::Truncated { .. })));
        let e = Llama2cConfig::parse(&header([64, 172, 5, 8, 3, 512, 512])).unwrap_err();
        assert!(matches!(e, ConvertError::BadHeader { field: "n_kv_heads", .. }), "{e}");
        let e = Llama2cConfig::parse(&header([64, 0, 5, 8, 4, 512, 512])).unwrap_err();
        assert!(matches!(e, ConvertError::BadHeader { field: "hidden_dim", .. }), "{e}");
        let c = Llama2cConfig::parse(&header([64, 172, 5, 8, 4, -512, 512])).unwrap();
        assert!(!c.shared_classifier);
        assert_eq!(c.vocab_size, 512);
        assert_eq!(c.kv_dim(), 32);
    }

    #[test]
    fn truncated_and_oversized_checkpoints_are_errors() {
        let mut m = header([8, 8, 1, 2, 2, 4, 4]);
        let c = Llama2cConfig::parse(&m).unwrap();
        m.resize(28 + c.n_floats().unwrap() * 4 - 1, 0);
        let mut tok = 8i32.to_le_bytes().to_vec();
        for _ in 0..4 {
            tok.extend_from_slice(&0f32.to_le_bytes());
            tok.extend_from_slice(&1i32.to_le_bytes());
            tok.push(b'a');
        }
        assert!(matches!(convert(&m, &tok, WeightType::F32), Err(ConvertError::Truncated { .. })));
        m.resize(28 + c.n_floats().unwrap() * 4 + 1, 0);
        assert!(matches!(convert(&m, &tok, WeightType::F32), Err(ConvertError::TrailingBytes { .. })));
        m.pop();
        assert!(convert(&m, &tok, WeightType::F32).is_ok());
        assert!(matches!(
            convert(&m, &tok[..25], WeightType::F32),
            Err(ConvertError::Tokenizer { token: 2, .. })
        ));
    }

    #[test]
    fn vocabulary_rules_follow_llama_cpp() {
        let mut tok = 8i32.to_le_bytes().to_vec();
        for (score, text) in [
            (0.0f32, &b"x"[..]),
            (0.0, b"\n<s>\n"),
            (0.0, b"y"),
            (-1.0, b"<0x0A>"),
            (-2.0, b" a b"),
            (0.0, b""),
        ] {
            tok.extend_from_slice(&score.to_le_bytes());
            tok.extend_from_slice(&(text.len() as i32).to_le_bytes());
            tok.extend_from_slice(text);
        }
        let v = parse_tokenizer(&tok, 6).unwrap();
        let texts: Vec<&[u8]> = v.iter().map(|e| e.text.as_slice()).collect();
        assert_eq!(texts, [&b"<unk>"[..], b"<s>", b"</s>", b"<0x0A>", "\u{2581}a\u{2581}b".as_bytes(), b""]);
        let types: Vec<i32> = v.iter().map(|e| e.token_type).collect();
        assert_eq!(types, [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL, TYPE_BYTE, TYPE_NORMAL, TYPE_CONTROL]);
        assert_eq!(v[4].score, -2.0);
    }
}
