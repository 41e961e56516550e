//! Adapter for the Raspberry Pi (aarch64 Linux): which Pi this is (from
//! `/proc/device-tree/model` or `/proc/cpuinfo`), which kernel tier it should run (Pi 4's
//! Cortex-A72 has no dotprod, Pi 5's Cortex-A76 has), a thread policy and `madvise` hints for
//! the weights (see [`emberlm_desktop::advise_weights`]).

use emberlm::quant::{Kernels, Tier};
pub use emberlm_desktop::{WeightAdvice, advise_weights};

/// The boards told apart here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PiModel {
    /// Pi 3 / 3+ (Cortex-A53).
    Pi3,
    /// Pi Zero 2 W (Cortex-A53).
    Zero2,
    /// Pi 4 / 400 / CM4 (Cortex-A72).
    Pi4,
    /// Pi 5 / 500 / CM5 (Cortex-A76).
    Pi5,
    /// Another Raspberry Pi (the model string).
    OtherPi(String),
    /// Not a Raspberry Pi (or not detectable).
    NotPi,
}

/// The Arm core, from `/proc/cpuinfo`'s `CPU part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Core {
    /// 0xd03
    CortexA53,
    /// 0xd08
    CortexA72,
    /// 0xd0b
    CortexA76,
    /// Any other part number.
    Other(u16),
}

impl Core {
    /// From the `CPU part` value (`0xd08`).
    pub fn from_part(part: u16) -> Self {
        match part {
            0xd03 => Self::CortexA53,
            0xd08 => Self::CortexA72,
            0xd0b => Self::CortexA76,
            p => Self::Other(p),
        }
    }

    /// Whether the core has the SDOT/UDOT instructions (FEAT_DotProd).
    pub fn has_dotprod(self) -> Option<bool> {
        match self {
            Self::CortexA53 | Self::CortexA72 => Some(false),
            Self::CortexA76 => Some(true),
            Self::Other(_) => None,
        }
    }
}

impl PiModel {
    /// From a model string (`/proc/device-tree/model`, NUL-terminated, or cpuinfo's `Model`).
    pub fn from_model_string(s: &str) -> Self {
        let s = s.trim_end_matches('\0').trim();
        if !s.starts_with("Raspberry Pi") {
            return Self::NotPi;
        }
        let rest = &s["Raspberry Pi".len()..];
        let word = rest.split_whitespace().next().unwrap_or("");
        match word {
            "5" | "500" => Self::Pi5,
            "4" | "400" => Self::Pi4,
            "3" => Self::Pi3,
            "Zero" if rest.contains("Zero 2") => Self::Zero2,
            "Compute" if rest.contains("Module 5") => Self::Pi5,
            "Compute" if rest.contains("Module 4") => Self::Pi4,
            _ => Self::OtherPi(s.to_string()),
        }
    }

    /// The board's core.
    pub fn core(&self) -> Option<Core> {
        match self {
            Self::Pi3 | Self::Zero2 => Some(Core::CortexA53),
            Self::Pi4 => Some(Core::CortexA72),
            Self::Pi5 => Some(Core::CortexA76),
            _ => None,
        }
    }
}

/// What `/proc/cpuinfo` says: the `Model` line, the first `CPU part`, whether `Features` lists
/// `asimddp` (dotprod), and the processor count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuInfo {
    /// `Model` (Raspberry Pi OS kernels print it).
    pub model: Option<String>,
    /// `CPU part`.
    pub part: Option<u16>,
    /// `asimddp` in `Features`.
    pub dotprod: bool,
    /// `processor` entries.
    pub cpus: usize,
}

/// Parse an aarch64 `/proc/cpuinfo`.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => info.cpus += 1,
            "Model" => info.model = Some(v.to_string()),
            "CPU part" if info.part.is_none() => {
                info.part = u16::from_str_radix(v.trim_start_matches("0x"), 16).ok();
            }
            "Features" => info.dotprod |= v.split_whitespace().any(|f| f == "asimddp"),
            _ => {}
        }
    }
    info
}

/// What the machine is and how to run on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The board.
    pub model: PiModel,
    /// The core (from cpuinfo's `CPU part`, else from the board).
    pub core: Option<Core>,
    /// Whether the CPU reports dotprod.
    pub dotprod: bool,
    /// CPUs listed.
    pub cpus: usize,
}

impl Platform {
    /// From the texts of `/proc/device-tree/model` (if readable) and `/proc/cpuinfo`.
    pub fn from_texts(device_tree_model: Option<&str>, cpuinfo: &str) -> Self {
        let info = parse_cpuinfo(cpuinfo);
        let model = device_tree_model
            .map(PiModel::from_model_string)
            .filter(|m| *m != PiModel::NotPi)
            .or_else(|| info.model.as_deref().map(PiModel::from_model_string))
            .unwrap_or(PiModel::NotPi);
        let core = info.part.map(Core::from_part).or_else(|| model.core());
        let dotprod = info.dotprod || (info.part.is_none() && core.and_then(Core::has_dotprod) == Some(true));
        Self { model, core, dotprod, cpus: info.cpus }
    }

