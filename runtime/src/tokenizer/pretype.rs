//! What each `tokenizer.ggml.pre` name selects (llama.cpp's `tokenizer_pre` chain in
//! `llama_vocab::impl::load`): the split regexes and the flags the name sets.

use super::TokenizerError;
use super::pretokenize::PreSplit;

/// Pre-tokenizer names llama.cpp knows but whose regexes this crate does not implement.
const KNOWN_UNSUPPORTED_PRE: &[&str] = &[
    "minicpm5",
    "deepseek-v3",
    "spark2_5",
    "youtu",
    "jais-2",
    "gemma4",
    "granite-embed-multi-311m",
    "sarvam-moe",
    "whitespace",
    "poro-chat",
    "chatglm-bpe",
    "glm4",
    "glm5",
    "viking",
    "tekken",
    "bloom",
    "gpt3-finnish",
    "exaone-moe",
    "chameleon",
    "gpt-4o",
    "llama4",
    "kanana2",
    "talkie",
    "granite-embed-multi-97m",
    "tiny_aya",
    "cohere2moe",
    "superbpe",
    "bailingmoe",
    "bailingmoe2",
    "llada-moe",
    "seed-coder",
    "hunyuan-dense",
    "hy_v4",
    "joyai-llm",
    "kimi-k2",
    "ufakzeka",
    "grok-2",
    "afmoe",
    "laguna",
    "minimax-m2",
];

/// Flags a pre-tokenizer name sets (llama.cpp's `tokenizer_pre` chain).
pub(crate) struct PreInfo {
    pub(crate) split: PreSplit,
    pub(crate) clean_spaces: bool,
    pub(crate) ignore_merges: bool,
    pub(crate) add_bos: bool,
    pub(crate) add_sep: bool,
}

pub(crate) fn pre_info(pre: &str) -> Result<PreInfo, TokenizerError> {
    let mut info = PreInfo {
        split: PreSplit::Default,
        clean_spaces: true,
        ignore_merges: false,
        add_bos: false,
        add_sep: false,
    };
    let (split, clean) = match pre {
        "" | "default" => (PreSplit::Default, true),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0" | "lfm2"
        | "jina-v5-nano" => {
            info.ignore_merges = true;
            info.add_bos = true;
            (PreSplit::Llama3, true)
        }
        "deepseek-llm" => (PreSplit::DeepseekLlm, false),
        "deepseek-coder" => (PreSplit::DeepseekCoder, false),
        "falcon" => (PreSplit::Falcon, true),
        "mpt" | "olmo" | "jais" | "exaone4" => (PreSplit::Gpt2, true),
        "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
            (PreSplit::Starcoder, true)
        }
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de" | "a.x-4.0"
        | "mellum" | "modern-bert" => (PreSplit::Gpt2, true),
        "jina-v1-en" | "jina-v2-code" | "roberta-bpe" => {
            info.add_sep = true;
            (PreSplit::Gpt2, true)
        }
        "command-r" | "smollm" => (PreSplit::Starcoder, false),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "solar-open" => {
            (PreSplit::Qwen2, false)
        }
        "stablelm2" | "megrez" => (PreSplit::Qwen2, true),
        "qwen35" => (PreSplit::Qwen35, false),
        "dbrx" | "smaug-bpe" => (PreSplit::Llama3, true),
        "trillion" | "granite-docling" => (PreSplit::Gpt2, false),
        other if KNOWN_UNSUPPORTED_PRE.contains(&other) => {
            return Err(TokenizerError::UnsupportedPreTokenizer(other.into()));
        }
        other => return Err(TokenizerError::UnknownPreTokenizer(other.into())),
    };
    info.split = split;
    info.clean_spaces = clean;
    Ok(info)
}

impl core::fmt::Debug for PreInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PreInfo({:?})", self.split)
    }
}
