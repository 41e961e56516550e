//! `emberlm bench -m MODEL [-p 512] [-n 128] [-d 0] [-t 1,2] [-r 5] [--json]`: prompt processing (pp)
//! and text generation (tg) speed measured the way `llama-bench` measures them, so the two
//! tables compare line by line.
//!
//! As llama-bench: every test runs in a fresh session sized `n_depth + n_prompt + n_gen`, once untimed
//! (warm-up) and then `-r` times; pp feeds `n_prompt` random tokens (BOS first when the model adds
//! one) in batches of `-b` and computes the logits of the last one; tg feeds `n_gen` single tokens
//! (BOS, then random ones) from an empty context. With a depth `-d D`, every repetition first
//! fills the context with `D` random prompt tokens, untimed (computed once and then restored from
//! a saved session state, as llama-bench does; the peak RSS then includes that copy of the
//! cache), and the test is labelled `tg128 @ dD`. Speeds are the mean and sample standard
//! deviation of the per-repetition tokens/s.
//!
//! Beside llama-bench's numbers: the peak RSS (VmHWM), and for tg the effective weight bandwidth
//! (bytes of the weight matrices read per generated token × tokens/s) as a share of the memory
//! bandwidth measured at start-up with a plain read of a large buffer on the same threads.
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use emberlm::matmul::activation_type;
use emberlm::quant::{Kernels, Tier};
use emberlm::tokenizer::{Special, Tokenizer};
use emberlm::{KvType, Model, Session, SessionOptions};
use serde_json::{Value, json};

use crate::platform;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the GGUF model.
    #[arg(short = 'm', long = "model")]
    model: PathBuf,
    /// Prompt lengths to test (comma-separated; 0 skips pp).
    #[arg(short = 'p', long = "n-prompt", value_delimiter = ',', default_value = "512")]
    n_prompt: Vec<usize>,
    /// Generation lengths to test (comma-separated; 0 skips tg).
    #[arg(short = 'n', long = "n-gen", value_delimiter = ',', default_value = "128")]
    n_gen: Vec<usize>,
    /// Context depths to test at (comma-separated): tokens already in the context, untimed,
    /// before each pp or tg test.
    #[arg(short = 'd', long = "n-depth", value_delimiter = ',', default_value = "0")]
    n_depth: Vec<usize>,
    /// Thread counts to test (comma-separated; default: one per physical core, or the
    /// Raspberry Pi's policy on aarch64 Linux).
    #[arg(short = 't', long = "threads", value_delimiter = ',')]
    threads: Vec<usize>,
    /// Timed repetitions per test.
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    reps: usize,
    /// Prompt tokens per forward pass.
    #[arg(short = 'b', long = "batch-size", default_value_t = 512)]
    batch: usize,
    /// Print a JSON array of test objects (llama-bench's `-o json` fields) instead of a table.
    #[arg(long)]
    json: bool,
    /// Skip the memory-bandwidth measurement (no GB/s share of the roofline).
    #[arg(long = "no-roofline")]
    no_roofline: bool,
    /// KV cache type.
    #[arg(long = "cache-type", value_parser = ["f16", "f32", "q8_0"], default_value = "f16")]
    cache_type: String,
}

/// One test: a (pp or tg) length at a thread count.
struct TestResult {
    n_prompt: usize,
    n_gen: usize,
    n_depth: usize,
    n_threads: usize,
    samples_ns: Vec<u64>,
    /// Memory bandwidth (bytes/s) measured with `n_threads` threads, if measured.
    bandwidth: Option<f64>,
}

impl TestResult {
    fn n_tokens(&self) -> usize {
        self.n_prompt + self.n_gen
    }

    fn samples_ts(&self) -> Vec<f64> {
        self.samples_ns.iter().map(|&ns| self.n_tokens() as f64 * 1e9 / ns.max(1) as f64).collect()
    }
}

/// Mean and sample standard deviation (0 for fewer than two values), as llama-bench computes them.
fn mean_stddev(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len() - 1) as f64;
    (mean, var.sqrt())
}

