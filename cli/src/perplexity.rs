//! `emberlm perplexity -m MODEL -f TEXT [-c CTX] [--json] [--kl-divergence-base FILE [--kl-divergence]]`.
//!
//! The method of llama.cpp's `llama-perplexity`, so the numbers compare: the text is tokenized
//! with the model's special tokens (BOS when the model adds one), cut into non-overlapping windows
//! of `CTX` tokens whose first token is replaced by BOS when the model adds one, each window is
//! run as a fresh sequence and the second half of it is scored. `--kl-divergence-base FILE` also
//! writes llama.cpp's KL base file; with `--kl-divergence` the file is read instead (tokens and
//! context come from it) and the statistics llama-perplexity prints are computed against it.
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use emberlm::eval::{KL_MAGIC, KlDivergence, KlSummary, Perplexity, encode_kl_row, kl_row_len, scored_range};
use emberlm::tokenizer::{Special, Tokenizer};
use emberlm::{KvType, Model, Session, SessionOptions};
use serde_json::json;

use crate::progress;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the GGUF model.
    #[arg(short = 'm', long = "model")]
    model: PathBuf,
    /// The text to evaluate (not needed with --kl-divergence: the tokens come from the base file).
    #[arg(short = 'f', long = "file", required_unless_present = "kl_divergence")]
    file: Option<PathBuf>,
    /// Window (context) size.
    #[arg(short = 'c', long = "ctx-size", default_value_t = 512)]
    ctx: usize,
    /// Tokens per forward pass (at most the window size).
    #[arg(short = 'b', long = "batch-size", default_value_t = 512)]
    batch: usize,
    /// Threads (0: one per core).
    #[arg(short = 't', long = "threads", default_value_t = crate::sampling::default_threads())]
    threads: usize,
    /// Evaluate at most this many windows.
    #[arg(long)]
    chunks: Option<usize>,
    /// KV cache type.
    #[arg(long = "cache-type", value_parser = ["f16", "f32", "q8_0"], default_value = "f16")]
    cache_type: String,
    /// Write (or, with --kl-divergence, read) a llama.cpp KL-divergence base file.
    #[arg(long = "kl-divergence-base")]
    kl_base: Option<PathBuf>,
    /// Compare with the KL base file instead of writing one.
    #[arg(long = "kl-divergence", requires = "kl_base")]
    kl_divergence: bool,
    /// Print one JSON object with the results instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bar and no per-window lines on stderr (the results only).
    #[arg(short = 'q', long)]
    quiet: bool,
}

pub fn run(args: &Args) -> Result<(), String> {
    let path = args.model.display().to_string();
    let file = crate::platform::open_weights(&args.model)?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let model = Model::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let tok = Tokenizer::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let kv_type = KvType::from_name(&args.cache_type).unwrap_or_default();
    let ev = Evaluator { model: &model, tok: &tok, kv_type, batch: args.batch, n_threads: args.threads };
    if args.kl_divergence {
        let base = args.kl_base.as_ref().expect("clap: --kl-divergence requires --kl-divergence-base");
        ev.compare(base, args)
    } else {
        let text_path = args.file.as_ref().expect("clap: -f is required without --kl-divergence");
        let text = std::fs::read_to_string(text_path).map_err(|e| format!("{}: {e}", text_path.display()))?;
        ev.perplexity(&text, args)
    }
}

struct Evaluator<'m, 'a> {
    model: &'m Model<'a>,
    tok: &'m Tokenizer,
    kv_type: KvType,
    batch: usize,
    n_threads: usize,
}

impl Evaluator<'_, '_> {
    fn session(&self, n_ctx: usize) -> Result<Session<'_, '_>, String> {
        let opts = SessionOptions {
            n_ctx,
            n_batch: self.batch.clamp(1, n_ctx),
            kv_type: self.kv_type,
            n_threads: self.n_threads,
        };
        Session::new(self.model, opts).map_err(|e| e.to_string())
    }

