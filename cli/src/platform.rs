//! The machine the CLI runs on, through the target adapters: the default thread count (physical
//! cores on a desktop, the Raspberry Pi policy on aarch64 Linux), the kernel tier per weight
//! format, and the `madvise` hints for a mapped model.
use std::path::Path;

use emberlm::models::MappedFile;
use emberlm::quant::{Kernels, QuantType, Tier};

/// Threads for the matrix products by default: the Raspberry Pi adapter's policy on aarch64
/// Linux, one per physical core elsewhere.
pub fn default_threads() -> usize {
    #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
    {
        emberlm_rpi::Platform::detect().threads()
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "linux")))]
    {
        emberlm_desktop::default_threads()
    }
}

/// The tier whose code runs `ty`'s dot product in `k`: `k.tier`, or [`Tier::Scalar`] where the
/// table keeps the scalar spec for that format (`None` for a type without a dot product).
pub fn format_tier(k: &Kernels, ty: QuantType) -> Option<Tier> {
    let s = &Kernels::SCALAR;
    // Function addresses identify the kernel: the scalar table's entry means the spec runs.
    let same = |a: usize, b: usize| a == b;
    let scalar = match ty {
        QuantType::F32 => same(k.dot_f32 as usize, s.dot_f32 as usize),
        QuantType::F16 => same(k.dot_f16 as usize, s.dot_f16 as usize),
        QuantType::BF16 => same(k.dot_bf16 as usize, s.dot_bf16 as usize),
        QuantType::Q4_0 => same(k.dot_q4_0 as usize, s.dot_q4_0 as usize),
        QuantType::Q4_1 => same(k.dot_q4_1 as usize, s.dot_q4_1 as usize),
        QuantType::Q5_0 => same(k.dot_q5_0 as usize, s.dot_q5_0 as usize),
        QuantType::Q5_1 => same(k.dot_q5_1 as usize, s.dot_q5_1 as usize),
        QuantType::Q8_0 => same(k.dot_q8_0 as usize, s.dot_q8_0 as usize),
        QuantType::Q2K => same(k.dot_q2_k as usize, s.dot_q2_k as usize),
        QuantType::Q3K => same(k.dot_q3_k as usize, s.dot_q3_k as usize),
        QuantType::Q4K => same(k.dot_q4_k as usize, s.dot_q4_k as usize),
        QuantType::Q5K => same(k.dot_q5_k as usize, s.dot_q5_k as usize),
        QuantType::Q6K => same(k.dot_q6_k as usize, s.dot_q6_k as usize),
        _ => return None,
    };
    if scalar {
        return Some(Tier::Scalar);
    }
    // The AVX-512 VNNI table is the AVX2 one with a few multi-row products of its own (formats
    // with one of them are named by it).
    if let Some(avx2) = Kernels::for_tier(Tier::Avx2).filter(|_| k.tier == Tier::Avx512Vnni) {
        let (ours, theirs) = match ty {
            QuantType::Q4_0 => (k.gemm_q4_0.map(|f| f as usize), avx2.gemm_q4_0.map(|f| f as usize)),
            QuantType::Q4_1 => (k.gemm_q4_1.map(|f| f as usize), avx2.gemm_q4_1.map(|f| f as usize)),
            QuantType::Q5_0 => (k.gemm_q5_0.map(|f| f as usize), avx2.gemm_q5_0.map(|f| f as usize)),
            QuantType::Q8_0 => (k.gemm_q8_0.map(|f| f as usize), avx2.gemm_q8_0.map(|f| f as usize)),
            QuantType::Q4K => (k.gemm_q4_k_gemm.map(|f| f as usize), avx2.gemm_q4_k_gemm.map(|f| f as usize)),
            QuantType::Q6K => {
                (k.gemm_q6_k_tiled.map(|f| f as usize), avx2.gemm_q6_k_tiled.map(|f| f as usize))
            }
            _ => (None, None),
        };
        return Some(if ours != theirs { Tier::Avx512Vnni } else { Tier::Avx2 });
    }
    Some(k.tier)
}

/// The kernels the runtime will use (`EMBERLM_TIER`, else the best this CPU runs), and how they
/// were chosen; an `EMBERLM_TIER` this CPU cannot run is reported and the best table shown.
fn kernels_and_source() -> (&'static Kernels, String) {
    match (Kernels::from_env(), std::env::var("EMBERLM_TIER")) {
        (Ok(k), Ok(v)) => (k, format!("EMBERLM_TIER={v}")),
        (Ok(k), Err(_)) => (k, "the best this CPU runs".to_string()),
        (Err(e), _) => (Kernels::best(), format!("{e}; the best this CPU runs is shown")),
    }
}

