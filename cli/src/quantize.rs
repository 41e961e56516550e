//! `emberlm quantize IN.gguf OUT.gguf TYPE [--pure] [-t N] [--quiet]`: requantize a GGUF model,
//! choosing every tensor's type with llama-quantize's rules so that the output matches
//! `llama-quantize IN OUT TYPE` (without an importance matrix) tensor for tensor.
//!
//! - Tensors that are not quantizable (1-D tensors, norms, anything not named `*weight`, MoE
//!   router weights) are copied unchanged, as llama.cpp does.
//! - Every other tensor is dequantized to f32, whatever its type, then quantized row by row with
//!   our reference quantizers (the `_ref` semantics llama-quantize uses without an imatrix).
//! - `Q4_K_M`/`Q5_K_M`/`Q4_K_S`/`Q5_K_S` are llama.cpp's mixes (more bits for some `attn_v` and
//!   `ffn_down` layers, Q6_K for the output / tied embedding); `--pure` turns mixes off.
//! - A tensor whose rows are not a whole number of blocks of its type falls back as in llama.cpp
//!   (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16).
//! - Metadata is kept in order; `general.file_type` and `general.quantization_version` are set.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use bytemuck::Zeroable;
use emberlm::models::{Gguf, GgufWriter, MappedFile, QuantType, TensorView};
use emberlm::quant::{Format, with_format};

use crate::progress;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The GGUF model to read (tensors of any supported type).
    input: PathBuf,
    /// The GGUF file to write.
    output: PathBuf,
    /// Target type: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K (= Q4_K_M), Q4_K_S, Q4_K_M, Q5_K (= Q5_K_M),
    /// Q5_K_S, Q5_K_M, Q6_K, F16, BF16, F32.
    #[arg(value_name = "TYPE")]
    ty: String,
    /// Quantize every quantizable tensor to the type itself: no mix, no Q6_K output tensor.
    #[arg(long)]
    pure: bool,
    /// Worker threads (default: every core).
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    /// No progress bar and no summary.
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// The mixes of llama.cpp's `llama_tensor_get_type` that emberlm implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mix {
    None,
    Q4KS,
    Q4KM,
    Q5KS,
    Q5KM,
}

/// A target file type: its `general.file_type` (llama_ftype), default tensor type and mix.
#[derive(Clone, Copy, Debug)]
struct FileType {
    name: &'static str,
    ftype: u32,
    default: QuantType,
    mix: Mix,
}

const FILE_TYPES: &[FileType] = &[
    FileType { name: "F32", ftype: 0, default: QuantType::F32, mix: Mix::None },
    FileType { name: "F16", ftype: 1, default: QuantType::F16, mix: Mix::None },
    FileType { name: "BF16", ftype: 32, default: QuantType::BF16, mix: Mix::None },
    FileType { name: "Q4_0", ftype: 2, default: QuantType::Q4_0, mix: Mix::None },
    FileType { name: "Q4_1", ftype: 3, default: QuantType::Q4_1, mix: Mix::None },
    FileType { name: "Q8_0", ftype: 7, default: QuantType::Q8_0, mix: Mix::None },
    FileType { name: "Q5_0", ftype: 8, default: QuantType::Q5_0, mix: Mix::None },
    FileType { name: "Q5_1", ftype: 9, default: QuantType::Q5_1, mix: Mix::None },
    FileType { name: "Q4_K_S", ftype: 14, default: QuantType::Q4K, mix: Mix::Q4KS },
    FileType { name: "Q4_K_M", ftype: 15, default: QuantType::Q4K, mix: Mix::Q4KM },
    FileType { name: "Q4_K", ftype: 15, default: QuantType::Q4K, mix: Mix::Q4KM },
    FileType { name: "Q5_K_S", ftype: 16, default: QuantType::Q5K, mix: Mix::Q5KS },
    FileType { name: "Q5_K_M", ftype: 17, default: QuantType::Q5K, mix: Mix::Q5KM },
    FileType { name: "Q5_K", ftype: 17, default: QuantType::Q5K, mix: Mix::Q5KM },
    FileType { name: "Q6_K", ftype: 18, default: QuantType::Q6K, mix: Mix::None },
];

