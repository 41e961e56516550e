//! A serial chat: read a prompt line, stream the continuation back, repeat.
//!
//! The transcript, per prompt line `P`:
//! ```text
//! > P<continuation>
//! [N tokens]            (or [N tokens, X.Y tokens/s] with a running clock)
//! ```
//! An empty line (or end of input) ends the chat with `bye`. Lines are at most `LINE` bytes;
//! `\r\n`, `\n` and `\r` all end a line.

use core::fmt::Write as _;

use embedded_io::{Read, Write};

use crate::clock::Clock;
use crate::model::{GenStats, Generator, McuError};

/// A serial chat over one port (`embedded_io::Read + Write`, e.g. [`crate::uart::CmsdkUart`]).
#[derive(Debug)]
pub struct SerialChat<P, const LINE: usize = 256> {
    port: P,
    line: [u8; LINE],
    /// a `\r` was just seen: a following `\n` belongs to it
    after_cr: bool,
}

/// Totals of a chat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatTotals {
    /// Prompts answered.
    pub turns: usize,
    /// Tokens generated over all turns.
    pub tokens: usize,
}

/// A line read from the port.
enum Line {
    Text(usize),
    TooLong,
    End,
}

impl<P: Read + Write, const LINE: usize> SerialChat<P, LINE> {
    /// A chat on `port`.
    pub fn new(port: P) -> Self {
        Self { port, line: [0; LINE], after_cr: false }
    }

    /// The port back.
    pub fn into_inner(self) -> P {
        self.port
    }

    /// Answer prompt lines with up to `n_predict` tokens each until an empty line or the end of
    /// input. Errors of one turn (a prompt too long for the context, invalid UTF-8) are reported
    /// on the port and the chat goes on; an I/O error ends it.
    pub fn run<C: Clock>(
        &mut self,
        generator: &mut Generator<'_, '_>,
        n_predict: usize,
        clock: &C,
    ) -> Result<ChatTotals, McuError> {
        let io = |e: P::Error| McuError::Io(embedded_io::Error::kind(&e));
        let mut totals = ChatTotals::default();
        let n_ctx = generator.session().n_ctx();
        let mut msg: Fmt<96> = Fmt::new();
        let _ =
            writeln!(msg, "emberlm serial chat (context {n_ctx}): one prompt per line, an empty line ends");
        self.port.write_all(msg.bytes()).map_err(io)?;
        loop {
            self.port.write_all(b"> ").map_err(io)?;
            self.port.flush().map_err(io)?;
            let n = match self.read_line()? {
                Line::End => break,
                Line::TooLong => {
                    msg.clear();
                    let _ = write!(msg, "\n[error: the line is longer than {LINE} bytes]\n");
                    self.port.write_all(msg.bytes()).map_err(io)?;
                    continue;
                }
                Line::Text(0) => break,
                Line::Text(n) => n,
            };
            let Ok(prompt) = core::str::from_utf8(&self.line[..n]) else {
                self.port.write_all(b"[error: the line is not UTF-8]\n").map_err(io)?;
                continue;
            };
            self.port.write_all(prompt.as_bytes()).map_err(io)?;
            match generator.generate(prompt, n_predict, &mut self.port, clock) {
                Ok(s) => {
                    totals.turns += 1;
                    totals.tokens += s.tokens;
                    msg.clear();
                    turn_summary(&mut msg, &s, clock.ticks_per_second());
                    self.port.write_all(msg.bytes()).map_err(io)?;
                }
                Err(McuError::Io(k)) => return Err(McuError::Io(k)),
                Err(e) => {
                    msg.clear();
                    let _ = write!(msg, "\n[error: {e}]\n");
                    self.port.write_all(msg.bytes()).map_err(io)?;
                }
            }
        }
        self.port.write_all(b"\nbye\n").map_err(io)?;
        self.port.flush().map_err(io)?;
        Ok(totals)
    }

    fn read_line(&mut self) -> Result<Line, McuError> {
        let mut n = 0;
        let mut too_long = false;
        let mut b = [0u8; 1];
        loop {
            let got = self.port.read(&mut b).map_err(|e| McuError::Io(embedded_io::Error::kind(&e)))?;
            if got == 0 {
                return Ok(if n == 0 && !too_long {
                    Line::End
                } else if too_long {
                    Line::TooLong
                } else {
                    Line::Text(n)
                });
            }
            let after_cr = core::mem::take(&mut self.after_cr);
            match b[0] {
                b'\n' if after_cr && n == 0 && !too_long => continue,
                b'\n' | b'\r' => {
                    self.after_cr = b[0] == b'\r';
                    return Ok(if too_long { Line::TooLong } else { Line::Text(n) });
                }
                c if n < LINE => {
                    self.line[n] = c;
                    n += 1;
                }
                _ => too_long = true,
            }
        }
    }
}

fn turn_summary<const N: usize>(msg: &mut Fmt<N>, s: &GenStats, tps: u64) {
    let _ = match s.tokens_per_second(tps) {
        Some(r) => write!(msg, "\n[{} tokens, {:.1} tokens/s]\n", s.tokens, r),
        None => write!(msg, "\n[{} tokens]\n", s.tokens),
    };
}

/// A fixed-size text buffer for `write!` (truncates when full).
#[derive(Debug)]
pub struct Fmt<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Fmt<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Fmt<N> {
    /// Empty.
    pub const fn new() -> Self {
        Self { buf: [0; N], len: 0 }
    }
    /// The text so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    /// Empty it.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> core::fmt::Write for Fmt<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let take = s.len().min(N - self.len);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}
