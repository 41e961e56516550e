//! emberlm on QEMU mps2-an386 (Cortex-M4F): stories260K (Q8_0 GGUF) in flash, opened
//! zero-copy. Semihosting command line `story PROMPT` continues the prompt on the console;
//! `chat` runs the serial chat on UART0 (`-serial stdio`). Ends with the `stats:` line.
//! The body is [`emberlm_mcu::firmware::run`]; this file holds what is the board's own.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::ptr::addr_of;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use embedded_alloc::LlffHeap;
use emberlm_mcu::alloc_count::CountingAlloc;
use emberlm_mcu::clock::{SysTickClock, systick_wrapped};
use emberlm_mcu::demo::{self, Mode};
use emberlm_mcu::firmware::{self, Board, Layout, PaintedStack};
use emberlm_mcu::uart::{CmsdkUart, MPS2_UART0};

#[cfg(feature = "defmt")]
use defmt_semihosting as _;

#[global_allocator]
static HEAP: CountingAlloc<LlffHeap> = CountingAlloc::new(LlffHeap::empty());

/// Core clock of the MPS2 FPGA images (25 MHz).
const CORE_HZ: u64 = 25_000_000;
/// Stack window painted at boot to find the high-water mark.
const STACK_PAINT: usize = 128 * 1024;

#[entry]
fn main() -> ! {
    let layout = emberlm_mcu::linker_layout!();
    let marker = 0u32;
    // SAFETY: first thing in the entry function; `marker` is in its frame.
    let stack = unsafe { firmware::paint_stack(&layout, addr_of!(marker) as usize, STACK_PAINT) };
    semihosting::process::exit(run(layout, stack))
}

#[inline(never)]
fn run(layout: Layout, stack: PaintedStack) -> i32 {
    // SAFETY: [_heap_start, _heap_end) is the PSRAM region memory.x reserves for the heap.
    unsafe { HEAP.inner().init(layout.heap_start, layout.heap_bytes()) };
    let cp = cortex_m::Peripherals::take().unwrap();
    let clock = SysTickClock::start(cp.SYST, CORE_HZ);
    let mut cmd = [MaybeUninit::<u8>::uninit(); 512];
    let cmdline = semihosting::sys::arm_compat::sys_get_cmdline_uninit(&mut cmd).map(|b| &*b).unwrap_or(b"");
    let cmdline = core::str::from_utf8(cmdline).unwrap_or("");
    // The UART is set up for the chat only.
    let serial = (demo::parse_cmdline(cmdline) == Mode::Chat).then(|| {
        // SAFETY: UART0 of the board; nothing else drives it.
        unsafe { CmsdkUart::new(MPS2_UART0, (CORE_HZ / 115_200) as u32) }
    });
    firmware::run(Board {
        name: "mps2-an386",
        heap: &HEAP,
        layout,
        stack,
        model: emberlm_mcu::include_model!(env!("EMBERLM_MCU_MODEL")),
        cmdline,
        clock,
        serial,
    })
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
