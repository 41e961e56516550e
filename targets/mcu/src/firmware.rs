//! The body every example firmware shares, board-independent: the linker layout it reports on,
//! the painted stack, and [`run`] (open the model, story or serial chat, the memory report and
//! the closing `stats:` line). A board's `main.rs` keeps only what is its own: the entry point,
//! the heap's allocator, the clock, the UART and the panic handler.
//!
//! ```ignore
//! #[entry]
//! fn main() -> ! {
//!     let layout = emberlm_mcu::linker_layout!();
//!     let marker = 0u32;
//!     // SAFETY: called first thing in the entry function, as `paint_stack` requires.
//!     let stack = unsafe { firmware::paint_stack(&layout, addr_of!(marker) as usize, 128 * 1024) };
//!     semihosting::process::exit(run(layout, stack))
//! }
//! ```

use core::alloc::GlobalAlloc;
use core::fmt::Write as _;

use crate::alloc_count::CountingAlloc;
use crate::clock::Clock;
use crate::demo::{self, Mode};
use crate::fmt::Console;
use crate::{Engine, EngineOptions, StatsLine, stack};

/// Addresses the linker script defines (cortex-m-rt / riscv-rt names plus the `memory.x` ones
/// of these firmwares: `_flash_origin`, `_smodel`/`_emodel`, `_heap_start`/`_heap_end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Start of flash.
    pub flash_origin: usize,
    /// End of `.rodata` (code and read-only data lie below it).
    pub erodata: usize,
    /// `.data` (its initialisers are in flash too).
    pub sdata: usize,
    /// End of `.data`.
    pub edata: usize,
    /// `.bss`.
    pub sbss: usize,
    /// End of `.bss`.
    pub ebss: usize,
    /// The model blob in flash.
    pub smodel: usize,
    /// End of the model blob.
    pub emodel: usize,
    /// Initial stack pointer (the stack grows down from here).
    pub stack_start: usize,
    /// The heap arena.
    pub heap_start: usize,
    /// End of the heap arena.
    pub heap_end: usize,
}

impl Layout {
    /// Flash used: code and read-only data, `.data` initialisers and the model.
    pub fn flash_bytes(&self) -> usize {
        self.erodata - self.flash_origin + (self.edata - self.sdata) + (self.emodel - self.smodel)
    }

    /// RAM of the statics: `.data` + `.bss`.
    pub fn statics_bytes(&self) -> usize {
        (self.edata - self.sdata) + (self.ebss - self.sbss)
    }

    /// The heap arena's size.
    pub fn heap_bytes(&self) -> usize {
        self.heap_end - self.heap_start
    }
}

/// Declares the linker symbols of [`Layout`] and evaluates to the firmware's `Layout`.
#[macro_export]
macro_rules! linker_layout {
    () => {{
        unsafe extern "C" {
            static _flash_origin: u8;
            static __erodata: u8;
            static __sdata: u8;
            static __edata: u8;
            static __sbss: u8;
            static __ebss: u8;
            static _smodel: u8;
            static _emodel: u8;
            static _stack_start: u8;
            static _heap_start: u8;
            static _heap_end: u8;
        }
        fn sym(s: &u8) -> usize {
            s as *const u8 as usize
        }
        // SAFETY: linker symbols; only their addresses are taken, nothing is read.
        unsafe {
            $crate::firmware::Layout {
                flash_origin: sym(&_flash_origin),
                erodata: sym(&__erodata),
                sdata: sym(&__sdata),
                edata: sym(&__edata),
                sbss: sym(&__sbss),
                ebss: sym(&__ebss),
                smodel: sym(&_smodel),
                emodel: sym(&_emodel),
                stack_start: sym(&_stack_start),
                heap_start: sym(&_heap_start),
                heap_end: sym(&_heap_end),
            }
        }
    }};
}

/// The stack window painted at boot, to measure the high-water mark at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaintedStack {
    lo: usize,
    hi: usize,
    top: usize,
}

/// Paint the `window` bytes below the stack top, up to 256 bytes under `sp` (the caller's
/// frame).
///
/// # Safety
/// Call it first thing in the entry function, with `sp` the address of one of its locals:
/// everything from 256 bytes below it down to `stack_start - window` must be unused stack.
/// Panics if the window reaches into `.bss`.
pub unsafe fn paint_stack(layout: &Layout, sp: usize, window: usize) -> PaintedStack {
    let top = layout.stack_start;
    let lo = top - window;
    assert!(lo >= layout.ebss, "the painted stack window overlaps .bss");
    // SAFETY: [lo, sp - 256) is stack below the caller's frame (with a margin) that nothing
    // uses yet, as the caller guarantees.
    unsafe { stack::paint(lo, sp - 256) };
    PaintedStack { lo, hi: sp - 256, top }
}

