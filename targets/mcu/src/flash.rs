//! Reading model bytes from flash, for the expert pager (experts stay in flash; a bounded RAM
//! cache holds the hot ones): memory-mapped flash, or a SPI NOR chip behind an embedded-hal 1.0
//! [`SpiDevice`].

use embedded_hal::spi::{Operation, SpiDevice};

/// Random-access reads of a flash region.
pub trait FlashReader {
    /// Why a read failed.
    type Error: core::fmt::Debug;

    /// Bytes in the region.
    fn capacity(&self) -> usize;

    /// Fill `buf` with the bytes at `offset..offset + buf.len()`.
    fn read(&mut self, offset: usize, buf: &mut [u8]) -> Result<(), FlashError<Self::Error>>;

    /// The whole region as a slice, when it is memory-mapped (then no copy is needed at all).
    fn mapped(&self) -> Option<&[u8]> {
        None
    }
}

/// A flash read error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError<E> {
    /// `offset + len` is past the end of the region.
    OutOfRange {
        /// first byte asked for
        offset: usize,
        /// bytes asked for
        len: usize,
        /// region size
        capacity: usize,
    },
    /// The bus failed.
    Bus(E),
}

fn check<E>(offset: usize, len: usize, capacity: usize) -> Result<(), FlashError<E>> {
    match offset.checked_add(len) {
        Some(end) if end <= capacity => Ok(()),
        _ => Err(FlashError::OutOfRange { offset, len, capacity }),
    }
}

/// Memory-mapped flash (internal flash, XIP QSPI): reads are copies, [`FlashReader::mapped`]
/// gives the bytes themselves.
#[derive(Debug, Clone, Copy)]
pub struct MappedFlash<'a> {
    bytes: &'a [u8],
}

impl<'a> MappedFlash<'a> {
    /// Flash mapped at `bytes` (see [`crate::model::flash_slice`]).
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
}

impl FlashReader for MappedFlash<'_> {
    type Error = core::convert::Infallible;

    fn capacity(&self) -> usize {
        self.bytes.len()
    }

    fn read(&mut self, offset: usize, buf: &mut [u8]) -> Result<(), FlashError<Self::Error>> {
        check(offset, buf.len(), self.bytes.len())?;
        buf.copy_from_slice(&self.bytes[offset..offset + buf.len()]);
        Ok(())
    }

    fn mapped(&self) -> Option<&[u8]> {
        Some(self.bytes)
    }
}

/// A SPI NOR flash (W25Q-, MX25-, IS25-style JEDEC command set): `READ` (0x03) with a 3-byte
/// address up to 16 MiB, `READ4B` (0x13) with a 4-byte address above.
#[derive(Debug)]
pub struct SpiNorFlash<S> {
    spi: S,
    capacity: usize,
    base: usize,
}

/// JEDEC `READ DATA`, 3-byte address.
pub const CMD_READ: u8 = 0x03;
/// `READ DATA` with a 4-byte address.
pub const CMD_READ4B: u8 = 0x13;

impl<S: SpiDevice> SpiNorFlash<S> {
    /// The `capacity` bytes at `base` of the chip on `spi` (the model's partition).
    pub fn new(spi: S, base: usize, capacity: usize) -> Self {
        Self { spi, capacity, base }
    }

    /// The SPI device back.
    pub fn release(self) -> S {
        self.spi
    }
}

impl<S: SpiDevice> FlashReader for SpiNorFlash<S> {
    type Error = S::Error;

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn read(&mut self, offset: usize, buf: &mut [u8]) -> Result<(), FlashError<S::Error>> {
        check(offset, buf.len(), self.capacity)?;
        if buf.is_empty() {
            return Ok(());
        }
        let addr = (self.base + offset) as u32;
        let end = self.base + self.capacity;
        let (cmd, n) = if end > 1 << 24 {
            let a = addr.to_be_bytes();
            ([CMD_READ4B, a[0], a[1], a[2], a[3]], 5)
        } else {
            let a = addr.to_be_bytes();
            ([CMD_READ, a[1], a[2], a[3], 0], 4)
        };
        self.spi
            .transaction(&mut [Operation::Write(&cmd[..n]), Operation::Read(buf)])
            .map_err(FlashError::Bus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// A SPI NOR chip simulated byte for byte: decodes the command phase, serves reads.
    struct FakeNor {
        mem: Vec<u8>,
        commands: Vec<Vec<u8>>,
        origin: usize,
    }

    impl embedded_hal::spi::ErrorType for FakeNor {
        type Error = core::convert::Infallible;
    }

    impl SpiDevice for FakeNor {
        fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Self::Error> {
            let mut addr = None;
            for op in ops {
                match op {
                    Operation::Write(w) => {
                        self.commands.push(w.to_vec());
                        addr = Some(match w[0] {
                            CMD_READ => u32::from_be_bytes([0, w[1], w[2], w[3]]) as usize,
                            CMD_READ4B => u32::from_be_bytes([w[1], w[2], w[3], w[4]]) as usize,
                            c => panic!("unexpected command {c:#x}"),
                        });
                    }
                    Operation::Read(r) => {
                        let a = addr.expect("read before the command") - self.origin;
                        r.copy_from_slice(&self.mem[a..a + r.len()]);
                    }
                    _ => panic!("unexpected operation"),
                }
            }
            Ok(())
        }
    }

    #[test]
    fn spi_nor_reads_the_right_bytes() {
        let mem: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut f =
            SpiNorFlash::new(FakeNor { mem: mem.clone(), commands: Vec::new(), origin: 0 }, 1024, 2048);
        let mut buf = [0u8; 10];
        f.read(100, &mut buf).unwrap();
        assert_eq!(&buf, &mem[1124..1134]);
        assert_eq!(f.spi.commands[0], [CMD_READ, 0, 0x04, 0x64]);
        assert_eq!(
            f.read(2040, &mut buf),
            Err(FlashError::OutOfRange { offset: 2040, len: 10, capacity: 2048 })
        );
        assert_eq!(f.spi.commands.len(), 1);
    }

    #[test]
    fn spi_nor_uses_4_byte_addresses_past_16_mib() {
        // The fake chip's memory starts at chip address `origin`.
        let origin = (1usize << 24) - 16;
        let mem: Vec<u8> = (0..64u8).collect();
        let fake = FakeNor { mem, commands: Vec::new(), origin };
        let mut f = SpiNorFlash::new(fake, origin, 64);
        let mut buf = [0u8; 4];
        f.read(20, &mut buf).unwrap();
        assert_eq!(buf, [20, 21, 22, 23]);
        assert_eq!(f.spi.commands[0], [CMD_READ4B, 0x01, 0x00, 0x00, 0x04]);
        // A partition that ends below 16 MiB keeps 3-byte addresses.
        let fake = FakeNor { mem: (0..64u8).collect(), commands: Vec::new(), origin: 0x100 };
        let mut g = SpiNorFlash::new(fake, 0x100, 64);
        g.read(1, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        assert_eq!(g.spi.commands[0], [CMD_READ, 0, 0x01, 0x01]);
    }

    #[test]
    fn mapped_flash_reads_and_maps() {
        let bytes = [1u8, 2, 3, 4, 5];
        let mut f = MappedFlash::new(&bytes);
        let mut b = [0u8; 2];
        f.read(3, &mut b).unwrap();
        assert_eq!(b, [4, 5]);
        assert!(matches!(f.read(4, &mut b), Err(FlashError::OutOfRange { .. })));
        assert_eq!(f.mapped(), Some(&bytes[..]));
    }
}