/// A report of the machine: CPU or board, the kernel tier and why, the default threads, and the
/// tier of the dot product of each of `formats` (a model's weight types; none: no such line).
/// One `key: value` line each.
pub fn report(formats: &[QuantType]) -> String {
    let (k, source) = kernels_and_source();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut lines = Vec::new();
    #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
    {
        let p = emberlm_rpi::Platform::from_texts(
            std::fs::read_to_string("/proc/device-tree/model").ok().as_deref(),
            &cpuinfo,
        );
        lines.push(format!("machine: aarch64 Linux; {}", p.report(k)));
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "linux")))]
    {
        let name = emberlm_desktop::cpu_name_from_cpuinfo(&cpuinfo).unwrap_or_else(|| "unknown CPU".into());
        let physical = emberlm_desktop::physical_cores_from_cpuinfo(&cpuinfo)
            .map_or_else(|| "?".to_string(), |n| n.to_string());
        lines.push(format!(
            "machine: {} {}; {name}; {physical} physical cores, {logical} usable threads",
            std::env::consts::ARCH,
            std::env::consts::OS
        ));
    }
    lines.push(format!("kernels: {} ({source})", k.tier));
    lines.push(format!("threads: {} by default ({logical} usable)", default_threads()));
    let per_format: Vec<String> =
        formats.iter().filter_map(|&ty| format_tier(k, ty).map(|t| format!("{} {t}", ty.name()))).collect();
    if !per_format.is_empty() {
        lines.push(format!("tier per format: {}", per_format.join(", ")));
    }
    lines.join("\n")
}

/// [`report`] as a JSON object: one string per line, keyed by the line's name (`machine`,
/// `kernels`, `threads`, `tier per format`).
pub fn report_json(formats: &[QuantType]) -> serde_json::Value {
    let map = report(formats)
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_string(), serde_json::Value::from(v))))
        .collect();
    serde_json::Value::Object(map)
}

/// Open a model file and give the kernel the `madvise` hints for weights that every token
/// reads (read ahead now; huge pages where transparent huge pages allow it). A hint that fails
/// only costs speed, so it is not an error.
pub fn open_weights(path: &Path) -> Result<MappedFile, String> {
    let file = MappedFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        let bytes = file.bytes();
        let _ = emberlm_desktop::advise_weights(bytes, emberlm_desktop::WeightAdvice::for_len(bytes.len()));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weight formats with a dot-product kernel, in the order the report lists them.
    const FORMATS: [QuantType; 13] = [
        QuantType::F32,
        QuantType::F16,
        QuantType::BF16,
        QuantType::Q4_0,
        QuantType::Q4_1,
        QuantType::Q5_0,
        QuantType::Q5_1,
        QuantType::Q8_0,
        QuantType::Q2K,
        QuantType::Q3K,
        QuantType::Q4K,
        QuantType::Q5K,
        QuantType::Q6K,
    ];

    #[test]
    fn scalar_table_is_scalar_for_every_format() {
        for ty in FORMATS {
            assert_eq!(format_tier(&Kernels::SCALAR, ty), Some(Tier::Scalar), "{ty:?}");
        }
        assert_eq!(format_tier(&Kernels::SCALAR, QuantType::Q8K), None);
    }

    #[test]
    fn the_vnni_table_names_avx2_where_it_runs_the_avx2_kernels() {
        let Some(k) = Kernels::for_tier(Tier::Avx512Vnni) else {
            eprintln!("SKIPPED: tier avx512vnni not supported on this CPU (format tiers)");
            return;
        };
        for ty in [
            QuantType::Q4_0,
            QuantType::Q4_1,
            QuantType::Q5_0,
            QuantType::Q8_0,
            QuantType::Q4K,
            QuantType::Q6K,
        ] {
            assert_eq!(format_tier(k, ty), Some(Tier::Avx512Vnni), "{ty:?}");
        }
        for ty in [QuantType::Q5_1, QuantType::Q5K, QuantType::F16] {
            assert_eq!(format_tier(k, ty), Some(Tier::Avx2), "{ty:?}");
        }
    }

    #[test]
    fn best_table_runs_its_tier_somewhere() {
        let k = Kernels::best();
        let tiers: Vec<Tier> = FORMATS.iter().filter_map(|&t| format_tier(k, t)).collect();
        assert_eq!(tiers.len(), FORMATS.len());
        // A vector tier replaces the scalar spec for at least the int8 format every model uses.
        assert_eq!(format_tier(k, QuantType::Q8_0), Some(k.tier));
    }

    #[test]
    fn report_lists_machine_kernels_threads_and_formats() {
        let r = report(&FORMATS);
        let keys: Vec<&str> = r.lines().filter_map(|l| l.split_once(':').map(|(k, _)| k)).collect();
        assert_eq!(keys, ["machine", "kernels", "threads", "tier per format"], "{r}");
        for ty in FORMATS {
            assert!(r.contains(&format!("{} ", ty.name())), "{ty:?} missing: {r}");
        }
        let threads = default_threads();
        let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!((1..=allowed).contains(&threads));
        assert!(r.contains(&format!("threads: {threads} by default")), "{r}");
        let j = report_json(&[QuantType::Q8_0]);
        assert_eq!(j.as_object().map(|o| o.len()), Some(4), "{j}");
        assert_eq!(report(&[]).lines().count(), 3);
        let only_q8 = format!("q8_0 {}", Kernels::from_env().unwrap_or(Kernels::best()).tier);
        assert_eq!(j["tier per format"].as_str(), Some(only_q8.as_str()), "{j}");
    }

    #[test]
    fn open_weights_maps_and_reports_missing_files() {
        let dir = std::env::temp_dir().join(format!("emberlm-platform-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.bin");
        std::fs::write(&path, vec![3u8; 1 << 16]).unwrap();
        let f = open_weights(&path).unwrap();
        assert_eq!(f.bytes().len(), 1 << 16);
        assert!(f.bytes().iter().all(|&b| b == 3));
        let err = open_weights(&dir.join("missing.gguf")).unwrap_err();
        assert!(err.contains("missing.gguf"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
