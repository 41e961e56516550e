//! Adapter for desktop x86_64/aarch64 Linux, macOS and Windows: the thread count from physical
//! cores, the kernel-tier report and `madvise` hints for memory-mapped weights.
//!
//! Also the shared Linux helpers of the Raspberry Pi adapter (`/proc/cpuinfo` parsing,
//! transparent huge pages, `madvise`).

use std::collections::BTreeSet;

use emberlm::quant::Kernels;

/// Physical cores in a `/proc/cpuinfo` text: distinct (`physical id`, `core id`) pairs (x86),
/// else the number of `processor` entries (ARM kernels list one entry per core and have no SMT).
pub fn physical_cores_from_cpuinfo(cpuinfo: &str) -> Option<usize> {
    let mut pairs = BTreeSet::new();
    let mut processors = 0;
    let (mut phys, mut core) = (None, None);
    for line in cpuinfo.lines().chain(std::iter::once("")) {
        let (k, v) = line.split_once(':').map(|(k, v)| (k.trim(), v.trim())).unwrap_or((line.trim(), ""));
        match k {
            "processor" => processors += 1,
            "physical id" => phys = Some(v.to_string()),
            "core id" => core = Some(v.to_string()),
            "" => {
                if let (Some(p), Some(c)) = (phys.take(), core.take()) {
                    pairs.insert((p, c));
                }
            }
            _ => {}
        }
    }
    if !pairs.is_empty() {
        Some(pairs.len())
    } else if processors > 0 {
        Some(processors)
    } else {
        None
    }
}

/// The CPU's name in a `/proc/cpuinfo` text: x86's `model name`, else an aarch64 kernel's
/// `Model` line (Raspberry Pi OS), else `None`.
pub fn cpu_name_from_cpuinfo(cpuinfo: &str) -> Option<String> {
    let field = |key: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    };
    field("model name").or_else(|| field("Model"))
}

/// Threads for the matrix products: one per physical core (SMT siblings share the core's
/// vector units and only add contention), at most what the process may run on.
pub fn default_threads() -> usize {
    let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
    let physical =
        std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| physical_cores_from_cpuinfo(&s));
    physical.map_or(allowed, |p| p.min(allowed)).max(1)
}

/// One line naming the kernel tier in use and why (`EMBERLM_TIER` or detection).
pub fn tier_report(kernels: &Kernels) -> String {
    let source = match std::env::var("EMBERLM_TIER") {
        Ok(v) => format!("EMBERLM_TIER={v}"),
        Err(_) => "best this CPU runs".to_string(),
    };
    format!("kernels: {} ({source}); threads: {}", kernels.tier, default_threads())
}

/// Whether transparent huge pages may be requested with `madvise(MADV_HUGEPAGE)`, from the
/// text of `/sys/kernel/mm/transparent_hugepage/enabled` (e.g. `always [madvise] never`).
pub fn thp_madvise_allowed(enabled: &str) -> bool {
    enabled.contains("[always]") || enabled.contains("[madvise]")
}

/// `madvise` hints for a model's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightAdvice {
    /// `MADV_WILLNEED`: start reading the weights in now (every token reads all of them).
    pub will_need: bool,
    /// `MADV_HUGEPAGE`: fewer TLB misses on multi-MiB weights (honoured for file mappings only
    /// where the kernel supports huge pages in the page cache; asked only where THP allows it).
    pub huge_pages: bool,
}

impl WeightAdvice {
    /// The hints worth giving for `len` bytes of weights on this machine.
    pub fn for_len(len: usize) -> Self {
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .is_ok_and(|s| thp_madvise_allowed(&s));
        Self { will_need: true, huge_pages: thp && len >= 2 << 20 }
    }
}

/// Apply `advice` to the pages holding `bytes` (a memory-mapped model). Errors are returned per
/// hint as OS errors; a hint that fails changes nothing but speed.
#[cfg(unix)]
pub fn advise_weights(bytes: &[u8], advice: WeightAdvice) -> Vec<std::io::Error> {
    let mut errors = Vec::new();
    if bytes.is_empty() {
        return errors;
    }
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
    let start = bytes.as_ptr() as usize / page * page;
    let len = bytes.as_ptr() as usize + bytes.len() - start;
    let mut hint = |flag| {
        // SAFETY: [start, start + len) covers only pages of `bytes`, which are mapped; madvise
        // hints do not change their contents.
        if unsafe { libc::madvise(start as *mut libc::c_void, len, flag) } != 0 {
            errors.push(std::io::Error::last_os_error());
        }
    };
    if advice.will_need {
        hint(libc::MADV_WILLNEED);
    }
    #[cfg(target_os = "linux")]
    if advice.huge_pages {
        hint(libc::MADV_HUGEPAGE);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86_SMT: &str = "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\nflags\t\t: avx2 fma\n\n\
processor\t: 1\nphysical id\t: 0\ncore id\t\t: 1\n\nprocessor\t: 2\nphysical id\t: 0\ncore id\t\t: 0\n\n\
processor\t: 3\nphysical id\t: 0\ncore id\t\t: 1\n\n";

    const ARM: &str = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd\n\nprocessor\t: 1\n\n\
processor\t: 2\n\nprocessor\t: 3\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";

    #[test]
    fn physical_cores() {
        assert_eq!(physical_cores_from_cpuinfo(X86_SMT), Some(2));
        assert_eq!(physical_cores_from_cpuinfo(ARM), Some(4));
        assert_eq!(physical_cores_from_cpuinfo(""), None);
        assert_eq!(cpu_name_from_cpuinfo(ARM).as_deref(), Some("Raspberry Pi 4 Model B Rev 1.4"));
        let x86 = "processor\t: 0\nmodel name\t: AMD Ryzen 7 5800X 8-Core Processor\n";
        assert_eq!(cpu_name_from_cpuinfo(x86).as_deref(), Some("AMD Ryzen 7 5800X 8-Core Processor"));
        assert_eq!(cpu_name_from_cpuinfo(X86_SMT), None);
        assert!(default_threads() >= 1);
    }

    #[test]
    fn thp_modes() {
        assert!(thp_madvise_allowed("always [madvise] never\n"));
        assert!(thp_madvise_allowed("[always] madvise never"));
        assert!(!thp_madvise_allowed("always madvise [never]"));
    }

    #[cfg(unix)]
    #[test]
    fn advice_applies_to_real_pages() {
        let v = vec![7u8; 3 << 20];
        assert!(advise_weights(&v[100..], WeightAdvice { will_need: true, huge_pages: false }).is_empty());
        assert_eq!(v[5], 7);
    }

    #[test]
    fn report_names_the_tier() {
        let r = tier_report(Kernels::best());
        assert!(r.starts_with(&format!("kernels: {}", Kernels::best().tier)), "{r}");
    }
}
