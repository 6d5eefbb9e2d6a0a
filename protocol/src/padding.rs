//! Size buckets and padding, so the relay learns only which bucket a message fell in.
//!
//! Every envelope is exactly one of [`BUCKETS`] bytes long. Padding is applied
//! to the plaintext *inside* the AEAD (ISO/IEC 7816-4: a `0x80` byte then
//! zeros), so the true length is encrypted.

use thiserror::Error;

/// Envelope sizes in bytes. 1 KiB holds a typical text (up to 695 bytes), 2 KiB a long
/// paragraph, 4 KiB a first-contact handshake; 64 KiB is the hard maximum.
pub const BUCKETS: [usize; 5] = [1024, 2048, 4096, 16 * 1024, 64 * 1024];

/// Largest envelope any Cairn component accepts.
pub const MAX_ENVELOPE_LEN: usize = BUCKETS[BUCKETS.len() - 1];

/// Why padding could not be applied or removed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PaddingError {
    /// The content needs more than the largest bucket.
    #[error("message needs {needed} bytes, more than the largest bucket of {max}")]
    TooLarge {
        /// Bytes needed including fixed overhead.
        needed: usize,
        /// Largest bucket.
        max: usize,
    },
    /// After decryption the padding was not `0x80` followed by zeros.
    #[error("malformed padding")]
    Malformed,
}

/// Smallest bucket that fits `needed` bytes.
pub fn bucket_for(needed: usize) -> Result<usize, PaddingError> {
    BUCKETS
        .iter()
        .copied()
        .find(|&b| b >= needed)
        .ok_or(PaddingError::TooLarge {
            needed,
            max: MAX_ENVELOPE_LEN,
        })
}

/// True if `len` is exactly one of the buckets.
pub fn is_bucket(len: usize) -> bool {
    BUCKETS.contains(&len)
}

/// Appends `0x80` then zeros so that `buf` becomes exactly `target` bytes.
pub fn pad_in_place(buf: &mut Vec<u8>, target: usize) -> Result<(), PaddingError> {
    if buf.len() + 1 > target {
        return Err(PaddingError::TooLarge {
            needed: buf.len() + 1,
            max: target,
        });
    }
    buf.push(0x80);
    buf.resize(target, 0);
    Ok(())
}

/// Strips the padding added by [`pad_in_place`], returning the content length.
pub fn unpadded_len(buf: &[u8]) -> Result<usize, PaddingError> {
    let last = buf
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(PaddingError::Malformed)?;
    if buf[last] != 0x80 {
        return Err(PaddingError::Malformed);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(bucket_for(1).unwrap(), 1024);
        assert_eq!(bucket_for(1024).unwrap(), 1024);
        assert_eq!(bucket_for(1025).unwrap(), 2048);
        assert_eq!(bucket_for(2049).unwrap(), 4096);
        assert!(bucket_for(65537).is_err());
        assert!(is_bucket(4096) && !is_bucket(4095));
    }

    #[test]
    fn pad_unpad() {
        for len in [0usize, 1, 10, 99] {
            let mut v = vec![0u8; len];
            pad_in_place(&mut v, 100).unwrap();
            assert_eq!(v.len(), 100);
            assert_eq!(unpadded_len(&v).unwrap(), len);
        }
        let mut v = vec![0u8; 100];
        assert!(pad_in_place(&mut v, 100).is_err());
        assert_eq!(unpadded_len(&[0, 0]), Err(PaddingError::Malformed));
        assert_eq!(unpadded_len(&[0x80, 1]), Err(PaddingError::Malformed));
    }
}