/// What one board brings to [`run`].
#[derive(Debug)]
pub struct Board<'a, A, C, P> {
    /// The board's name in the banner (`mps2-an386`).
    pub name: &'a str,
    /// The counting global allocator, its arena already initialised.
    pub heap: &'a CountingAlloc<A>,
    /// From [`linker_layout!`].
    pub layout: Layout,
    /// From [`paint_stack`].
    pub stack: PaintedStack,
    /// The GGUF model in flash.
    pub model: &'static [u8],
    /// The semihosting command line (`story PROMPT` or `chat`).
    pub cmdline: &'a str,
    /// Tokens/s.
    pub clock: C,
    /// The serial port of the chat, on boards that have one wired up.
    pub serial: Option<P>,
}

/// A serial port type for boards without one (it cannot be built).
#[derive(Debug)]
pub enum NoSerial {}

impl embedded_io::ErrorType for NoSerial {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for NoSerial {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        match *self {}
    }
}

impl embedded_io::Write for NoSerial {
    fn write(&mut self, _: &[u8]) -> Result<usize, Self::Error> {
        match *self {}
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        match *self {}
    }
}

/// The firmware: open the model, run the command line's mode, report memory and print the
/// `stats:` line. Returns the exit code: 0 ok, 2 error, 3 allocation during generation or a
/// stack overflowing the painted window.
pub fn run<A, C, P>(board: Board<'_, A, C, P>) -> i32
where
    A: GlobalAlloc,
    C: Clock,
    P: embedded_io::Read + embedded_io::Write,
{
    let Board { name, heap, layout, stack: painted, model, cmdline, clock, serial } = board;
    let mode = demo::parse_cmdline(cmdline);
    let mut con = Console::new();
    let engine = match Engine::open(model, &EngineOptions::default()) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(con, "error: {e}");
            return 2;
        }
    };
    let plan = engine.plan();
    let _ = writeln!(
        con,
        "emberlm on {name}: model {} bytes in flash (zero-copy), context {}, kv {:?}, plan {} bytes, heap after init {} bytes in {} allocations",
        model.len(),
        plan.n_ctx,
        plan.kv_type,
        plan.total_bytes(),
        heap.current(),
        heap.calls()
    );
    let (tokens, ok) = match (mode, serial) {
        (Mode::Story(prompt), _) => {
            match demo::story(&engine, prompt, demo::N_PREDICT, &mut con, &clock, || heap.calls()) {
                Ok(r) => {
                    let summary = demo::summary(&r, clock.ticks_per_second());
                    let _ = writeln!(con, "{}", core::str::from_utf8(summary.bytes()).unwrap_or(""));
                    (r.stats.tokens, r.allocation_free())
                }
                Err(e) => {
                    let _ = writeln!(con, "error: {e}");
                    return 2;
                }
            }
        }
        (Mode::Chat, Some(port)) => {
            let retained = heap.current();
            match demo::chat(&engine, port, demo::N_PREDICT, &clock) {
                Ok(t) => (t.tokens, heap.current() == retained),
                Err(e) => {
                    let _ = writeln!(con, "error: {e}");
                    return 2;
                }
            }
        }
        (Mode::Chat, None) => {
            let _ = writeln!(con, "error: the serial chat runs on the an386 firmware");
            return 2;
        }
    };
    // SAFETY: the window `paint_stack` painted: stack memory, readable.
    let st = unsafe { stack::high_water(painted.lo, painted.hi, painted.top) };
    let statics = layout.statics_bytes();
    let _ = writeln!(
        con,
        "memory: heap peak {} bytes, stack {} bytes{}, statics {} bytes",
        heap.peak(),
        st.used,
        if st.overflowed { " (overflowed the painted window)" } else { "" },
        statics
    );
    if !ok {
        let _ = writeln!(con, "error: generation allocated memory");
    }
    let stats = StatsLine { flash: layout.flash_bytes(), ram_peak: heap.peak() + st.used + statics, tokens };
    let _ = writeln!(con, "{stats}");
    if ok && !st.overflowed { 0 } else { 3 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_sizes() {
        let l = Layout {
            flash_origin: 0,
            erodata: 0x1_0000,
            sdata: 0x2000_0000,
            edata: 0x2000_0100,
            sbss: 0x2000_0100,
            ebss: 0x2000_0400,
            smodel: 0x1_0000,
            emodel: 0x1_8000,
            stack_start: 0x2040_0000,
            heap_start: 0x2100_0000,
            heap_end: 0x2200_0000,
        };
        assert_eq!(l.flash_bytes(), 0x1_0000 + 0x100 + 0x8000);
        assert_eq!(l.statics_bytes(), 0x400);
        assert_eq!(l.heap_bytes(), 16 << 20);
    }
}
