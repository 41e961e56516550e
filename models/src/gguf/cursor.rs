//! A bounds-checked little-endian reader over a byte slice. Every read either succeeds or returns
//! a [`GgufError`] naming the offset; nothing here can panic.

use super::error::{GgufError, Result};

/// Reads GGUF primitives from `buf`, starting at `pos`. Offsets in errors are `base + pos`, so a
/// cursor over a sub-slice still reports file offsets.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`, whose byte 0 is at file offset `base`.
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// The file offset of the next byte to be read.
    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    /// Position within `buf`.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes of `buf` between two positions previously returned by [`Cursor::pos`].
    pub(crate) fn span(&self, start: usize, end: usize) -> &'a [u8] {
        self.buf.get(start..end).unwrap_or(&[])
    }

    /// The next `n` bytes, or `UnexpectedEof`.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let offset = self.offset();
        let end = self.pos.checked_add(n).ok_or(GgufError::UnexpectedEof { offset, what })?;
        let bytes = self.buf.get(self.pos..end).ok_or(GgufError::UnexpectedEof { offset, what })?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let offset = self.offset();
        let bytes = self.take(N, what)?;
        bytes.try_into().map_err(|_| GgufError::UnexpectedEof { offset, what })
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A GGUF string: a `u64` byte length followed by that many bytes (not checked for UTF-8).
    pub(crate) fn string(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let offset = self.offset();
        let len = self.u64(what)?;
        if len > self.remaining() as u64 {
            return Err(GgufError::LengthPastEnd { offset, what, len });
        }
        self.take(len as usize, what)
    }

    /// A GGUF string that must be UTF-8 (keys and tensor names).
    pub(crate) fn str(&mut self, what: &'static str) -> Result<&'a str> {
        let offset = self.offset();
        let bytes = self.string(what)?;
        core::str::from_utf8(bytes).map_err(|_| GgufError::InvalidUtf8 { offset, what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reports_offsets() {
        let buf = [1u8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0xff];
        let mut c = Cursor::new(&buf, 100);
        assert_eq!(c.u32("a"), Ok(1));
        assert_eq!(c.u64("b"), Ok(2));
        assert_eq!(c.offset(), 112);
        assert_eq!(c.u32("c"), Err(GgufError::UnexpectedEof { offset: 112, what: "c" }));
        // a failed read consumes nothing
        assert_eq!(c.u8("d"), Ok(0xff));
        assert_eq!(c.remaining(), 0);
    }

    #[test]
    fn string_length_is_checked_before_reading() {
        let mut buf = u64::MAX.to_le_bytes().to_vec();
        buf.extend_from_slice(b"abc");
        let mut c = Cursor::new(&buf, 0);
        assert_eq!(c.string("s"), Err(GgufError::LengthPastEnd { offset: 0, what: "s", len: u64::MAX }));
        let mut ok = 3u64.to_le_bytes().to_vec();
        ok.extend_from_slice(&[0xc3, 0x28, b'x']);
        assert_eq!(Cursor::new(&ok, 0).string("s"), Ok(&[0xc3, 0x28, b'x'][..]));
        assert_eq!(Cursor::new(&ok, 0).str("s"), Err(GgufError::InvalidUtf8 { offset: 0, what: "s" }));
    }
}
