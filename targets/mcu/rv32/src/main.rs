//! emberlm on QEMU riscv32 `virt` (rv32imac, soft float: an ESP32-C6-class core): stories260K (Q8_0 GGUF) in flash, opened
//! zero-copy. Semihosting command line `story PROMPT` continues the prompt on the console;
//! `chat` is served by the an386 firmware (this board's UART is not wired up here). Ends with the `stats:` line.
//! The body is [`emberlm_mcu::firmware::run`]; this file holds what is the board's own.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::ptr::addr_of;

use embedded_alloc::LlffHeap;
use emberlm_mcu::alloc_count::CountingAlloc;
use emberlm_mcu::clock::Mmio64Clock;
use emberlm_mcu::firmware::{self, Board, Layout, NoSerial, PaintedStack};

#[cfg(feature = "defmt")]
use defmt_semihosting as _;

use riscv as _; // critical-section-single-hart

#[global_allocator]
static HEAP: CountingAlloc<LlffHeap> = CountingAlloc::new(LlffHeap::empty());

/// `mtime` of the virt board's ACLINT: address and rate.
const MTIME: usize = 0x0200_BFF8;
const MTIME_HZ: u64 = 10_000_000;
/// Stack window painted at boot to find the high-water mark.
const STACK_PAINT: usize = 128 * 1024;

#[riscv_rt::entry]
fn main() -> ! {
    let layout = emberlm_mcu::linker_layout!();
    let marker = 0u32;
    // SAFETY: first thing in the entry function; `marker` is in its frame.
    let stack = unsafe { firmware::paint_stack(&layout, addr_of!(marker) as usize, STACK_PAINT) };
    semihosting::process::exit(run(layout, stack))
}

#[inline(never)]
fn run(layout: Layout, stack: PaintedStack) -> i32 {
    // SAFETY: [_heap_start, _heap_end) is the region memory.x reserves for the heap.
    unsafe { HEAP.inner().init(layout.heap_start, layout.heap_bytes()) };
    // SAFETY: the virt board's ACLINT mtime register.
    let clock = unsafe { Mmio64Clock::new(MTIME, MTIME_HZ) };
    let mut cmd = [MaybeUninit::<u8>::uninit(); 512];
    let cmdline = semihosting::sys::arm_compat::sys_get_cmdline_uninit(&mut cmd).map(|b| &*b).unwrap_or(b"");
    firmware::run(Board {
        name: "riscv32 virt",
        heap: &HEAP,
        layout,
        stack,
        model: emberlm_mcu::include_model!(env!("EMBERLM_MCU_MODEL")),
        cmdline: core::str::from_utf8(cmdline).unwrap_or(""),
        clock,
        serial: None::<NoSerial>,
    })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    semihosting::eprintln!("PANIC: {}", info);
    semihosting::process::exit(101)
}