/// The process's peak resident set (VmHWM), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Reset VmHWM to the current RSS (Linux `clear_refs` 5), so the bandwidth buffer is not counted.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Read bandwidth in bytes/s: `n_threads` threads streaming disjoint parts of a 512 MiB buffer
/// (far beyond any last-level cache) through the `f32` dot kernel of the tier the model uses
/// (`x.x`: each byte is read from memory once, with the widest loads that tier has: plain
/// scalar or SSE2 loops read ~25 % slower than AVX2 ones here, which would overstate the share of
/// the roofline), best of 5 passes.
fn measure_bandwidth(n_threads: usize, kernels: &Kernels) -> f64 {
    const BYTES: usize = 512 << 20;
    let buf = vec![1f32; BYTES / 4]; // written: every page is touched before timing
    let n = n_threads.max(1);
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let total: f32 = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(buf.len().div_ceil(n))
                .map(|part| s.spawn(move || (kernels.dot_f32)(part, part)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
        });
        black_box(total);
        best = best.max(BYTES as f64 / t.elapsed().as_secs_f64());
    }
    best
}

/// llama-bench's random token source: a fixed-seed generator, so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn token(&mut self, n_vocab: usize) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n_vocab as u64) as u32
    }
}

struct Bench<'m, 'a> {
    model: &'m Model<'a>,
    bos: Option<u32>,
    batch: usize,
    kv_type: KvType,
}

impl Bench<'_, '_> {
    fn session(&self, n_ctx: usize, n_threads: usize) -> Result<Session<'_, '_>, String> {
        let opts = SessionOptions {
            n_ctx: n_ctx.max(1),
            n_batch: self.batch.clamp(1, n_ctx.max(1)),
            kv_type: self.kv_type,
            n_threads,
        };
        Session::new(self.model, opts).map_err(|e| e.to_string())
    }

    /// `n` random tokens, BOS first when the model adds one and `bos_first`.
    fn tokens(&self, n: usize, bos_first: bool, rng: &mut Rng) -> Vec<u32> {
        let n_vocab = self.model.config().n_vocab;
        let mut v: Vec<u32> = (0..n).map(|_| rng.token(n_vocab)).collect();
        if let (Some(first), Some(bos), true) = (v.first_mut(), self.bos, bos_first) {
            *first = bos;
        }
        v
    }

    /// One timed pass of `n_prompt` prompt tokens then `n_gen` generated ones, in nanoseconds,
    /// after `depth` untimed tokens (restored from `*depth_state` once it holds them).
    fn pass(
        &self,
        s: &mut Session<'_, '_>,
        (n_prompt, n_gen, depth): (usize, usize, usize),
        depth_state: &mut Option<Vec<u8>>,
        rng: &mut Rng,
    ) -> Result<u64, String> {
        let prompt = self.tokens(n_prompt, true, rng);
        let gen_tokens = self.tokens(n_gen, n_prompt == 0, rng);
        s.reset();
        if depth > 0 {
            match depth_state {
                Some(state) => s.load_state(state).map_err(|e| e.to_string())?,
                None => {
                    let toks = self.tokens(depth, true, rng);
                    for chunk in toks.chunks(self.batch.max(1)) {
                        s.prefill(chunk).map_err(|e| e.to_string())?;
                    }
                    *depth_state = Some(s.save_state());
                }
            }
        }
        let t = Instant::now();
        if n_prompt > 0 {
            black_box(s.prefill(&prompt).map_err(|e| e.to_string())?);
        }
        for &tok in &gen_tokens {
            black_box(s.decode_step(tok).map_err(|e| e.to_string())?);
        }
        Ok(t.elapsed().as_nanos() as u64)
    }

    fn test(
        &self,
        (n_prompt, n_gen, n_depth): (usize, usize, usize),
        n_threads: usize,
        reps: usize,
    ) -> Result<TestResult, String> {
        let mut s = self.session(n_prompt + n_gen + n_depth, n_threads)?;
        let mut rng = Rng(0x5eed);
        let mut depth_state = None;
        let shape = (n_prompt, n_gen, n_depth);
        self.pass(&mut s, shape, &mut depth_state, &mut rng)?; // warm-up
        let samples_ns = (0..reps)
            .map(|_| self.pass(&mut s, shape, &mut depth_state, &mut rng))
            .collect::<Result<_, _>>()?;
        Ok(TestResult { n_prompt, n_gen, n_depth, n_threads: s.n_threads(), samples_ns, bandwidth: None })
    }
}

