//! emberlm on microcontrollers without an OS (`#![no_std]` + `alloc`).
//!
//! - [`model`]: a GGUF model opened zero-copy from `&'static [u8]` (an aligned
//!   [`include_model!`] blob or a memory-mapped flash region), every session buffer allocated
//!   once from the runtime's [`MemoryPlan`](emberlm::MemoryPlan) at init; generating allocates
//!   nothing.
//! - [`chat`]: [`SerialChat`](chat::SerialChat), a prompt-line-in, tokens-out loop over any
//!   `embedded_io::{Read, Write}` serial port.
//! - Platform seams, thin and generic: [`flash::FlashReader`] (memory-mapped, or SPI NOR over an
//!   embedded-hal 1.0 `SpiDevice`), [`clock::Clock`] (tokens/s), [`uart::CmsdkUart`] (the CMSDK
//!   APB UART of Arm's MPS2/MPS3 boards, as QEMU models them).
//! - Firmware helpers: [`firmware::run`] (the body the example firmwares share: model, story or
//!   chat, memory report, `stats:` line), [`alloc_count::CountingAlloc`] (heap peak and
//!   allocation count) and [`stack`] (painted-stack high-water mark).
//! - Logging through [`fmt`]: `defmt` on devices, or plain text over semihosting for CI (the
//!   `defmt` and `semihosting` features; never both).
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

#[macro_use]
pub mod fmt;

pub mod alloc_count;
pub mod chat;
pub mod clock;
pub mod decode;
pub mod demo;
pub mod firmware;
pub mod flash;
pub mod model;
pub mod stack;
pub mod uart;

pub use chat::SerialChat;
pub use model::{Aligned, Engine, EngineOptions, GenStats, Generator, McuError};

/// The closing line every firmware prints: `stats: flash=BYTES ram_peak=BYTES tokens=N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsLine {
    /// Bytes of flash used: firmware image (code, read-only data, `.data` initialisers) plus the
    /// model.
    pub flash: usize,
    /// Peak RAM: heap peak + stack high-water mark + statics (`.data` + `.bss`).
    pub ram_peak: usize,
    /// Tokens generated.
    pub tokens: usize,
}

impl core::fmt::Display for StatsLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "stats: flash={} ram_peak={} tokens={}", self.flash, self.ram_peak, self.tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::StatsLine;
    use alloc::string::ToString;

    #[test]
    fn stats_line_format() {
        let s = StatsLine { flash: 12, ram_peak: 34, tokens: 5 };
        assert_eq!(s.to_string(), "stats: flash=12 ram_peak=34 tokens=5");
    }
}