fn file_type(name: &str) -> Result<FileType, String> {
    FILE_TYPES.iter().find(|f| f.name.eq_ignore_ascii_case(name)).copied().ok_or_else(|| {
        format!(
            "unknown quantization type {name:?}; one of: {}",
            FILE_TYPES.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
        )
    })
}

/// llama.cpp's `tensor_allows_quantization` for the tensors of the architectures we run.
fn allows_quantization(t: &TensorView<'_>) -> bool {
    let name = t.name();
    // ggml_n_dims: the rank up to the last dimension larger than 1.
    let n_dims = t.dims().iter().rposition(|&d| d > 1).map_or(1, |i| i + 1);
    n_dims >= 2
        && name.ends_with("weight")
        && !name.contains("_norm.weight")
        && !name.contains("ffn_gate_inp.weight")
        && !name.contains("ffn_gate_tid2eid.weight")
        && !name.contains("altup")
        && !name.contains("laurel")
        && !name.contains("per_layer_model_proj")
        && name != "position_embd.weight"
        && name != "token_types.weight"
        && !name.contains("ssm_conv1d")
        && !name.contains("attn_rel_b.weight")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
    Output,
    TokenEmbd,
    AttnV,
    AttnK,
    AttnOutput,
    FfnDown,
    Other,
}

/// llama.cpp's `tensor_get_category` (attn_qkv and attn_kv_b count as attn_v).
fn category(name: &str) -> Category {
    if name == "output.weight" {
        Category::Output
    } else if name == "token_embd.weight" || name == "per_layer_token_embd.weight" {
        Category::TokenEmbd
    } else if name.contains("attn_qkv.weight")
        || name.contains("attn_kv_b.weight")
        || name.contains("attn_v.weight")
    {
        Category::AttnV
    } else if name.contains("attn_k.weight") {
        Category::AttnK
    } else if name.contains("attn_output.weight") {
        Category::AttnOutput
    } else if name.contains("ffn_down") {
        Category::FfnDown
    } else {
        Category::Other
    }
}

/// The state llama-quantize keeps while choosing types (`quantize_state_impl`).
struct Chooser {
    ft: FileType,
    pure: bool,
    arch: String,
    n_layer: usize,
    n_expert: usize,
    tied_embeddings: bool,
    n_attention_wv: usize,
    i_attention_wv: usize,
    i_ffn_down: usize,
    n_fallback: usize,
}

fn use_more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i as isize - (n / 8) as isize).rem_euclid(3) == 2
}

impl Chooser {
    fn new(gguf: &Gguf<'_>, ft: FileType, pure: bool) -> Result<Self, String> {
        let arch = gguf.architecture().map_err(|e| e.to_string())?.to_string();
        let n_layer = gguf.opt_u32(&format!("{arch}.block_count")).map_err(|e| e.to_string())?.unwrap_or(0);
        let n_expert = gguf.opt_u32(&format!("{arch}.expert_count")).map_err(|e| e.to_string())?.unwrap_or(0);
        let cats = gguf.tensors().iter().map(|t| category(t.name()));
        let n_attention_wv = cats.clone().filter(|&c| c == Category::AttnV).count();
        let tied_embeddings = !cats.clone().any(|c| c == Category::Output);
        Ok(Self {
            ft,
            pure,
            arch,
            n_layer: n_layer as usize,
            n_expert: n_expert as usize,
            tied_embeddings,
            n_attention_wv,
            i_attention_wv: 0,
            i_ffn_down: 0,
            n_fallback: 0,
        })
    }

