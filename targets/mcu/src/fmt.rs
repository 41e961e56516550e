//! Logging shim in the style of embassy's `fmt.rs`: `info!`/`warn!`/`error!`/`debug!` and
//! `println!` go to `defmt` (feature `defmt`, devices), to plain semihosting text (feature
//! `semihosting`, QEMU/CI, readable without a decoder), or nowhere (host builds).
//!
//! The two back ends are exclusive: a defmt byte stream and plain text on the same channel would
//! corrupt each other.
#![allow(unused_macros)]

#[cfg(all(feature = "defmt", feature = "semihosting"))]
compile_error!("emberlm-mcu: enable at most one of the `defmt` and `semihosting` features");

#[cfg(feature = "defmt")]
macro_rules! info { ($($t:tt)*) => { ::defmt::info!($($t)*) } }
#[cfg(feature = "defmt")]
macro_rules! warn { ($($t:tt)*) => { ::defmt::warn!($($t)*) } }
#[cfg(feature = "defmt")]
macro_rules! error { ($($t:tt)*) => { ::defmt::error!($($t)*) } }
#[cfg(feature = "defmt")]
macro_rules! debug { ($($t:tt)*) => { ::defmt::debug!($($t)*) } }

#[cfg(feature = "semihosting")]
macro_rules! info { ($($t:tt)*) => { ::semihosting::eprintln!("INFO  {}", format_args!($($t)*)) } }
#[cfg(feature = "semihosting")]
macro_rules! warn { ($($t:tt)*) => { ::semihosting::eprintln!("WARN  {}", format_args!($($t)*)) } }
#[cfg(feature = "semihosting")]
macro_rules! error { ($($t:tt)*) => { ::semihosting::eprintln!("ERROR {}", format_args!($($t)*)) } }
#[cfg(feature = "semihosting")]
macro_rules! debug { ($($t:tt)*) => { { let _ = format_args!($($t)*); } } }

#[cfg(not(any(feature = "defmt", feature = "semihosting")))]
macro_rules! info { ($($t:tt)*) => { { let _ = format_args!($($t)*); } } }
#[cfg(not(any(feature = "defmt", feature = "semihosting")))]
macro_rules! warn { ($($t:tt)*) => { { let _ = format_args!($($t)*); } } }
#[cfg(not(any(feature = "defmt", feature = "semihosting")))]
macro_rules! error { ($($t:tt)*) => { { let _ = format_args!($($t)*); } } }
#[cfg(not(any(feature = "defmt", feature = "semihosting")))]
macro_rules! debug { ($($t:tt)*) => { { let _ = format_args!($($t)*); } } }

/// The console the firmware prints its story and closing line on, as an
/// `embedded_io::Write`: semihosting stdout (feature `semihosting`), defmt frames, one per line
/// (feature `defmt`), or a sink (neither).
#[derive(Debug, Default)]
pub struct Console {
    #[cfg(feature = "defmt")]
    line: heapless_line::Line,
}

impl Console {
    /// The console.
    pub const fn new() -> Self {
        Self {
            #[cfg(feature = "defmt")]
            line: heapless_line::Line::new(),
        }
    }
}

impl embedded_io::ErrorType for Console {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Console {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        #[cfg(feature = "semihosting")]
        {
            use semihosting::io::Write as _;
            // The host end of semihosting stdout does not fail in a way firmware can act on.
            let _ = semihosting::io::stdout().map(|mut o| o.write_all(buf));
        }
        #[cfg(feature = "defmt")]
        for &b in buf {
            if let Some(full) = self.line.push(b) {
                print_line(full);
                self.line.clear();
            }
        }
        Ok(buf.len())
    }

    /// With defmt, a frame is a whole line (or 96 bytes of one): a partial line waits for its
    /// newline (or the console's drop), so the decoded text keeps the line breaks it had.
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(feature = "defmt")]
impl Drop for Console {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            print_line(self.line.as_bytes());
            self.line.clear();
        }
    }
}

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        embedded_io::Write::write_all(self, s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// One defmt frame for a console line: the text as a string (decoded as it is by `defmt-print`),
/// or as bytes where a split landed inside a UTF-8 sequence.
#[cfg(feature = "defmt")]
fn print_line(line: &[u8]) {
    match core::str::from_utf8(line) {
        Ok(s) => ::defmt::println!("{=str}", s),
        Err(_) => ::defmt::println!("{=[u8]:a}", line),
    }
}

/// A fixed line buffer: defmt prints whole lines, not one frame per token.
#[cfg(feature = "defmt")]
mod heapless_line {
    const N: usize = 96;

    #[derive(Debug)]
    pub(super) struct Line {
        buf: [u8; N],
        len: usize,
    }

    impl Default for Line {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Line {
        pub(super) const fn new() -> Self {
            Self { buf: [0; N], len: 0 }
        }
        /// Appends `b`; returns the line to print when it ends (`\n`, not included) or is full.
        pub(super) fn push(&mut self, b: u8) -> Option<&[u8]> {
            if b == b'\n' {
                return Some(&self.buf[..self.len]);
            }
            self.buf[self.len] = b;
            self.len += 1;
            (self.len == N).then(|| &self.buf[..])
        }
        pub(super) fn clear(&mut self) {
            self.len = 0;
        }
        pub(super) fn is_empty(&self) -> bool {
            self.len == 0
        }
        pub(super) fn as_bytes(&self) -> &[u8] {
            &self.buf[..self.len]
        }
    }
}
