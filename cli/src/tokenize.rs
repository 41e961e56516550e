//! `emberlm tokenize -m MODEL (-p TEXT | -f FILE) [--ids] [--no-bos] [--parse-special]`.
use std::path::PathBuf;

use emberlm::models::MappedFile;
use emberlm::tokenizer::Tokenizer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the GGUF model (only its vocabulary is read).
    #[arg(short = 'm', long = "model")]
    model: PathBuf,
    /// The text to tokenize.
    #[arg(short = 'p', long = "prompt", conflicts_with = "file", required_unless_present = "file")]
    prompt: Option<String>,
    /// A file whose contents to tokenize.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Print only the ids, as `[1, 2, 3]` (llama-tokenize --ids).
    #[arg(long)]
    ids: bool,
    /// Do not add BOS (or EOS) even if the model asks for it.
    #[arg(long)]
    no_bos: bool,
    /// Parse special-token text (`<|im_start|>`, ...) in the input as special tokens.
    #[arg(long)]
    parse_special: bool,
}

pub fn run(args: &Args) -> Result<(), String> {
    let path = args.model.display().to_string();
    let text = match (&args.prompt, &args.file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?,
        (None, None) => return Err("give the text with -p or a file with -f".into()),
    };
    let file = MappedFile::open(&args.model).map_err(|e| format!("{path}: {e}"))?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let tok = Tokenizer::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let ids = tok.encode(&text, !args.no_bos, args.parse_special).map_err(|e| e.to_string())?;
    if args.ids {
        let list: Vec<String> = ids.iter().map(u32::to_string).collect();
        println!("[{}]", list.join(", "));
    } else {
        for &id in &ids {
            let piece = tok.token_to_piece(id).map_err(|e| e.to_string())?;
            println!("{id:6} -> '{}'", String::from_utf8_lossy(piece));
        }
    }
    Ok(())
}
