//! The outer envelope: all the relay ever sees of a message.
//!
//! Layout (PROTOCOL.md, "Envelope"), total length exactly one of [`BUCKETS`]:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version = 1 |
//! | 1 | 32 | recipient mailbox id |
//! | 33 | 16 | random message id |
//! | 49 | 1 | body kind: 1 = handshake, 2 = ratchet message, 3 = sealed invite |
//! | 50 | rest | body (ciphertext, opaque to the relay) |
//!
//! The first [`HEADER_LEN`] bytes are bound into the body's AEAD associated
//! data, so the relay cannot re-address, re-id or re-kind a message.

use std::fmt;

use thiserror::Error;

use crate::padding::{BUCKETS, MAX_ENVELOPE_LEN, is_bucket};
use crate::wire::{DecodeError, Reader};

/// Envelope format version this implementation writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;

/// Bytes before the body: version, mailbox id, message id, kind.
pub const HEADER_LEN: usize = 1 + 32 + 16 + 1;

/// Random 32-byte name of a mailbox on a relay. Knowing it is the capability to send to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(pub [u8; 32]);

impl fmt::Debug for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxId({})", short_hex(&self.0))
    }
}

/// Random 16-byte message id: the relay's ack handle and the client's dedupe key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 16]);

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", short_hex(&self.0))
    }
}

fn short_hex(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// What the body of an envelope holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BodyKind {
    /// First contact: the acceptor's hybrid handshake (see `handshake`).
    Handshake = 1,
    /// A double-ratchet message with encrypted header (see `ratchet`).
    Ratchet = 2,
    /// An invite sealed under its short link's key, waiting in the link
    /// mailbox (see `invite::link`).
    SealedInvite = 3,
}

impl BodyKind {
    fn from_u8(value: u8) -> Result<Self, DecodeError> {
        match value {
            1 => Ok(Self::Handshake),
            2 => Ok(Self::Ratchet),
            3 => Ok(Self::SealedInvite),
            value => Err(DecodeError::UnknownTag {
                field: "envelope body kind",
                value,
            }),
        }
    }
}

/// Why an envelope was refused before any decryption.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    /// Length is not one of the padding buckets.
    #[error("envelope length {0} is not one of the padding buckets {BUCKETS:?}")]
    BadLength(usize),
    /// Structural problem in the header.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// A parsed envelope borrowing the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Recipient mailbox.
    pub mailbox: MailboxId,
    /// Message id.
    pub id: MessageId,
    /// Body kind.
    pub kind: BodyKind,
    /// The first [`HEADER_LEN`] bytes, used as associated data.
    pub header: &'a [u8],
    /// Opaque body.
    pub body: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parses and checks length, version and kind. Cheap: no crypto, no copies.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_LEN || !is_bucket(bytes.len()) {
            return Err(EnvelopeError::BadLength(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != ENVELOPE_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let mailbox = MailboxId(r.array()?);
        let id = MessageId(r.array()?);
        let kind = BodyKind::from_u8(r.u8()?)?;
        let body = r.rest();
        Ok(Self {
            mailbox,
            id,
            kind,
            header: &bytes[..HEADER_LEN],
            body,
        })
    }
}

/// Writes an envelope header; the caller appends a body of exactly `bucket - HEADER_LEN` bytes.
pub fn write_header(out: &mut Vec<u8>, mailbox: &MailboxId, id: &MessageId, kind: BodyKind) {
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&mailbox.0);
    out.extend_from_slice(&id.0);
    out.push(kind as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        write_header(
            &mut v,
            &MailboxId([3; 32]),
            &MessageId([4; 16]),
            BodyKind::Ratchet,
        );
        v.resize(len, 9);
        v
    }

    #[test]
    fn parses_valid() {
        let bytes = sample(1024);
        let e = Envelope::parse(&bytes).unwrap();
        assert_eq!(e.mailbox, MailboxId([3; 32]));
        assert_eq!(e.id, MessageId([4; 16]));
        assert_eq!(e.kind, BodyKind::Ratchet);
        assert_eq!(e.body.len(), 1024 - HEADER_LEN);
    }

    #[test]
    fn rejects_invalid() {
        assert_eq!(
            Envelope::parse(&sample(1000)),
            Err(EnvelopeError::BadLength(1000))
        );
        let mut b = sample(1024);
        b[0] = 2;
        assert_eq!(
            Envelope::parse(&b),
            Err(EnvelopeError::Decode(DecodeError::UnknownVersion(2)))
        );
        let mut b = sample(1024);
        b[49] = 7;
        assert!(matches!(
            Envelope::parse(&b),
            Err(EnvelopeError::Decode(DecodeError::UnknownTag { .. }))
        ));
    }
}
