//! The CMSDK APB UART of Arm's MPS2/MPS3 FPGA boards (as QEMU's `mps2-an385/386/500/505` and
//! `mps3-an547` model it), as `embedded_io::{Read, Write}`. With `qemu-system-arm -serial stdio`
//! UART0 is the terminal.

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};

/// `DATA` register: received byte / byte to send.
const DATA: usize = 0;
/// `STATE`: bit 0 TX buffer full, bit 1 RX buffer full.
const STATE: usize = 1;
/// `CTRL`: bit 0 TX enable, bit 1 RX enable.
const CTRL: usize = 2;
/// `BAUDDIV`: clock divider, at least 16.
const BAUDDIV: usize = 4;

const TX_FULL: u32 = 1 << 0;
const RX_FULL: u32 = 1 << 1;

/// UART0 of `mps2-an385` / `mps2-an386` / `mps2-an500`.
pub const MPS2_UART0: usize = 0x4000_4000;

/// A CMSDK APB UART, polled.
#[derive(Debug)]
pub struct CmsdkUart {
    regs: *mut u32,
}

impl CmsdkUart {
    /// Take the UART at `base`, set its divider (`clock / baud`, at least 16) and enable TX and
    /// RX.
    ///
    /// # Safety
    /// `base` must be a CMSDK APB UART's register block that nothing else uses.
    pub unsafe fn new(base: usize, bauddiv: u32) -> Self {
        let uart = Self { regs: base as *mut u32 };
        uart.set(BAUDDIV, bauddiv.max(16));
        uart.set(CTRL, 0b11);
        uart
    }

    fn get(&self, reg: usize) -> u32 {
        // SAFETY: `new`'s contract: `regs` is the UART's register block, `reg` one of its words.
        unsafe { self.regs.wrapping_add(reg).read_volatile() }
    }

    fn set(&self, reg: usize, v: u32) {
        // SAFETY: as in `get`.
        unsafe { self.regs.wrapping_add(reg).write_volatile(v) }
    }
}

impl ErrorType for CmsdkUart {
    type Error = core::convert::Infallible;
}

impl Read for CmsdkUart {
    /// Blocks until a byte arrives, then returns what is there (at most `buf.len()` bytes).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.get(STATE) & RX_FULL == 0 {}
        let mut n = 0;
        while n < buf.len() && self.get(STATE) & RX_FULL != 0 {
            buf[n] = self.get(DATA) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl ReadReady for CmsdkUart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.get(STATE) & RX_FULL != 0)
    }
}

impl Write for CmsdkUart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            while self.get(STATE) & TX_FULL != 0 {}
            self.set(DATA, u32::from(b));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        while self.get(STATE) & TX_FULL != 0 {}
        Ok(())
    }
}

impl WriteReady for CmsdkUart {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.get(STATE) & TX_FULL == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_driven_as_the_cmsdk_spec_says() {
        let mut regs = [0u32; 5];
        {
            // SAFETY: `regs` stands in for the register block while `u` lives.
            let mut u = unsafe { CmsdkUart::new(regs.as_mut_ptr() as usize, 3) };
            assert_eq!(u.write(b"hi").unwrap(), 2);
            assert!(u.write_ready().unwrap());
            assert!(!u.read_ready().unwrap());
        }
        assert_eq!(regs[BAUDDIV], 16, "the divider is clamped to the minimum of 16");
        assert_eq!(regs[CTRL], 0b11);
        assert_eq!(regs[DATA], u32::from(b'i'), "the last byte written");
        // A received byte: RX full stays set in this fake, so a read fills the buffer.
        regs[STATE] = RX_FULL;
        regs[DATA] = u32::from(b'x');
        // SAFETY: as above.
        let mut u = unsafe { CmsdkUart::new(regs.as_mut_ptr() as usize, 25_000_000 / 115_200) };
        let mut buf = [0u8; 3];
        assert_eq!(u.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf, b"xxx");
    }
}