    /// The logits of positions `n_ctx/2 ..` of one window, run as a fresh sequence; the first
    /// token is replaced by BOS when the model adds one.
    fn window_logits(&self, s: &mut Session<'_, '_>, window: &[u32], out: &mut [f32]) -> Result<(), String> {
        let mut input = window.to_vec();
        if self.tok.vocab().add_bos()
            && let Some(bos) = self.tok.vocab().special(Special::Bos)
        {
            input[0] = bos;
        }
        s.reset();
        s.prefill_logits(&input, window.len() / 2, out).map_err(|e| e.to_string())
    }

    fn perplexity(&self, text: &str, args: &Args) -> Result<(), String> {
        let n_ctx = args.ctx;
        let tokens = self.tok.encode(text, true, false).map_err(|e| e.to_string())?;
        if n_ctx < 4 || tokens.len() < 2 * n_ctx {
            return Err(format!(
                "the text tokenizes to {} tokens; a context of {n_ctx} needs at least {} (and -c at least 4)",
                tokens.len(),
                2 * n_ctx
            ));
        }
        let n_chunk = args.chunks.map_or(tokens.len() / n_ctx, |c| c.min(tokens.len() / n_ctx));
        let n_vocab = self.model.config().n_vocab;
        let first = n_ctx / 2;
        let mut writer = match &args.kl_base {
            Some(p) => {
                let mut w = BufWriter::new(File::create(p).map_err(|e| format!("{}: {e}", p.display()))?);
                let io = |e: std::io::Error| format!("{}: {e}", p.display());
                w.write_all(KL_MAGIC).map_err(io)?;
                for v in [n_ctx as i32, n_vocab as i32, n_chunk as i32] {
                    w.write_all(&v.to_le_bytes()).map_err(io)?;
                }
                for &t in &tokens[..n_chunk * n_ctx] {
                    w.write_all(&(t as i32).to_le_bytes()).map_err(io)?;
                }
                Some(w)
            }
            None => None,
        };
        let mut s = self.session(n_ctx)?;
        let mut logits = vec![0f32; (n_ctx - first) * n_vocab];
        let mut row = vec![0u16; kl_row_len(n_vocab)];
        let mut row_bytes = Vec::with_capacity(row.len() * 2);
        let mut ppl = Perplexity::default();
        let pb = progress::bar(n_chunk as u64, false, args.quiet);
        pb.set_message(format!("perplexity, {n_chunk} windows of {n_ctx}"));
        let t0 = Instant::now();
        for c in 0..n_chunk {
            let window = &tokens[c * n_ctx..(c + 1) * n_ctx];
            self.window_logits(&mut s, window, &mut logits)?;
            for (i, pos) in scored_range(n_ctx).enumerate() {
                let l = &logits[i * n_vocab..(i + 1) * n_vocab];
                let next = window[pos + 1] as usize;
                match &mut writer {
                    Some(w) => {
                        ppl.add_nll(encode_kl_row(l, next, &mut row));
                        row_bytes.clear();
                        row_bytes.extend(row.iter().flat_map(|v| v.to_le_bytes()));
                        w.write_all(&row_bytes).map_err(|e| e.to_string())?;
                    }
                    None => ppl.add(l, next),
                }
            }
            pb.inc(1);
            if !pb.is_hidden() {
                pb.set_message(format!("PPL {:.4} after {} windows", ppl.ppl().0, c + 1));
            } else if !args.json && !args.quiet {
                // llama-perplexity's running estimate
                eprint!("[{}]{:.4},", c + 1, ppl.ppl().0);
            }
        }
        pb.finish_and_clear();
        if let Some(mut w) = writer {
            w.flush().map_err(|e| e.to_string())?;
        }
        let secs = t0.elapsed().as_secs_f64();
        let (value, unc) = ppl.ppl();
        if args.json {
            let j = json!({"n_ctx": n_ctx, "n_chunk": n_chunk, "n_tokens": tokens.len(), "count": ppl.count,
                "ppl": value, "ppl_uncertainty": unc, "seconds": secs,
                "tokens_per_second": (n_chunk * n_ctx) as f64 / secs});
            println!("{j}");
        } else {
            if !args.quiet && pb.is_hidden() {
                eprintln!();
            }
            println!("Final estimate: PPL = {value:.4} +/- {unc:.5}");
            if !args.quiet {
                eprintln!(
                    "perplexity: {n_chunk} windows of {n_ctx} tokens in {secs:.1} s ({:.1} tokens/s)",
                    (n_chunk * n_ctx) as f64 / secs
                );
            }
        }
        Ok(())
    }

