//! Converters from other checkpoint formats to GGUF (`std`).

pub mod llama2c;
