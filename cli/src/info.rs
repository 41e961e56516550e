//! `emberlm info -m MODEL [-c CTX] [--json]`.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use emberlm::models::{Gguf, Hparams, MappedFile, QuantType};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the GGUF model.
    #[arg(short = 'm', long = "model")]
    model: PathBuf,
    /// Context length for the KV-cache estimate (default: the model's training context).
    #[arg(short = 'c', long = "ctx-size")]
    ctx: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// What `info` reports, computed once and printed as text or JSON.
struct Report<'a> {
    path: String,
    file_size: u64,
    gguf: Gguf<'a>,
    hp: Hparams,
    name: Option<&'a str>,
    /// `general.file_type` and llama.cpp's name for it.
    file_type: Option<(u32, Option<&'static str>)>,
    n_params: u64,
    estimate: u64,
    tied: bool,
    /// Per type: (tensor count, elements, bytes).
    by_type: BTreeMap<QuantType, (usize, u64, u64)>,
    n_ctx: u64,
}

pub fn run(args: &Args) -> Result<(), String> {
    let path = args.model.display().to_string();
    let file = MappedFile::open(&args.model).map_err(|e| format!("{path}: {e}"))?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let hp = Hparams::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let mut by_type: BTreeMap<QuantType, (usize, u64, u64)> = BTreeMap::new();
    for t in gguf.tensors() {
        let e = by_type.entry(t.ty()).or_default();
        e.0 += 1;
        e.1 += t.n_elements();
        e.2 += t.bytes().len() as u64;
    }
    let tied = gguf.find_tensor("output.weight").is_none();
    let report = Report {
        file_size: gguf.file_bytes().len() as u64,
        name: gguf.opt_str("general.name").map_err(|e| format!("{path}: {e}"))?,
        file_type: gguf
            .opt_u32("general.file_type")
            .map_err(|e| format!("{path}: {e}"))?
            .map(|f| (f, emberlm::models::file_type_name(f))),
        n_params: gguf.tensors().iter().map(|t| t.n_elements()).sum(),
        estimate: hp.llama_param_estimate(tied),
        n_ctx: args.ctx.unwrap_or(if hp.n_ctx_train > 0 { hp.n_ctx_train } else { 4096 }),
        path,
        gguf,
        hp,
        tied,
        by_type,
    };
    let types: Vec<QuantType> = report.by_type.keys().copied().collect();
    if args.json {
        let mut j = report.json();
        j["platform"] = crate::platform::report_json(&types);
        println!("{j}");
    } else {
        print!("{}", report.text());
        println!("running here:");
        for line in crate::platform::report(&types).lines() {
            println!("  {line}");
        }
    }
    Ok(())
}

