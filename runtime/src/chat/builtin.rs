//! Built-in named chat templates, for `--chat-template NAME` and for models without one.
//!
//! Each is the model family's Hugging Face `chat_template` text, verbatim where the
//! provenance says so, and renders byte-identically to `transformers`' `apply_chat_template`
//! (see `runtime/tests/fixtures/chat/`).

/// (name, provenance, Jinja source)
pub(crate) const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "chatml",
        "plain ChatML (<|im_start|>role ... <|im_end|>), as llama.cpp's fallback",
        include_str!("templates/chatml.jinja"),
    ),
    (
        "smollm2",
        "HuggingFaceTB/SmolLM2-*-Instruct (ChatML with a default system prompt)",
        include_str!("templates/smollm2.jinja"),
    ),
    ("qwen2", "Qwen/Qwen2.5-7B-Instruct (ChatML with tools)", include_str!("templates/qwen2.jinja")),
    ("qwen3", "Qwen/Qwen3-0.6B (ChatML with tools and <think>)", include_str!("templates/qwen3.jinja")),
    ("gemma", "google/gemma-3-*-it", include_str!("templates/gemma.jinja")),
    ("llama3", "meta-llama/Meta-Llama-3-8B-Instruct", include_str!("templates/llama3.jinja")),
    (
        "llama3.1",
        "meta-llama/Llama-3.1-8B-Instruct (tools, knowledge-date header)",
        include_str!("templates/llama3.1.jinja"),
    ),
    (
        "llama3.2",
        "meta-llama/Llama-3.2-3B-Instruct (uses strftime_now for the date)",
        include_str!("templates/llama3.2.jinja"),
    ),
    (
        "mistral",
        "mistralai/Mistral-7B-Instruct v1 template with a system prompt ([INST] ... [/INST])",
        include_str!("templates/mistral.jinja"),
    ),
    (
        "mistral-nemo",
        "mistralai/Mistral-Nemo-Instruct-2407 (v3-tekken)",
        include_str!("templates/mistral-nemo.jinja"),
    ),
];

/// Aliases accepted by [`lookup`].
const ALIASES: &[(&str, &str)] = &[
    ("qwen", "qwen2"),
    ("qwen2.5", "qwen2"),
    ("gemma3", "gemma"),
    ("llama-3", "llama3"),
    ("mistral-v1", "mistral"),
];

/// The source of a built-in template by name or alias (ASCII case-insensitive).
pub(crate) fn lookup(name: &str) -> Option<(&'static str, &'static str)> {
    let lower = name.to_ascii_lowercase();
    let canonical = ALIASES.iter().find(|(a, _)| *a == lower).map_or(lower.as_str(), |(_, c)| c);
    BUILTIN.iter().find(|(n, _, _)| *n == canonical).map(|(n, _, src)| (*n, *src))
}
