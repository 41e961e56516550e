//! Show that opening and parsing a model copies no tensor data: the resident set grows by about
//! the size of the header (metadata and tensor directory), not by the size of the file.
//!
//!     cargo run --release -p emberlm-models --example rss_after_open [MODEL.gguf]
//!
//! Default model: $EMBERLM_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf (EMBERLM_MODELS defaults to
//! ~/.cache/emberlm/models). Linux only (reads VmRSS from /proc/self/status).

use std::path::PathBuf;

use emberlm_models::MappedFile;

/// Resident set size in KiB.
fn vm_rss_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or("no VmRSS in /proc/self/status")?;
    Ok(line.split_whitespace().nth(1).ok_or("malformed VmRSS line")?.parse()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("EMBERLM_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm/models")
            })
            .join("SmolLM2-135M-Instruct.Q4_1.gguf"),
    };
    let file_len = std::fs::metadata(&path)?.len();
    let before = vm_rss_kib()?;
    let file = MappedFile::open(&path)?;
    let gguf = file.gguf()?;
    let after = vm_rss_kib()?;

    let tensor_bytes: usize = gguf.tensors().iter().map(|t| t.bytes().len()).sum();
    println!("model:          {}", path.display());
    println!("file size:      {:>9} KiB", file_len / 1024);
    println!("header size:    {:>9} KiB (metadata + tensor directory)", gguf.data_offset() / 1024);
    println!("tensors:        {:>9} ({} KiB of data)", gguf.tensors().len(), tensor_bytes / 1024);
    println!("VmRSS before:   {before:>9} KiB");
    println!("VmRSS after:    {after:>9} KiB (open + parse)");
    println!("growth:         {:>9} KiB", after.saturating_sub(before));

    // Touching the data is what pages it in.
    let checksum = gguf.tensors().iter().flat_map(|t| t.bytes()).fold(0u8, |a, &b| a ^ b);
    let touched = vm_rss_kib()?;
    println!("VmRSS after reading every tensor byte: {touched} KiB (xor {checksum:#04x})");
    Ok(())
}