    /// `llama_tensor_get_type`: the type of `t` in the output, or `None` to copy it unchanged.
    fn choose(&mut self, t: &TensorView<'_>) -> Result<Option<QuantType>, String> {
        if !allows_quantization(t) {
            return Ok(None);
        }
        let default = self.ft.default;
        let quantized = !matches!(default, QuantType::F32 | QuantType::F16 | QuantType::BF16);
        let mut ty = default;
        if quantized {
            if !self.pure {
                ty = self.mix(t, ty)?;
            }
            ty = self.fallback(t, ty);
        }
        Ok(if ty == t.ty() { None } else { Some(ty) })
    }

    /// `llama_tensor_get_type_impl`, for the file types above.
    fn mix(&mut self, t: &TensorView<'_>, mut ty: QuantType) -> Result<QuantType, String> {
        let name = t.name();
        let cat = category(name);
        let mix = self.ft.mix;
        if cat == Category::Output || (self.tied_embeddings && cat == Category::TokenEmbd) {
            let nx = t.dims()[0] as usize;
            if self.arch == "falcon" || !nx.is_multiple_of(ty.block_elems()) {
                ty = QuantType::Q8_0;
            } else if ty != QuantType::Q8_0 {
                ty = QuantType::Q6K;
            }
            return Ok(ty);
        }
        match cat {
            Category::AttnV => {
                let i = self.i_attention_wv;
                if matches!(mix, Mix::Q4KM | Mix::Q5KM) && use_more_bits(i, self.n_attention_wv) {
                    ty = QuantType::Q6K;
                } else if mix == Mix::Q4KS && i < 4 {
                    ty = QuantType::Q5K;
                }
                if self.n_expert == 8 {
                    ty = QuantType::Q8_0;
                }
                self.i_attention_wv += 1;
            }
            Category::AttnK if self.n_expert == 8 => ty = QuantType::Q8_0,
            Category::FfnDown => {
                let n = self.n_layer;
                let i = if self.n_expert > 1 {
                    let layer = name
                        .strip_prefix("blk.")
                        .and_then(|r| r.split('.').next())
                        .and_then(|s| s.parse::<usize>().ok())
                        .ok_or_else(|| format!("cannot find the layer of tensor {name}"))?;
                    if layer >= n {
                        return Err(format!("bad layer {layer} for tensor {name} (the model has {n})"));
                    }
                    layer
                } else {
                    self.i_ffn_down
                };
                let falcon = self.arch == "falcon";
                match mix {
                    Mix::Q4KM if falcon => {
                        ty = if i < n / 16 {
                            QuantType::Q6K
                        } else if use_more_bits(i, n) {
                            QuantType::Q5K
                        } else {
                            QuantType::Q4K
                        }
                    }
                    Mix::Q4KM | Mix::Q5KM if use_more_bits(i, n) => ty = QuantType::Q6K,
                    Mix::Q4KS if !falcon && i < n / 8 => ty = QuantType::Q5K,
                    _ => {}
                }
                self.i_ffn_down += 1;
            }
            Category::AttnOutput
                if self.arch != "falcon" && self.n_expert == 8 && matches!(mix, Mix::Q4KS | Mix::Q4KM) =>
            {
                ty = QuantType::Q5K;
            }
            _ => {}
        }
        Ok(ty)
    }

    /// `tensor_type_fallback`: a type whose blocks fit the rows.
    fn fallback(&mut self, t: &TensorView<'_>, ty: QuantType) -> QuantType {
        let ncols = t.dims()[0] as usize;
        if ncols.is_multiple_of(ty.block_elems()) {
            return ty;
        }
        self.n_fallback += 1;
        let mut to = match ty {
            QuantType::Q2K | QuantType::Q3K => QuantType::Q4_0,
            QuantType::Q4K => QuantType::Q5_0,
            QuantType::Q5K => QuantType::Q5_1,
            QuantType::Q6K => QuantType::Q8_0,
            other => other,
        };
        if !ncols.is_multiple_of(to.block_elems()) {
            to = QuantType::F16;
        }
        to
    }
}

