//! [`Tokenizer::from_gguf`]: reads the `tokenizer.ggml.*` metadata of a GGUF file the way
//! llama.cpp's `llama_vocab::impl::load` does.

use alloc::vec::Vec;

use emberlm_models::{ArrayView, Gguf, Value, ValueType};

use super::vocab::{SPECIAL_KEYS, VocabBuilder};
use super::{Tokenizer, TokenizerError};

const MODEL: &str = "tokenizer.ggml.model";
const PRE: &str = "tokenizer.ggml.pre";
const TOKENS: &str = "tokenizer.ggml.tokens";
const SCORES: &str = "tokenizer.ggml.scores";
const TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
const MERGES: &str = "tokenizer.ggml.merges";

fn string<'a>(g: &Gguf<'a>, key: &'static str) -> Result<Option<&'a str>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or(TokenizerError::WrongType(key)),
    }
}

fn boolean(g: &Gguf<'_>, key: &'static str) -> Result<Option<bool>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or(TokenizerError::WrongType(key)),
    }
}

fn array<'a>(
    g: &Gguf<'a>,
    key: &'static str,
    elem: &[ValueType],
) -> Result<Option<ArrayView<'a>>, TokenizerError> {
    match g.get(key) {
        None => Ok(None),
        Some(Value::Array(a)) if elem.contains(&a.elem_type()) => Ok(Some(a)),
        Some(_) => Err(TokenizerError::WrongType(key)),
    }
}

impl Tokenizer {
    /// Builds the tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
    pub fn from_gguf(g: &Gguf<'_>) -> Result<Tokenizer, TokenizerError> {
        let model = string(g, MODEL)?.ok_or(TokenizerError::MissingKey(MODEL))?;
        let pre = string(g, PRE)?;
        let mut b = VocabBuilder::new(model, pre)?;

        let tokens = array(g, TOKENS, &[ValueType::String])?.ok_or(TokenizerError::MissingKey(TOKENS))?;
        let n = tokens.len();
        let check_len = |key: &'static str, a: &ArrayView<'_>| {
            if a.len() < n {
                Err(TokenizerError::LengthMismatch { key, expected: n, found: a.len() })
            } else {
                Ok(())
            }
        };
        let scores: Option<Vec<f32>> = match array(g, SCORES, &[ValueType::F32, ValueType::I32])? {
            None => None,
            Some(a) => {
                check_len(SCORES, &a)?;
                Some(match a.iter_as::<f32>() {
                    Some(it) => it.collect(),
                    None => a
                        .iter_as::<i32>()
                        .ok_or(TokenizerError::WrongType(SCORES))?
                        .map(|s| s as f32)
                        .collect(),
                })
            }
        };
        let types: Option<Vec<i32>> = match array(g, TOKEN_TYPE, &[ValueType::I32])? {
            None => None,
            Some(a) => {
                check_len(TOKEN_TYPE, &a)?;
                Some(a.iter_as::<i32>().ok_or(TokenizerError::WrongType(TOKEN_TYPE))?.collect())
            }
        };
        let texts = tokens.strings().ok_or(TokenizerError::WrongType(TOKENS))?;
        for (i, text) in texts.enumerate() {
            let score = scores.as_ref().map_or(0.0, |s| s[i]);
            b.push_token(text, score, types.as_ref().map(|t| t[i]));
        }

        if model == "gpt2" {
            let merges = array(g, MERGES, &[ValueType::String])?.ok_or(TokenizerError::MissingKey(MERGES))?;
            for m in merges.strings().ok_or(TokenizerError::WrongType(MERGES))? {
                b.push_merge(m);
            }
        }

        if let Some(v) = boolean(g, "tokenizer.ggml.add_space_prefix")? {
            b.set_add_space_prefix(v);
        }
        for &(key, which) in &SPECIAL_KEYS {
            match g.get(key) {
                None => {}
                Some(v) => b.set_special(which, v.as_u32().ok_or(TokenizerError::WrongType(key))?),
            }
        }
        if let Some(v) = boolean(g, "tokenizer.ggml.add_bos_token")? {
            b.set_add_bos(v);
        }
        if let Some(v) = boolean(g, "tokenizer.ggml.add_eos_token")? {
            b.set_add_eos(v);
        }
        if let Some(v) = boolean(g, "tokenizer.ggml.add_sep_token")? {
            b.set_add_sep(v);
        }
        if let Some(v) = string(g, "general.name")? {
            b.set_general_name(v);
        }
        if let Some(v) = string(g, "general.architecture")? {
            b.set_architecture(v);
        }
        Ok(Tokenizer::new(b.build()?))
    }
}
