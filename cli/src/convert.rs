//! `emberlm convert`: other checkpoint formats to GGUF.
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use emberlm::convert::llama2c::{self, Llama2cConfig, WeightType};
use indicatif::ProgressBar;

use crate::progress;

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
    /// No progress bars.
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TypeArg {
    F32,
    #[value(name = "q8_0")]
    Q8_0,
}

/// Read a file in 4 MiB pieces, advancing `pb` (bytes).
fn read_with(path: &Path, pb: &ProgressBar) -> Result<Vec<u8>, String> {
    let name = path.display().to_string();
    let mut f = File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let len = f.metadata().map_err(|e| format!("{name}: {e}"))?.len();
    pb.set_length(len);
    pb.set_message(format!("reading {}", file_name(path)));
    let mut out = Vec::new();
    out.try_reserve_exact(len as usize).map_err(|_| format!("{name}: {len} bytes do not fit in memory"))?;
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("{name}: {e}"))?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        pb.inc(n as u64);
    }
}

/// Write `bytes` in 4 MiB pieces, advancing `pb` (bytes).
fn write_with(path: &Path, bytes: &[u8], pb: &ProgressBar) -> Result<(), String> {
    let name = path.display().to_string();
    let mut f = File::create(path).map_err(|e| format!("{name}: {e}"))?;
    pb.set_length(bytes.len() as u64);
    pb.set_position(0);
    pb.set_message(format!("writing {}", file_name(path)));
    for piece in bytes.chunks(4 << 20) {
        f.write_all(piece).map_err(|e| format!("{name}: {e}"))?;
        pb.inc(piece.len() as u64);
    }
    f.flush().map_err(|e| format!("{name}: {e}"))
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Run `emberlm convert`.
pub fn run(args: &Args) -> Result<(), String> {
    match &args.format {
        Format::Llama2c(a) => {
            let ty = match a.ty {
                TypeArg::F32 => WeightType::F32,
                TypeArg::Q8_0 => WeightType::Q8_0,
            };
            // progress on stderr only in a terminal and without --quiet (see progress.rs)
            let pb = progress::bar(0, true, a.quiet);
            let model = read_with(&a.model, &pb)?;
            let tokenizer = read_with(&a.tokenizer, &pb)?;
            pb.finish_and_clear();
            let spin = progress::spinner(format!("converting to {ty:?}"), a.quiet);
            let gguf = llama2c::convert(&model, &tokenizer, ty).map_err(|e| e.to_string())?;
            spin.finish_and_clear();
            let c = Llama2cConfig::parse(&model).map_err(|e| format!("{}: {e}", a.model.display()))?;
            let pb = progress::bar(0, true, a.quiet);
            write_with(&a.output, &gguf, &pb)?;
            pb.finish_and_clear();
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
