//! A monotonic clock for tokens/s.

/// A free-running tick counter.
pub trait Clock {
    /// Ticks since some fixed point (wrapping).
    fn now(&self) -> u64;
    /// Ticks per second; 0 means the clock does not run (no rates are reported).
    fn ticks_per_second(&self) -> u64;
}

/// No clock: rates are not reported.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClock;

impl Clock for NoClock {
    fn now(&self) -> u64 {
        0
    }
    fn ticks_per_second(&self) -> u64 {
        0
    }
}

/// A memory-mapped 64-bit up-counter, e.g. the RISC-V `mtime` of a CLINT/ACLINT (QEMU `virt`:
/// `0x0200_BFF8`, 10 MHz).
#[derive(Debug)]
pub struct Mmio64Clock {
    addr: usize,
    hz: u64,
}

impl Mmio64Clock {
    /// A clock reading the 64-bit counter at `addr` (low word first), counting at `hz`.
    ///
    /// # Safety
    /// `addr` and `addr + 4` must be readable device registers of a free-running counter.
    pub const unsafe fn new(addr: usize, hz: u64) -> Self {
        Self { addr, hz }
    }
}

impl Clock for Mmio64Clock {
    fn now(&self) -> u64 {
        let (lo, hi) = (self.addr as *const u32, (self.addr + 4) as *const u32);
        loop {
            // SAFETY: `new`'s contract: both words are readable counter registers.
            let h0 = unsafe { hi.read_volatile() };
            // SAFETY: as above.
            let l = unsafe { lo.read_volatile() };
            // SAFETY: as above.
            let h1 = unsafe { hi.read_volatile() };
            if h0 == h1 {
                return (u64::from(h1) << 32) | u64::from(l);
            }
        }
    }
    fn ticks_per_second(&self) -> u64 {
        self.hz
    }
}

/// The Cortex-M SysTick timer as a 64-bit clock: SysTick counts the core clock down from a
/// 24-bit reload; [`systick_wrapped`] (called from the firmware's `SysTick` exception handler)
/// counts the wraps.
#[cfg(feature = "cortex-m")]
#[derive(Debug)]
pub struct SysTickClock {
    hz: u64,
}

#[cfg(feature = "cortex-m")]
static SYSTICK_WRAPS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

#[cfg(feature = "cortex-m")]
const SYSTICK_RELOAD: u32 = 0x00FF_FFFF;

/// Count one SysTick wrap: call it from `#[exception] fn SysTick()`.
#[cfg(feature = "cortex-m")]
pub fn systick_wrapped() {
    SYSTICK_WRAPS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
}

#[cfg(feature = "cortex-m")]
impl SysTickClock {
    /// Start SysTick on the core clock (`core_hz`) with its interrupt on.
    pub fn start(mut syst: cortex_m::peripheral::SYST, core_hz: u64) -> Self {
        use cortex_m::peripheral::syst::SystClkSource;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(SYSTICK_RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Self { hz: core_hz }
    }
}

#[cfg(feature = "cortex-m")]
impl Clock for SysTickClock {
    fn now(&self) -> u64 {
        use core::sync::atomic::Ordering::Relaxed;
        loop {
            let w0 = SYSTICK_WRAPS.load(Relaxed);
            let v = cortex_m::peripheral::SYST::get_current();
            let w1 = SYSTICK_WRAPS.load(Relaxed);
            if w0 == w1 {
                return u64::from(w0) * (u64::from(SYSTICK_RELOAD) + 1) + u64::from(SYSTICK_RELOAD - v);
            }
        }
    }
    fn ticks_per_second(&self) -> u64 {
        self.hz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmio_clock_reads_both_words() {
        let regs: [u32; 2] = [0x8000_0001, 0x2];
        // SAFETY: `regs` is readable for the whole test.
        let c = unsafe { Mmio64Clock::new(regs.as_ptr() as usize, 10_000_000) };
        assert_eq!(c.now(), 0x2_8000_0001);
        assert_eq!(c.ticks_per_second(), 10_000_000);
        assert_eq!(NoClock.ticks_per_second(), 0);
    }
}