    /// This machine.
    pub fn detect() -> Self {
        let dt = std::fs::read_to_string("/proc/device-tree/model").ok();
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self::from_texts(dt.as_deref(), &cpuinfo)
    }

    /// The tier the kernels should use here: dotprod where the core has it, else NEON.
    pub fn expected_tier(&self) -> Tier {
        if self.dotprod { Tier::Dotprod } else { Tier::Neon }
    }

    /// Threads: every core (the Pi's cores have no SMT; 4 on a Pi 3/4/5), one less on boards
    /// with 512 MiB or less where the OS needs a core (Zero 2), at most what the process may use.
    pub fn threads(&self) -> usize {
        let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cores = if self.cpus > 0 { self.cpus } else { allowed };
        let cores = if self.model == PiModel::Zero2 { cores.saturating_sub(1) } else { cores };
        cores.min(allowed).max(1)
    }

    /// A report: board, core, dotprod, the tier in use against the expected one, threads.
    pub fn report(&self, kernels: &Kernels) -> String {
        let expected = self.expected_tier();
        let note = if kernels.tier == expected {
            String::new()
        } else {
            format!(" (expected {expected} on this CPU)")
        };
        format!(
            "board: {:?}; core: {:?}; dotprod: {}; kernels: {}{note}; threads: {}",
            self.model,
            self.core,
            self.dotprod,
            kernels.tier,
            self.threads()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PI4_CPUINFO: &str = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n\
CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n\
processor\t: 1\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n\n\
processor\t: 2\nCPU part\t: 0xd08\n\nprocessor\t: 3\nCPU part\t: 0xd08\n\n\
Revision\t: c03114\nSerial\t\t: 10000000abcdef01\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";

    const PI5_CPUINFO: &str = "processor\t: 0\nBogoMIPS\t: 108.00\n\
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n\
CPU implementer\t: 0x41\nCPU part\t: 0xd0b\n\nprocessor\t: 1\n\nprocessor\t: 2\n\nprocessor\t: 3\n\n\
Revision\t: d04170\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n";

    /// A mainline kernel: no `Model` line, no device tree readable.
    const GENERIC_A76: &str =
        "processor\t: 0\nFeatures\t: fp asimd asimddp\nCPU part\t: 0xd0b\n\nprocessor\t: 1\n";

    #[test]
    fn pi4_from_cpuinfo() {
        let p = Platform::from_texts(None, PI4_CPUINFO);
        assert_eq!(p.model, PiModel::Pi4);
        assert_eq!(p.core, Some(Core::CortexA72));
        assert!(!p.dotprod);
        assert_eq!(p.cpus, 4);
        assert_eq!(p.expected_tier(), Tier::Neon);
    }

    #[test]
    fn pi5_from_device_tree_and_cpuinfo() {
        let p = Platform::from_texts(Some("Raspberry Pi 5 Model B Rev 1.0\0"), PI5_CPUINFO);
        assert_eq!(p.model, PiModel::Pi5);
        assert_eq!(p.core, Some(Core::CortexA76));
        assert!(p.dotprod);
        assert_eq!(p.expected_tier(), Tier::Dotprod);
    }

    #[test]
    fn device_tree_wins_and_other_boards() {
        assert_eq!(Platform::from_texts(Some("Raspberry Pi 4 Model B Rev 1.5\0"), "").model, PiModel::Pi4);
        assert_eq!(PiModel::from_model_string("Raspberry Pi Zero 2 W Rev 1.0"), PiModel::Zero2);
        assert_eq!(PiModel::from_model_string("Raspberry Pi 3 Model B Plus Rev 1.3"), PiModel::Pi3);
        assert_eq!(PiModel::from_model_string("Raspberry Pi Compute Module 4 Rev 1.0"), PiModel::Pi4);
        assert_eq!(PiModel::from_model_string("Raspberry Pi 400 Rev 1.0"), PiModel::Pi4);
        assert_eq!(
            PiModel::from_model_string("Raspberry Pi Model B Rev 2"),
            PiModel::OtherPi("Raspberry Pi Model B Rev 2".into())
        );
        assert_eq!(PiModel::from_model_string("Pine64 RockPro64"), PiModel::NotPi);
        // Pi 5 board, but the device tree alone (no cpuinfo): dotprod from the core.
        let p = Platform::from_texts(Some("Raspberry Pi 5 Model B Rev 1.0"), "");
        assert!(p.dotprod && p.core == Some(Core::CortexA76));
    }

    #[test]
    fn generic_kernel_core_from_part() {
        let p = Platform::from_texts(None, GENERIC_A76);
        assert_eq!(p.model, PiModel::NotPi);
        assert_eq!(p.core, Some(Core::CortexA76));
        assert!(p.dotprod);
        assert_eq!(p.cpus, 2);
    }

    #[test]
    fn threads_and_report() {
        let p = Platform::from_texts(None, PI4_CPUINFO);
        let allowed = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(p.threads(), 4.min(allowed));
        let z = Platform { model: PiModel::Zero2, core: Some(Core::CortexA53), dotprod: false, cpus: 4 };
        assert_eq!(z.threads(), 3.min(allowed));
        let r = p.report(Kernels::best());
        assert!(r.contains("board: Pi4") && r.contains("dotprod: false"), "{r}");
    }
}