/// Which tier each weight format's dot product runs on: the table's tier, or `scalar` where the
/// table keeps the scalar spec for that format.
fn tiers_per_format(model: &Model<'_>) -> BTreeMap<String, String> {
    let k = model.kernels();
    let mut out = BTreeMap::new();
    for m in model.matrices() {
        let ty = m.ty();
        let tier = platform::format_tier(k, ty).unwrap_or(Tier::Scalar);
        let act = activation_type(ty).map_or_else(String::new, |a| format!(" (x {a} activations)"));
        out.insert(ty.to_string(), format!("{tier}{act}"));
    }
    out
}

/// Bytes of the weight matrices one generated token reads: every product's matrix (the output
/// projection included, also when it is the tied embedding), but of the embedding table only the
/// one row it looks up.
fn weight_bytes(model: &Model<'_>) -> u64 {
    let bytes = |m: &emberlm::matmul::Matrix<'_>| m.ty().bytes_for(m.n_cols() as u64).unwrap_or(0);
    // `matrices()` yields the embedding table first; the products follow.
    let mut all = model.matrices();
    let embd = all.next().map_or(0, bytes);
    embd + all.map(|m| bytes(m) * m.n_rows() as u64).sum::<u64>()
}

pub fn run(args: &Args) -> Result<(), String> {
    let path = args.model.display().to_string();
    if args.reps == 0 {
        return Err("-r must be at least 1".into());
    }
    let threads =
        if args.threads.is_empty() { vec![platform::default_threads()] } else { args.threads.clone() };
    if threads.contains(&0) {
        return Err("-t: thread counts must be at least 1".into());
    }

    // Bandwidth first, then forget the buffer's pages in the peak RSS.
    let mut bandwidth = BTreeMap::new();
    if !args.no_roofline {
        // The model's tier (EMBERLM_TIER or the best); read before the model is, so the buffer
        // stays out of the peak RSS.
        let kernels = Kernels::from_env().unwrap_or(Kernels::best());
        for &t in &threads {
            bandwidth.insert(t, measure_bandwidth(t, kernels));
        }
    }
    let rss_reset = reset_peak_rss();

    let file = platform::open_weights(&args.model)?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let model = Model::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let tok = Tokenizer::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let bos = if tok.vocab().add_bos() { tok.vocab().special(Special::Bos) } else { None };
    let kv_type = KvType::from_name(&args.cache_type).unwrap_or_default();
    let bench = Bench { model: &model, bos, batch: args.batch, kv_type };
    let wbytes = weight_bytes(&model);
    let tiers = tiers_per_format(&model);
    let mut formats: Vec<_> = model.matrices().map(|m| m.ty()).collect();
    formats.sort();
    formats.dedup();
    let n_params: u64 = gguf.tensors().iter().map(|t| t.n_elements()).sum();
    let model_size = gguf.tensors().iter().map(|t| t.bytes().len() as u64).sum::<u64>();
    let arch = model.config().arch.to_string();
    // llama-bench's label: `general.file_type` as llama.cpp names it; files without one get the
    // type holding the most weights.
    let ftype = gguf.opt_u32("general.file_type").ok().flatten().and_then(emberlm::models::file_type_name);
    let ftype = ftype.map(str::to_string).or_else(|| {
        let common = model.matrices().map(|m| m.ty()).max_by_key(|t| {
            model.matrices().filter(|m| m.ty() == *t).map(|m| m.n_rows() * m.n_cols()).sum::<usize>()
        });
        common.map(|t| format!("{} (guessed)", t.to_string().to_uppercase()))
    });
    let model_type =
        format!("{arch} {}M {}", (n_params as f64 / 1e6).round(), ftype.as_deref().unwrap_or("?"));
    let file_name = args.model.file_name().map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());

    if !args.json {
        println!(
            "model: {path} ({model_type}, {:.2} MiB, {n_params} parameters)",
            model_size as f64 / (1 << 20) as f64
        );
        // Machine, tier and default threads; the tier per format follows with its activations.
        println!("{}", platform::report(&[]));
        for (fmt, tier) in &tiers {
            println!("kernels: {fmt}: {tier}");
        }
        println!("weights read per generated token: {:.2} MiB", wbytes as f64 / (1 << 20) as f64);
        for (t, bw) in &bandwidth {
            println!(
                "memory bandwidth (large-buffer read, {t} thread{}): {:.2} GB/s",
                if *t == 1 { "" } else { "s" },
                bw / 1e9
            );
        }
        println!();
        println!("| model | threads | test | t/s | GB/s | roofline |");
        println!("| ----- | ------: | ---: | --: | ---: | -------: |");
    }

    let mut results = Vec::new();
    let mut tests = Vec::new();
    for &t in &threads {
        for &d in &args.n_depth {
            tests.extend(args.n_prompt.iter().filter(|&&p| p > 0).map(|&p| (p, 0, d, t)));
            tests.extend(args.n_gen.iter().filter(|&&g| g > 0).map(|&g| (0, g, d, t)));
        }
    }
    for (p, g, d, t) in tests {
        let mut r = bench.test((p, g, d), t, args.reps)?;
        r.bandwidth = bandwidth.get(&t).copied();
        if !args.json {
            let (avg, sd) = mean_stddev(&r.samples_ts());
            let name = if p > 0 { format!("pp{p}") } else { format!("tg{g}") };
            let name = if d > 0 { format!("{name} @ d{d}") } else { name };
            let (gbs, roof) = if g > 0 {
                let gbs = wbytes as f64 * avg / 1e9;
                let roof =
                    r.bandwidth.map_or_else(|| "-".into(), |bw| format!("{:.0}%", 100.0 * gbs * 1e9 / bw));
                (format!("{gbs:.2}"), roof)
            } else {
                ("-".into(), "-".into())
            };
            println!("| {model_type} | {} | {name} | {avg:.2} ± {sd:.2} | {gbs} | {roof} |", r.n_threads);
        }
        results.push(r);
    }
    let peak = peak_rss();

    if args.json {
        let machine = platform::report_json(&formats);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let out: Vec<Value> = results
            .iter()
            .map(|r| {
                let ts = r.samples_ts();
                let (avg_ts, stddev_ts) = mean_stddev(&ts);
                let ns: Vec<f64> = r.samples_ns.iter().map(|&n| n as f64).collect();
                let (avg_ns, stddev_ns) = mean_stddev(&ns);
                let gbs = (r.n_gen > 0).then(|| wbytes as f64 * avg_ts / 1e9);
                json!({
                    "build_commit": env!("CARGO_PKG_VERSION"),
                    "backends": "CPU",
                    "model_filename": file_name,
                    "model_type": model_type,
                    "model_size": model_size,
                    "model_n_params": n_params,
                    "n_batch": args.batch,
                    "n_ubatch": args.batch,
                    "n_threads": r.n_threads,
                    "type_k": kv_type.name(),
                    "type_v": kv_type.name(),
                    "n_prompt": r.n_prompt,
                    "n_gen": r.n_gen,
                    "n_depth": r.n_depth,
                    "test_time": now,
                    "avg_ns": avg_ns.round() as u64,
                    "stddev_ns": stddev_ns.round() as u64,
                    "avg_ts": avg_ts,
                    "stddev_ts": stddev_ts,
                    "samples_ns": r.samples_ns,
                    "samples_ts": ts,
                    "kernels": tiers,
                    "platform": machine,
                    "peak_rss_bytes": peak,
                    "weight_bytes_per_token": wbytes,
                    "effective_gbps": gbs,
                    "bandwidth_gbps": r.bandwidth.map(|b| b / 1e9),
                    "roofline_share": gbs.zip(r.bandwidth).map(|(g, b)| g * 1e9 / b),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&Value::Array(out)).map_err(|e| e.to_string())?);
    } else {
        let note = if rss_reset { "" } else { " (includes the bandwidth buffer: clear_refs unavailable)" };
        println!();
        match peak {
            Some(b) => println!("peak RSS: {:.1} MiB{note}", b as f64 / (1 << 20) as f64),
            None => println!("peak RSS: unknown (no /proc/self/status)"),
        }
    }
    Ok(())
}
