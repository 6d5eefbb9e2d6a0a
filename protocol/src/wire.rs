//! Strict big-endian binary codec shared by every Cairn format.
//!
//! Every decoder reads through [`Reader`], which bounds every length, never
//! allocates more than the input holds, and insists the input is consumed
//! exactly ([`Reader::finish`]). Encoders write through [`Writer`].

use thiserror::Error;

/// Why bytes could not be decoded. Stable across versions: callers match on it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended `needed` bytes early.
    #[error("input truncated: needed {needed} more bytes, {remaining} left")]
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// Bytes were left after the last field.
    #[error("{0} trailing bytes after the last field")]
    TrailingBytes(usize),
    /// A length prefix exceeded the field's documented maximum.
    #[error("field {field} is {len} bytes, more than the maximum {max}")]
    TooLong {
        /// Field name from the spec.
        field: &'static str,
        /// Length found.
        len: usize,
        /// Documented maximum.
        max: usize,
    },
    /// The version byte is not one this implementation speaks.
    #[error("unknown version {0}")]
    UnknownVersion(u8),
    /// A tag or enum byte has no meaning in this version.
    #[error("unknown {field} value {value}")]
    UnknownTag {
        /// Field name from the spec.
        field: &'static str,
        /// Value found.
        value: u8,
    },
    /// A field is well-formed bytes but not a valid value (e.g. bad UTF-8, bad key).
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Cursor over untrusted bytes; all reads are bounds-checked.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf` from its first byte.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(DecodeError::Truncated {
                needed: n - remaining,
                remaining,
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Reads a u8-length-prefixed byte string of at most `max` bytes.
    pub fn bytes_u8(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u8()?);
        self.bounded(field, len, max)
    }

    /// Reads a u16-length-prefixed byte string of at most `max` bytes.
    pub fn bytes_u16(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u16()?);
        self.bounded(field, len, max)
    }

    /// Reads a u32-length-prefixed byte string of at most `max` bytes.
    pub fn bytes_u32(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.u32()?).map_err(|_| DecodeError::Invalid(field))?;
        self.bounded(field, len, max)
    }

    /// Reads a u8-length-prefixed UTF-8 string of at most `max` bytes.
    pub fn str_u8(&mut self, field: &'static str, max: usize) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes_u8(field, max)?).map_err(|_| DecodeError::Invalid(field))
    }

    fn bounded(
        &mut self,
        field: &'static str,
        len: usize,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        self.take(len)
    }

    /// Fails unless every byte was consumed: trailing bytes are never ignored.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Append-only encoder mirroring [`Reader`].
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts an empty buffer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            buf: Vec::with_capacity(cap),
        }
    }

    /// Appends raw bytes.
    pub fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a big-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    /// Appends a big-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    /// Appends a big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    /// Appends a u8 length prefix and the bytes; callers guarantee `bytes.len() <= 255`.
    pub fn bytes_u8(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
        self.u8(len).put(&bytes[..usize::from(len)])
    }

    /// Appends a u16 length prefix and the bytes; callers guarantee `bytes.len() <= 65535`.
    pub fn bytes_u16(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        self.u16(len).put(&bytes[..usize::from(len)])
    }

    /// Appends a u32 length prefix and the bytes.
    pub fn bytes_u32(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.u32(len).put(&bytes[..len as usize])
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The finished encoding.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let mut w = Writer::default();
        w.u8(7).u16(0x0102).u32(3).u64(4).bytes_u16(b"abc");
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(r.u32().unwrap(), 3);
        assert_eq!(r.u64().unwrap(), 4);
        assert_eq!(r.bytes_u16("f", 3).unwrap(), b"abc");
        r.finish().unwrap();

        let mut r = Reader::new(&bytes[..bytes.len() - 1]);
        r.take(15).unwrap();
        assert!(matches!(
            r.bytes_u16("f", 3),
            Err(DecodeError::Truncated { .. })
        ));

        let mut r = Reader::new(&bytes[15..]);
        assert!(matches!(
            r.bytes_u16("f", 2),
            Err(DecodeError::TooLong { len: 3, max: 2, .. })
        ));

        let r = Reader::new(&bytes);
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(bytes.len())));
    }
}
