//! `emberlm run -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [-c CTX] [--beams B] ...`:
//! continue a prompt, streaming the text to stdout; timings to stderr. With `--beams B` the
//! continuation is the best hypothesis of a beam search of width B instead (printed once found).
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use emberlm::sampler::{BeamParams, beam_search_session};
use emberlm::tokenizer::{DecodeOptions, Tokenizer};
use emberlm::{Model, Session};

use crate::sampling::{SamplingArgs, SessionArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the GGUF model.
    #[arg(short = 'm', long = "model")]
    model: PathBuf,
    /// The prompt (special-token text such as `<|im_start|>` is parsed as special tokens).
    #[arg(short = 'p', long = "prompt")]
    prompt: String,
    /// Tokens to generate (at most; generation also stops at an end-of-generation token).
    #[arg(short = 'n', long = "n-predict", default_value_t = 128)]
    n_predict: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
    #[command(flatten)]
    session: SessionArgs,
    /// Beam search with this many beams instead of sampling (the sampler flags are then
    /// ignored); prints the most likely continuation once the search ends.
    #[arg(long)]
    beams: Option<usize>,
    /// Beam search length penalty alpha: hypotheses are ranked by sum(log p) / length^alpha
    /// (0 favours short endings, larger values longer ones).
    #[arg(long = "length-penalty", default_value_t = 1.0, requires = "beams")]
    length_penalty: f64,
    /// Attention sinks (StreamingLLM): when the context is full, keep the first S tokens, drop
    /// half of the rest (the oldest) and go on generating (default: stop at a full context).
    #[arg(long = "sinks", conflicts_with = "beams")]
    sinks: Option<usize>,
}

struct Loaded<'m, 'a> {
    model: &'m Model<'a>,
    tok: &'m Tokenizer,
    prompt: Vec<u32>,
    n_ctx: usize,
}

pub fn run(args: &Args) -> Result<(), String> {
    let t_load = Instant::now();
    let path = args.model.display().to_string();
    let file = crate::platform::open_weights(&args.model)?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let model = Model::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let tok = Tokenizer::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let n_ctx = args.session.n_ctx(&model);
    let prompt = tok.encode(&args.prompt, true, true).map_err(|e| e.to_string())?;
    if prompt.is_empty() {
        return Err("the prompt is empty".into());
    }
    if prompt.len() >= n_ctx {
        return Err(format!("the prompt is {} tokens, the context only {n_ctx} (raise -c)", prompt.len()));
    }
    if args.length_penalty.is_nan() {
        return Err("--length-penalty must be a number".into());
    }
    let l = Loaded { model: &model, tok: &tok, prompt, n_ctx };
    match args.beams {
        Some(0) => Err("--beams must be at least 1".into()),
        Some(width) => beams(args, &l, width, t_load),
        None => sample(args, &l, t_load),
    }
}