/// The layer of a `blk.N.*` tensor, -1 for the others (llama.cpp's `weight_name_comparer`).
fn layer_of(name: &str) -> i64 {
    name.strip_prefix("blk.")
        .and_then(|r| r.split('.').next())
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(-1)
}

/// Every value of `t` as f32.
fn dequantize(t: &TensorView<'_>) -> Result<Vec<f32>, String> {
    let n = usize::try_from(t.n_elements()).map_err(|_| format!("{}: too large", t.name()))?;
    let mut out = vec![0f32; n];
    with_format!(t.ty(), F => {
        let blocks = t.blocks::<F>().map_err(|e| e.to_string())?;
        if blocks.len() * F::ELEMS != n {
            return Err(format!("{}: {} values but {} blocks of {}", t.name(), n, blocks.len(), F::TYPE.name()));
        }
        F::dequantize(blocks, &mut out);
    }, _ => return Err(format!("{}: cannot dequantize tensors of type {}", t.name(), t.ty().name())));
    Ok(out)
}

/// Quantize `x` (rows of `ncols` values) to `ty`, on `threads` threads, calling `progress` with
/// the number of values done.
fn quantize(
    x: &[f32],
    ncols: usize,
    ty: QuantType,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<u8> {
    with_format!(ty, F => quantize_as::<F>(x, ncols, threads, progress), _ => unreachable!("target types are checked"))
}

fn quantize_as<F: Format>(x: &[f32], ncols: usize, threads: usize, progress: &(dyn Fn(u64) + Sync)) -> Vec<u8>
where
    F::Block: Send,
{
    let blocks_per_row = ncols / F::ELEMS;
    let nrows = x.len() / ncols;
    let mut out = vec![F::Block::zeroed(); nrows * blocks_per_row];
    let rows_per_chunk = nrows.div_ceil(threads.max(1) * 8).max(1);
    let chunks: Vec<(&[f32], &mut [F::Block])> =
        x.chunks(rows_per_chunk * ncols).zip(out.chunks_mut(rows_per_chunk * blocks_per_row)).collect();
    let next = std::sync::Mutex::new(chunks.into_iter());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let Some((src, dst)) = next.lock().expect("no worker panics").next() else { break };
                    for (row, blocks) in src.chunks(ncols).zip(dst.chunks_mut(blocks_per_row)) {
                        F::quantize(row, blocks);
                    }
                    progress(src.len() as u64);
                }
            });
        }
    });
    bytemuck::cast_slice(&out).to_vec()
}

/// What happened to one tensor.
struct Planned<'a> {
    view: TensorView<'a>,
    to: Option<QuantType>,
}