    fn compare(&self, base: &PathBuf, args: &Args) -> Result<(), String> {
        let name = base.display().to_string();
        let io = |e: std::io::Error| format!("{name}: {e}");
        let mut r = BufReader::with_capacity(1 << 20, File::open(base).map_err(io)?);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(io)?;
        if &magic != KL_MAGIC {
            return Err(format!("{name}: not a llama.cpp KL-divergence base file (no _logits_ tag)"));
        }
        let mut read_i32 = |what: &str| -> Result<i32, String> {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(|e| format!("{name}: reading {what}: {e}"))?;
            Ok(i32::from_le_bytes(b))
        };
        let (n_ctx, n_vocab, n_chunk) = (read_i32("n_ctx")?, read_i32("n_vocab")?, read_i32("n_chunk")?);
        let model_vocab = self.model.config().n_vocab;
        if n_ctx < 4 || n_chunk < 1 || n_vocab as usize != model_vocab {
            return Err(format!(
                "{name}: n_ctx {n_ctx}, n_vocab {n_vocab}, n_chunk {n_chunk} do not fit this model (n_vocab {model_vocab})"
            ));
        }
        let (n_ctx, n_chunk) = (n_ctx as usize, n_chunk as usize);
        let mut tok_bytes = vec![0u8; n_ctx * n_chunk * 4];
        r.read_exact(&mut tok_bytes).map_err(|e| format!("{name}: reading the tokens: {e}"))?;
        let tokens: Vec<u32> =
            tok_bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= model_vocab) {
            return Err(format!("{name}: token {bad} is outside the vocabulary"));
        }
        let n_use = args.chunks.map_or(n_chunk, |c| c.min(n_chunk));
        let first = n_ctx / 2;
        let nv = kl_row_len(model_vocab);
        let rows = scored_range(n_ctx).len();
        let mut s = self.session(n_ctx)?;
        let mut logits = vec![0f32; (n_ctx - first) * model_vocab];
        let mut base_bytes = vec![0u8; rows * nv * 2];
        let mut base_rows = vec![0u16; rows * nv];
        let mut kl = KlDivergence::default();
        let pb = progress::bar(n_use as u64, false, args.quiet);
        pb.set_message(format!("KL divergence, {n_use} windows of {n_ctx}"));
        let t0 = Instant::now();
        for c in 0..n_use {
            r.read_exact(&mut base_bytes)
                .map_err(|e| format!("{name}: reading the log-probs of window {c}: {e}"))?;
            for (v, b) in base_rows.iter_mut().zip(base_bytes.chunks_exact(2)) {
                *v = u16::from_le_bytes([b[0], b[1]]);
            }
            let window = &tokens[c * n_ctx..(c + 1) * n_ctx];
            self.window_logits(&mut s, window, &mut logits)?;
            for (i, pos) in scored_range(n_ctx).enumerate() {
                let l = &logits[i * model_vocab..(i + 1) * model_vocab];
                kl.add(l, &base_rows[i * nv..(i + 1) * nv], window[pos + 1] as usize);
            }
            pb.inc(1);
            if !args.json && !args.quiet {
                let sm = kl.summary().ok_or("no positions compared")?;
                let line = format!(
                    "{:4}  PPL {:9.4}  KLD {:9.5}  same top {:6.2} %",
                    c + 1,
                    sm.ppl.0,
                    sm.kld.0,
                    100.0 * sm.same_top.0
                );
                // above the bar when it is drawn
                if pb.is_hidden() { eprintln!("{line}") } else { pb.println(line) }
            }
        }
        pb.finish_and_clear();
        let secs = t0.elapsed().as_secs_f64();
        let sm = kl.summary().ok_or("no positions compared")?;
        if args.json {
            println!("{}", summary_json(&sm, n_ctx, n_use, secs));
        } else {
            print!("{}", summary_text(&sm));
        }
        Ok(())
    }
}