fn sample(args: &Args, l: &Loaded<'_, '_>, t_load: Instant) -> Result<(), String> {
    let (model, tok, prompt, n_ctx) = (l.model, l.tok, &l.prompt, l.n_ctx);
    let mut session = Session::new(model, args.session.options(n_ctx)).map_err(|e| e.to_string())?;
    let load_ms = t_load.elapsed().as_secs_f64() * 1e3;
    let mut sampler = args.sampling.chain(model)?;
    for &t in prompt {
        sampler.accept(t);
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| e.to_string();
    out.write_all(args.prompt.as_bytes()).map_err(io)?;
    out.flush().map_err(io)?;

    let t_prefill = Instant::now();
    let mut logits = session.prefill(prompt).map_err(|e| e.to_string())?;
    let prefill_s = t_prefill.elapsed().as_secs_f64();

    let mut decoder = tok.stream_decoder(DecodeOptions { remove_special: false, unparse_special: false });
    let t_decode = Instant::now();
    let mut n_gen = 0;
    let mut n_steps = 0;
    let mut stopped_by_context = false;
    let mut n_shifts = 0usize;
    while n_gen < args.n_predict {
        let next = sampler.sample(logits).map_err(|e| e.to_string())?;
        n_gen += 1;
        if tok.vocab().is_eog(next) {
            break;
        }
        out.write_all(decoder.push_text(next).map_err(|e| e.to_string())?.as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
        if n_gen == args.n_predict {
            break;
        }
        if session.n_past() >= session.n_ctx() {
            match args.sinks {
                Some(keep) if keep < session.n_past() => {
                    let discard = ((session.n_past() - keep) / 2).max(1);
                    session.shift(keep, discard).map_err(|e| e.to_string())?;
                    n_shifts += 1;
                }
                _ => {
                    stopped_by_context = true;
                    break;
                }
            }
        }
        logits = session.decode_step(next).map_err(|e| e.to_string())?;
        n_steps += 1;
    }
    out.write_all(decoder.finish_text().as_bytes()).map_err(io)?;
    writeln!(out).map_err(io)?;
    drop(out);
    let decode_s = t_decode.elapsed().as_secs_f64();
    if stopped_by_context {
        eprintln!(
            "emberlm: the context of {n_ctx} tokens is full; stopped (raise -c, or keep going with --sinks 4)"
        );
    }
    if n_shifts > 0 {
        eprintln!(
            "emberlm: the context was full {n_shifts} times; kept {} sink tokens each time",
            args.sinks.unwrap_or(0)
        );
    }
    eprintln!(
        "load {load_ms:.0} ms | prefill {} tokens, {:.1} tokens/s | decode {n_steps} steps, {:.1} tokens/s | \
         kernels {} | threads {} | sampler {}",
        prompt.len(),
        prompt.len() as f64 / prefill_s,
        n_steps as f64 / decode_s,
        model.kernels().tier,
        session.n_threads(),
        sampler.describe()
    );
    Ok(())
}

fn beams(args: &Args, l: &Loaded<'_, '_>, width: usize, t_load: Instant) -> Result<(), String> {
    let (model, tok, prompt) = (l.model, l.tok, &l.prompt);
    // Every beam holds a KV cache: size them for this prompt and continuation only (the last
    // generated token is never run).
    let room = l.n_ctx - prompt.len() + 1;
    let max_tokens = args.n_predict.min(room);
    if max_tokens == 0 {
        println!("{}", args.prompt);
        return Ok(());
    }
    let n_ctx = (prompt.len() + max_tokens.saturating_sub(1)).max(1);
    let mut session = Session::new(model, args.session.options(n_ctx)).map_err(|e| e.to_string())?;
    let load_ms = t_load.elapsed().as_secs_f64() * 1e3;
    let eos: Vec<u32> = (0..tok.vocab().len() as u32).filter(|&t| tok.vocab().is_eog(t)).collect();
    let params = BeamParams { width, max_tokens, length_penalty: args.length_penalty, eos };

    let t_search = Instant::now();
    let result = beam_search_session(&mut session, prompt, &params).map_err(|e| e.to_string())?;
    let search_s = t_search.elapsed().as_secs_f64();
    let best = result.best().ok_or("the beam search found no hypothesis")?;

    let mut decoder = tok.stream_decoder(DecodeOptions { remove_special: false, unparse_special: false });
    let mut text = args.prompt.clone();
    for &t in best.tokens.iter().filter(|&&t| !tok.vocab().is_eog(t)) {
        text.push_str(decoder.push_text(t).map_err(|e| e.to_string())?);
    }
    text.push_str(decoder.finish_text());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| e.to_string())?;
    drop(out);
    if max_tokens < args.n_predict {
        eprintln!("emberlm: the context of {} tokens is full; stopped (raise -c)", l.n_ctx);
    }
    eprintln!(
        "load {load_ms:.0} ms | beam search: {width} beams, length penalty {}, {} tokens ({}), sum log-prob {:.4}, \
         score {:.4} | {} hypotheses | {} steps, {} KV copies, {:.1} steps/s | kernels {} | threads {}",
        args.length_penalty,
        best.tokens.len(),
        if best.finished { "ended" } else { "length limit" },
        best.sum_logprob,
        best.score,
        result.hypotheses.len(),
        result.steps,
        result.copies,
        result.steps as f64 / search_s,
        model.kernels().tier,
        session.n_threads(),
    );
    Ok(())
}
