//! `emberlm run -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [-c CTX] ...`: continue a prompt,
//! streaming the text to stdout; timings to stderr.
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use emberlm::models::MappedFile;
use emberlm::sampler::{SamplerChain, SamplerParams};
use emberlm::tokenizer::{DecodeOptions, Tokenizer};
use emberlm::{KvType, Model, Session, SessionOptions};

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
    /// Context size (default: the model's training context, at most 4096).
    #[arg(short = 'c', long = "ctx-size")]
    ctx: Option<usize>,
    /// Temperature; 0 is greedy decoding.
    #[arg(long, default_value_t = 0.8)]
    temp: f32,
    /// Seed of the sampler's random draw.
    #[arg(long, default_value_t = emberlm::sampler::DEFAULT_SEED)]
    seed: u64,
    /// Keep the K most likely tokens (0: all).
    #[arg(long = "top-k", default_value_t = 40)]
    top_k: usize,
    /// Keep the most likely tokens up to this probability mass (1.0: all).
    #[arg(long = "top-p", default_value_t = 0.95)]
    top_p: f32,
    /// Drop tokens less likely than this fraction of the most likely one (0: off).
    #[arg(long = "min-p", default_value_t = 0.05)]
    min_p: f32,
    /// Penalty for tokens repeated in the last --repeat-last-n tokens (1.0: off).
    #[arg(long = "repeat-penalty", default_value_t = 1.0)]
    repeat_penalty: f32,
    /// Window of the repetition penalty.
    #[arg(long = "repeat-last-n", default_value_t = 64)]
    repeat_last_n: usize,
    /// Threads (0: one per core).
    #[arg(short = 't', long = "threads", default_value_t = 1)]
    threads: usize,
    /// KV cache type.
    #[arg(long = "cache-type", value_parser = ["f16", "f32", "q8_0"], default_value = "f16")]
    cache_type: String,
    /// Attention sinks (StreamingLLM): when the context is full, keep the first S tokens, drop
    /// half of the rest (the oldest) and go on generating (default: stop at a full context).
    #[arg(long = "sinks")]
    sinks: Option<usize>,
}

pub fn run(args: &Args) -> Result<(), String> {
    let t_load = Instant::now();
    let path = args.model.display().to_string();
    let file = MappedFile::open(&args.model).map_err(|e| format!("{path}: {e}"))?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let model = Model::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let tok = Tokenizer::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let n_ctx = args.ctx.unwrap_or_else(|| model.config().n_ctx_train.clamp(1, 4096));
    let kv_type = KvType::from_name(&args.cache_type).unwrap_or_default();
    let mut session = Session::new(
        &model,
        SessionOptions { n_ctx, kv_type, n_threads: args.threads, ..Default::default() },
    )
    .map_err(|e| e.to_string())?;
    let load_ms = t_load.elapsed().as_secs_f64() * 1e3;

    let prompt = tok.encode(&args.prompt, true, true).map_err(|e| e.to_string())?;
    if prompt.is_empty() {
        return Err("the prompt is empty".into());
    }
    if prompt.len() >= n_ctx {
        return Err(format!("the prompt is {} tokens, the context only {n_ctx} (raise -c)", prompt.len()));
    }
    let mut sampler = SamplerChain::from_params(&SamplerParams {
        temp: args.temp,
        top_k: args.top_k,
        top_p: args.top_p,
        min_p: args.min_p,
        repeat_penalty: args.repeat_penalty,
        penalty_last_n: args.repeat_last_n,
        seed: args.seed,
        ..SamplerParams::default()
    });
    for &t in &prompt {
        sampler.accept(t);
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| e.to_string();
    out.write_all(args.prompt.as_bytes()).map_err(io)?;
    out.flush().map_err(io)?;

    let t_prefill = Instant::now();
    let mut logits = session.prefill(&prompt).map_err(|e| e.to_string())?;
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
        out.write_all(decoder.push(next).map_err(|e| e.to_string())?.as_bytes()).map_err(io)?;
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
    out.write_all(decoder.finish().as_bytes()).map_err(io)?;
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