pub fn run(args: &Args) -> Result<(), String> {
    let t0 = Instant::now();
    let ft = file_type(&args.ty)?;
    let in_path = args.input.display().to_string();
    let file = MappedFile::open(&args.input).map_err(|e| format!("{in_path}: {e}"))?;
    let gguf = file.gguf().map_err(|e| format!("{in_path}: {e}"))?;
    let threads =
        args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);

    let mut chooser = Chooser::new(&gguf, ft, args.pure)?;
    // llama.cpp walks (and writes) the tensors by layer number, then name; the per-layer mix
    // counters depend on this order.
    let mut order: Vec<TensorView<'_>> = gguf.tensors().to_vec();
    order.sort_by(|a, b| (layer_of(a.name()), a.name()).cmp(&(layer_of(b.name()), b.name())));
    let mut plan = Vec::with_capacity(order.len());
    for t in &order {
        let to = chooser.choose(t)?;
        plan.push(Planned { view: *t, to });
    }
    let requantized: Vec<&str> = plan
        .iter()
        .filter(|p| {
            p.to.is_some() && !matches!(p.view.ty(), QuantType::F32 | QuantType::F16 | QuantType::BF16)
        })
        .map(|p| p.view.name())
        .collect();
    if !args.quiet && !requantized.is_empty() {
        eprintln!(
            "emberlm quantize: note: {} tensors are already quantized ({} ...); they are dequantized and \
             quantized again, which loses more quality than quantizing from F16/F32",
            requantized.len(),
            requantized[0]
        );
    }

    let total: u64 = plan.iter().map(|p| p.view.n_elements()).sum();
    let pb = progress::bar(total, false, args.quiet);
    pb.set_message(format!("quantizing to {}", ft.name));
    let mut datas: Vec<Option<Vec<u8>>> = Vec::with_capacity(plan.len());
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for p in &plan {
        let t = &p.view;
        pb.set_message(t.name().to_string());
        match p.to {
            None => {
                *counts.entry(t.ty().name()).or_default() += 1;
                pb.inc(t.n_elements());
                datas.push(None);
            }
            Some(ty) => {
                *counts.entry(ty.name()).or_default() += 1;
                let x = dequantize(t)?;
                let ncols = t.dims()[0] as usize;
                let bytes = quantize(&x, ncols, ty, threads, &|n| pb.inc(n));
                let expected = ty.bytes_for(t.n_elements()).unwrap_or(0) as usize;
                if bytes.len() != expected {
                    return Err(format!(
                        "{}: quantized to {} bytes, expected {expected}",
                        t.name(),
                        bytes.len()
                    ));
                }
                datas.push(Some(bytes));
            }
        }
    }
    pb.finish_and_clear();

    // Metadata in order, with the file type set (appended if the input had none).
    let mut w = GgufWriter::new();
    let (mut saw_ftype, mut saw_qv) = (false, false);
    for e in gguf.metadata() {
        match e.key {
            "general.file_type" => {
                w.add_u32(e.key, ft.ftype);
                saw_ftype = true;
            }
            "general.quantization_version" => {
                w.add_u32(e.key, 2);
                saw_qv = true;
            }
            _ => {
                w.add_value(e.key, e.value);
            }
        }
    }
    if !saw_qv {
        w.add_u32("general.quantization_version", 2);
    }
    if !saw_ftype {
        w.add_u32("general.file_type", ft.ftype);
    }
    for (p, data) in plan.iter().zip(&datas) {
        let t = &p.view;
        match data {
            Some(bytes) => w.add_tensor(t.name(), t.dims(), p.to.expect("quantized"), bytes),
            None => w.add_tensor(t.name(), t.dims(), t.ty(), t.bytes()),
        };
    }
    let out_path = args.output.display().to_string();
    let tmp = args.output.with_extension("gguf.part");
    let f = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut bw = BufWriter::with_capacity(1 << 20, f);
    let written = w.write_to(&mut bw).map_err(|e| format!("{out_path}: {e}"))?;
    bw.flush().map_err(|e| format!("{out_path}: {e}"))?;
    drop(bw);
    std::fs::rename(&tmp, &args.output).map_err(|e| format!("{out_path}: {e}"))?;

    if !args.quiet {
        let mix: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        eprintln!(
            "wrote {out_path}: {} ({}), {} tensors ({}), {:.1} MB -> {:.1} MB{}, {:.1} s",
            ft.name,
            if args.pure { "pure" } else { "llama-quantize tensor types" },
            plan.len(),
            mix.join(", "),
            file.bytes().len() as f64 / 1e6,
            written as f64 / 1e6,
            if chooser.n_fallback > 0 {
                format!(", {} tensors fell back to a type their rows fit", chooser.n_fallback)
            } else {
                String::new()
            },
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_more_bits_matches_llama_cpp() {
        // n = 30 (SmolLM2): i < 3 || i >= 26 || (i - 3) % 3 == 2 (C++ remainder on ints).
        let got: Vec<usize> = (0..30).filter(|&i| use_more_bits(i, 30)).collect();
        assert_eq!(got, vec![0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]);
    }

    #[test]
    fn type_names_resolve() {
        assert_eq!(file_type("q4_k").unwrap().mix, Mix::Q4KM);
        assert_eq!(file_type("Q8_0").unwrap().ftype, 7);
        assert!(file_type("Q9_9").is_err());
    }
}
