//! `emberlm`: the command-line tool.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod convert;
mod info;
mod perplexity;
mod run;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Tokenize(args) => tokenize::run(&args),
        Command::Perplexity(args) => perplexity::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("emberlm: error: {e}");
            ExitCode::FAILURE
        }
    }
}