fn summary_json(s: &KlSummary, n_ctx: usize, n_chunk: usize, secs: f64) -> serde_json::Value {
    let est = |e: (f64, f64)| json!({"value": e.0, "uncertainty": e.1});
    json!({
        "n_ctx": n_ctx, "n_chunk": n_chunk, "count": s.count, "seconds": secs,
        "ppl": est(s.ppl), "ppl_base": est(s.ppl_base), "ppl_correlation": s.ppl_correlation,
        "ln_ppl_ratio": est(s.ln_ppl_ratio), "ppl_ratio": est(s.ppl_ratio), "ppl_diff": est(s.ppl_diff),
        "kld": est(s.kld),
        "kld_percentiles": {"max": s.kld_percentiles[0], "99.9": s.kld_percentiles[1], "99": s.kld_percentiles[2],
            "95": s.kld_percentiles[3], "90": s.kld_percentiles[4], "median": s.kld_percentiles[5],
            "10": s.kld_percentiles[6], "5": s.kld_percentiles[7], "1": s.kld_percentiles[8],
            "0.1": s.kld_percentiles[9], "min": s.kld_percentiles[10]},
        "p_diff": est(s.p_diff), "p_diff_rms": est(s.p_diff_rms), "same_top": est(s.same_top),
    })
}

/// The closing statistics in llama-perplexity's words and layout.
fn summary_text(s: &KlSummary) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "====== Perplexity statistics ======");
    let _ = writeln!(w, "Mean PPL(Q)                   : {:10.6} ± {:10.6}", s.ppl.0, s.ppl.1);
    let _ = writeln!(w, "Mean PPL(base)                : {:10.6} ± {:10.6}", s.ppl_base.0, s.ppl_base.1);
    let _ = writeln!(w, "Cor(ln(PPL(Q)), ln(PPL(base))): {:6.2}%", 100.0 * s.ppl_correlation);
    let _ =
        writeln!(w, "Mean ln(PPL(Q)/PPL(base))     : {:10.6} ± {:10.6}", s.ln_ppl_ratio.0, s.ln_ppl_ratio.1);
    let _ = writeln!(w, "Mean PPL(Q)/PPL(base)         : {:10.6} ± {:10.6}", s.ppl_ratio.0, s.ppl_ratio.1);
    let _ = writeln!(w, "Mean PPL(Q)-PPL(base)         : {:10.6} ± {:10.6}", s.ppl_diff.0, s.ppl_diff.1);
    let _ = writeln!(w, "\n====== KL divergence statistics ======");
    let _ = writeln!(w, "Mean    KLD: {:10.6} ± {:10.6}", s.kld.0, s.kld.1);
    let names = [
        "Maximum", "99.9%  ", "99.0%  ", "95.0%  ", "90.0%  ", "Median ", "10.0%  ", " 5.0%  ", " 1.0%  ",
        " 0.1%  ", "Minimum",
    ];
    for (n, v) in names.iter().zip(s.kld_percentiles) {
        let _ = writeln!(w, "{n} KLD: {v:10.6}");
    }
    let _ = writeln!(w, "\n====== Token probability statistics ======");
    let _ = writeln!(w, "Mean    Δp: {:6.3} ± {:5.3} %", 100.0 * s.p_diff.0, 100.0 * s.p_diff.1);
    let names = [
        "Maximum", "99.9%  ", "99.0%  ", "95.0%  ", "90.0%  ", "75.0%  ", "Median ", "25.0%  ", "10.0%  ",
        " 5.0%  ", " 1.0%  ", " 0.1%  ", "Minimum",
    ];
    for (n, v) in names.iter().zip(s.p_diff_percentiles) {
        let _ = writeln!(w, "{n} Δp: {:6.3}%", 100.0 * v);
    }
    let _ = writeln!(w, "RMS Δp    : {:6.3} ± {:5.3} %", 100.0 * s.p_diff_rms.0, 100.0 * s.p_diff_rms.1);
    let _ = writeln!(w, "Same top p: {:6.3} ± {:5.3} %", 100.0 * s.same_top.0, 100.0 * s.same_top.1);
    o
}
