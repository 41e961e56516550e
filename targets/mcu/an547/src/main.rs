//! emberlm on QEMU mps3-an547 (Cortex-M55): stories260K (Q8_0 GGUF) in flash, opened
//! zero-copy. Semihosting command line `story PROMPT` continues the prompt on the console;
//! `chat` is served by the an386 firmware (this board's UART is not wired up here). Ends with the `stats:` line.
#![no_std]
#![no_main]

extern crate alloc;

use core::mem::MaybeUninit;
use core::ptr::addr_of;

use core::fmt::Write as _;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use embedded_alloc::LlffHeap;
use emberlm_mcu::alloc_count::CountingAlloc;
use emberlm_mcu::clock::{Clock, SysTickClock, systick_wrapped};
use emberlm_mcu::demo::{self, Mode};
use emberlm_mcu::fmt::Console;
use emberlm_mcu::{Engine, EngineOptions, StatsLine, stack};

#[cfg(feature = "defmt")]
use defmt_semihosting as _;

#[global_allocator]
static HEAP: CountingAlloc<LlffHeap> = CountingAlloc::new(LlffHeap::empty());

/// Core clock of the MPS3 AN547 image (32 MHz).
const CORE_HZ: u64 = 32_000_000;
/// Stack window painted at boot to find the high-water mark.
const STACK_PAINT: usize = 128 * 1024;

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

#[entry]
fn main() -> ! {
    let marker = 0u32;
    let sp = addr_of!(marker) as usize;
    // SAFETY: linker symbols; only their addresses are taken.
    let (top, ebss) = unsafe { (sym(&_stack_start), sym(&__ebss)) };
    let lo = top - STACK_PAINT;
    assert!(lo >= ebss, "the painted stack window overlaps .bss");
    // SAFETY: [lo, sp - 256) is stack below this frame (with a margin) that nothing uses yet.
    unsafe { stack::paint(lo, sp - 256) };
    let code = run(lo, sp - 256, top);
    semihosting::process::exit(code)
}

#[inline(never)]
fn run(paint_lo: usize, paint_hi: usize, stack_top: usize) -> i32 {
    // SAFETY: linker symbols; only their addresses are taken.
    let (heap_lo, heap_hi) = unsafe { (sym(&_heap_start), sym(&_heap_end)) };
    // SAFETY: [_heap_start, _heap_end) is the PSRAM region memory.x reserves for the heap.
    unsafe { HEAP.inner().init(heap_lo, heap_hi - heap_lo) };
    let cp = cortex_m::Peripherals::take().unwrap();
    let clock = SysTickClock::start(cp.SYST, CORE_HZ);

    let model: &'static [u8] = emberlm_mcu::include_model!(env!("EMBERLM_MCU_MODEL"));
    let mut cmd = [MaybeUninit::<u8>::uninit(); 512];
    let cmdline = semihosting::sys::arm_compat::sys_get_cmdline_uninit(&mut cmd).map(|b| &*b).unwrap_or(b"");
    let mode = demo::parse_cmdline(core::str::from_utf8(cmdline).unwrap_or(""));

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
        "emberlm on mps3-an547: model {} bytes in flash (zero-copy), context {}, kv {:?}, plan {} bytes, heap after init {} bytes in {} allocations",
        model.len(),
        plan.n_ctx,
        plan.kv_type,
        plan.total_bytes(),
        HEAP.current(),
        HEAP.calls()
    );
    let (tokens, ok) = match mode {
        Mode::Story(prompt) => match demo::story(&engine, prompt, demo::N_PREDICT, &mut con, &clock, || {
            HEAP.calls()
        }) {
            Ok(r) => {
                let _ = writeln!(
                    con,
                    "{}",
                    core::str::from_utf8(demo::summary(&r, clock.ticks_per_second()).bytes()).unwrap_or("")
                );
                (r.stats.tokens, r.allocation_free())
            }
            Err(e) => {
                let _ = writeln!(con, "error: {e}");
                return 2;
            }
        },
        Mode::Chat => {
            let _ = writeln!(con, "error: the serial chat runs on the an386 firmware");
            return 2;
        }
    };
    // SAFETY: the window painted in `main`, readable stack memory.
    let st = unsafe { stack::high_water(paint_lo, paint_hi, stack_top) };
    // SAFETY: linker symbols; only their addresses are taken.
    let (flash, statics) = unsafe {
        (
            sym(&__erodata) - sym(&_flash_origin)
                + (sym(&__edata) - sym(&__sdata))
                + (sym(&_emodel) - sym(&_smodel)),
            (sym(&__edata) - sym(&__sdata)) + (sym(&__ebss) - sym(&__sbss)),
        )
    };
    let _ = writeln!(
        con,
        "memory: heap peak {} bytes, stack {} bytes{}, statics {} bytes",
        HEAP.peak(),
        st.used,
        if st.overflowed { " (overflowed the painted window)" } else { "" },
        statics
    );
    if !ok {
        let _ = writeln!(con, "error: generation allocated memory");
    }
    let _ = writeln!(con, "{}", StatsLine { flash, ram_peak: HEAP.peak() + st.used + statics, tokens });
    if ok && !st.overflowed { 0 } else { 3 }
}

#[exception]
fn SysTick() {
    systick_wrapped();
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    semihosting::eprintln!("HARDFAULT at pc={:#010x}", ef.pc());
    semihosting::process::exit(102)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    semihosting::eprintln!("PANIC: {}", info);
    semihosting::process::exit(101)
}
