//! `emberlm convert`: other checkpoint formats to GGUF.
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use emberlm::convert::llama2c::{self, WeightType};

/// `emberlm convert <FORMAT> ...`
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    format: Format,
}

#[derive(Subcommand, Debug)]
enum Format {
    /// A llama2.c checkpoint (`model.bin`) and tokenizer (`tokenizer.bin`) to a llama GGUF, as
    /// llama.cpp's convert-llama2c-to-ggml writes it.
    Llama2c(Llama2cArgs),
}

#[derive(clap::Args, Debug)]
struct Llama2cArgs {
    /// The llama2.c checkpoint (e.g. stories260K.bin).
    #[arg(long)]
    model: PathBuf,
    /// The llama2.c tokenizer (e.g. tok512.bin).
    #[arg(long)]
    tokenizer: PathBuf,
    /// The GGUF file to write.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Weight type of the matrices (norms stay f32).
    #[arg(long = "type", value_enum, default_value_t = TypeArg::F32)]
    ty: TypeArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TypeArg {
    F32,
    #[value(name = "q8_0")]
    Q8_0,
}

/// Run `emberlm convert`.
pub fn run(args: &Args) -> Result<(), String> {
    match &args.format {
        Format::Llama2c(a) => {
            let ty = match a.ty {
                TypeArg::F32 => WeightType::F32,
                TypeArg::Q8_0 => WeightType::Q8_0,
            };
            let c =
                llama2c::convert_files(&a.model, &a.tokenizer, &a.output, ty).map_err(|e| e.to_string())?;
            println!(
                "wrote {}: llama, dim {}, {} layers, {} heads ({} kv), ff {}, vocab {}, context {}, {:?} weights",
                a.output.display(),
                c.dim,
                c.n_layers,
                c.n_heads,
                c.n_kv_heads,
                c.hidden_dim,
                c.vocab_size,
                c.seq_len,
                ty
            );
            Ok(())
        }
    }
}