impl Report<'_> {
    fn text(&self) -> String {
        let hp = &self.hp;
        let mut s = String::new();
        let w = &mut s;
        let _ =
            writeln!(w, "file:          {} ({} bytes, {})", self.path, self.file_size, mib(self.file_size));
        let _ = writeln!(w, "gguf version:  {} (alignment {})", self.gguf.version(), self.gguf.alignment());
        let _ = writeln!(w, "architecture:  {}", hp.arch);
        let _ = writeln!(w, "name:          {}", self.name.unwrap_or("(none)"));
        if let Some((f, name)) = self.file_type {
            let _ = writeln!(w, "file type:     {} (general.file_type {f})", name.unwrap_or("unknown"));
        }
        let _ = writeln!(w, "vocab:         {}", hp.n_vocab);
        let _ = writeln!(w, "context:       {} (trained)", hp.n_ctx_train);
        let _ = writeln!(w, "embedding:     {}", hp.n_embd);
        let _ = writeln!(w, "layers:        {}", hp.n_layer);
        let _ = writeln!(w, "feed-forward:  {}", uniform(&hp.n_ff));
        let _ = writeln!(w, "heads:         {} (kv {})", uniform(&hp.n_head), uniform(&hp.n_head_kv));
        let _ = writeln!(w, "head dim:      k {} v {}", hp.head_dim_k, hp.head_dim_v);
        if let Some(eps) = hp.rms_eps {
            let _ = writeln!(w, "rms eps:       {eps:e}");
        }
        let _ = writeln!(w, "rope:          base {} dims {}", hp.rope_freq_base, hp.rope_dims);
        if let Some(win) = hp.sliding_window {
            let n_swa = hp.swa_layers.iter().filter(|&&s| s).count();
            let _ = writeln!(w, "sliding win:   {win} ({n_swa} of {} layers)", hp.n_layer);
        }
        if hp.n_expert > 0 {
            let _ = writeln!(w, "experts:       {} ({} used)", hp.n_expert, hp.n_expert_used);
        }
        let _ = writeln!(w, "tensors:       {}", self.gguf.tensors().len());
        for (ty, (n, elems, bytes)) in &self.by_type {
            let _ = writeln!(
                w,
                "  {:<6} {n:>4} tensors {elems:>12} values {bytes:>12} bytes ({})",
                ty.name(),
                mib(*bytes)
            );
        }
        let diff = (self.estimate as f64 - self.n_params as f64) / self.n_params as f64 * 100.0;
        let _ = writeln!(w, "parameters:    {} ({})", self.n_params, human(self.n_params));
        let _ = writeln!(
            w,
            "estimate:      {} ({}, {diff:+.2}%) = 2VH + H + L(2H·H_q + 2H·H_kv + 3HH' + 2H){}",
            self.estimate,
            human(self.estimate),
            if self.tied { ", VH for the tied output" } else { "" }
        );
        let (f16, f32) = (self.hp.kv_cache_bytes(self.n_ctx, 2), self.hp.kv_cache_bytes(self.n_ctx, 4));
        // q8_0: 34 bytes per 32 values (head sizes are multiples of 32 for a q8_0 cache).
        let q8 = self.hp.kv_cache_bytes(self.n_ctx, 34) / 32;
        let _ = writeln!(
            w,
            "kv cache:      -c {}: {} bytes f16 ({}), {} bytes f32 ({}), {} bytes q8_0 ({})",
            self.n_ctx,
            f16,
            mib(f16),
            f32,
            mib(f32),
            q8,
            mib(q8)
        );
        let (full16, full32) =
            (self.hp.kv_cache_bytes_full(self.n_ctx, 2), self.hp.kv_cache_bytes_full(self.n_ctx, 4));
        if full16 != f16 {
            let _ = writeln!(
                w,
                "kv naive:      -c {}: {} bytes f16 ({}), {} bytes f32 ({}) if every layer kept every position",
                self.n_ctx,
                full16,
                mib(full16),
                full32,
                mib(full32)
            );
        }
        s
    }

    fn json(&self) -> serde_json::Value {
        let hp = &self.hp;
        let types: serde_json::Map<String, serde_json::Value> = self
            .by_type
            .iter()
            .map(|(ty, (n, elems, bytes))| {
                (ty.name().to_string(), json!({"tensors": n, "elements": elems, "bytes": bytes}))
            })
            .collect();
        json!({
            "file": self.path,
            "file_size": self.file_size,
            "gguf_version": self.gguf.version(),
            "alignment": self.gguf.alignment(),
            "architecture": hp.arch,
            "name": self.name,
            "file_type": self.file_type.map(|(f, _)| f),
            "file_type_name": self.file_type.and_then(|(_, n)| n),
            "n_vocab": hp.n_vocab,
            "n_ctx_train": hp.n_ctx_train,
            "n_embd": hp.n_embd,
            "n_layer": hp.n_layer,
            "n_ff": hp.n_ff,
            "n_head": hp.n_head,
            "n_head_kv": hp.n_head_kv,
            "head_dim_k": hp.head_dim_k,
            "head_dim_v": hp.head_dim_v,
            "rms_eps": hp.rms_eps,
            "rope_freq_base": hp.rope_freq_base,
            "rope_dims": hp.rope_dims,
            "sliding_window": hp.sliding_window,
            "n_expert": hp.n_expert,
            "n_expert_used": hp.n_expert_used,
            "n_tensors": self.gguf.tensors().len(),
            "types": types,
            "n_params": self.n_params,
            "n_params_estimate": self.estimate,
            "output_tied_to_embedding": self.tied,
            "kv_cache": {
                "n_ctx": self.n_ctx,
                "f16_bytes": hp.kv_cache_bytes(self.n_ctx, 2),
                "f32_bytes": hp.kv_cache_bytes(self.n_ctx, 4),
                "q8_0_bytes": hp.kv_cache_bytes(self.n_ctx, 34) / 32,
                "full_f16_bytes": hp.kv_cache_bytes_full(self.n_ctx, 2),
                "full_f32_bytes": hp.kv_cache_bytes_full(self.n_ctx, 4),
            },
        })
    }
}

/// `576` if every layer has the same value, else the per-layer list.
fn uniform(v: &[u64]) -> String {
    match v.first() {
        Some(first) if v.iter().all(|x| x == first) => first.to_string(),
        _ => format!("{v:?}"),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2} M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.2} K", n as f64 / 1e3),
        n => n.to_string(),
    }
}
