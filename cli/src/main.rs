//! `emberlm`: the command-line tool.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod chat;
mod convert;
mod fetch;
mod info;
mod perplexity;
mod platform;
mod progress;
mod quantize;
mod run;
mod sampling;
mod tokenize;

#[derive(Parser, Debug)]
#[command(
    name = "emberlm",
    version,
    about = "Quantized LLM inference for desktops, Raspberry Pis and microcontrollers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Chat with a model (the default model is fetched on first use).
    Chat(chat::Args),
    /// Describe a GGUF model: architecture, hyper-parameters, tensors, sizes, KV-cache needs.
    Info(info::Args),
    /// Convert another checkpoint format to GGUF (llama2c).
    Convert(convert::Args),
    /// Continue a prompt, streaming the text (llama.cpp-style flags).
    Run(run::Args),
    /// Tokenize text with a model's vocabulary, as llama-tokenize does.
    Tokenize(tokenize::Args),
    /// Perplexity of a text, and KL divergence against a llama.cpp KL base file.
    Perplexity(perplexity::Args),
    /// Quantize a GGUF model to another type (llama-quantize's rules and mixes).
    Quantize(quantize::Args),
    /// Prompt-processing and generation speed, as llama-bench measures it (plus peak RSS and
    /// the share of the memory-bandwidth roofline).
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Chat(args) => chat::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Tokenize(args) => tokenize::run(&args),
        Command::Perplexity(args) => perplexity::run(&args),
        Command::Quantize(args) => quantize::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emberlm: error: {e}");
            ExitCode::FAILURE
        }
    }
}
