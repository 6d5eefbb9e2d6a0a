//! What a message says, inside the encryption and under the sender's signature.
//!
//! Encoded as `kind u8 ‖ length u32 ‖ bytes` inside the inner message
//! (PROTOCOL.md, "Content"). Unknown kinds decode to [`Content::Unknown`] so an
//! older client shows "unsupported message" instead of failing the session.

use thiserror::Error;

use crate::envelope::MailboxId;
use crate::frames::SendKey;
use crate::identity::{IdentityError, PublicIdentity};
pub use crate::key_update::KeyUpdate;
use crate::relay_address::RelayAddress;
use crate::wire::{DecodeError, Reader, Writer};

/// Longest text, in UTF-8 bytes (fits the 64 KiB bucket with every overhead).
pub const MAX_TEXT_LEN: usize = 60_000;
/// Most message counters one receipt may name.
pub const MAX_RECEIPT_COUNTERS: usize = 4_000;
/// Longest content of any kind, known or unknown, in bytes (the `length` field):
/// the longest known kind is text. A longer length prefix is refused before reading.
pub const MAX_CONTENT_LEN: usize = MAX_TEXT_LEN;

const KIND_TEXT: u8 = 1;
const KIND_DELIVERED: u8 = 2;
const KIND_READ: u8 = 3;
const KIND_KEY_UPDATE: u8 = 4;
const KIND_MAILBOX_MOVE: u8 = 6;
const KIND_MAILBOX_MOVED: u8 = 7;
const KIND_SESSION_RESTORED: u8 = 5;

/// Why content could not be built or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentError {
    /// Text longer than [`MAX_TEXT_LEN`].
    #[error("text is {0} bytes; the maximum is {MAX_TEXT_LEN}")]
    TextTooLong(usize),
    /// Receipt naming more than [`MAX_RECEIPT_COUNTERS`] messages.
    #[error("receipt names {0} messages; the maximum is {MAX_RECEIPT_COUNTERS}")]
    TooManyCounters(usize),
    /// Content of an unknown kind longer than [`MAX_CONTENT_LEN`].
    #[error("content is {0} bytes; the maximum is {MAX_CONTENT_LEN}")]
    ContentTooLong(usize),
    /// A key update whose new key did not sign the change.
    #[error("key update signature invalid")]
    BadKeyUpdate(#[from] IdentityError),
    /// Malformed bytes.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Message content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A text message (UTF-8).
    Text(String),
    /// "These messages of yours reached my device" (sender counters).
    Delivered(Vec<u64>),
    /// "I have read these messages of yours" (sender counters).
    Read(Vec<u64>),
    /// The sender moves to a new identity key; the receiver must accept it explicitly.
    KeyUpdate(KeyUpdate),
    /// "From now on, write to me at this mailbox" (§10.4): the sender receives
    /// on a new mailbox, e.g. the inviter leaving the invite's mailbox.
    MailboxMove {
        /// Relay of the new mailbox.
        relay: RelayAddress,
        /// The new mailbox.
        mailbox: MailboxId,
        /// The key that opens it for sending (§18.3): it is send-locked, so
        /// only the peer, who alone learns this key, can write to it.
        send_key: SendKey,
    },
    /// "Nothing more of mine goes to your old mailbox" (§10.4): the answer to
    /// a [`Content::MailboxMove`] once every envelope sealed for the old
    /// mailbox is stored at its relay, so the mover may delete it.
    MailboxMoved {
        /// The new mailbox being confirmed.
        mailbox: MailboxId,
    },
    /// The sender's profile was restored from a backup: this message starts a
    /// fresh sending chain (a DH step) and its counter jumps past every counter
    /// the original device may have used since the backup (PROTOCOL.md §10.2, §11).
    SessionRestored {
        /// The counter the backup would have sent next: the restored history
        /// continues the sender's messages up to `from − 1`.
        from: u64,
    },
    /// A kind this version does not know (attachments, groups, … in later versions).
    Unknown {
        /// Kind byte.
        kind: u8,
        /// Undecoded bytes.
        bytes: Vec<u8>,
    },
}

impl Content {
    /// Checks size limits before encryption.
    pub fn validate(&self) -> Result<(), ContentError> {
        match self {
            Content::Text(t) if t.len() > MAX_TEXT_LEN => Err(ContentError::TextTooLong(t.len())),
            Content::Delivered(c) | Content::Read(c) if c.len() > MAX_RECEIPT_COUNTERS => {
                Err(ContentError::TooManyCounters(c.len()))
            }
            Content::Unknown { bytes, .. } if bytes.len() > MAX_CONTENT_LEN => {
                Err(ContentError::ContentTooLong(bytes.len()))
            }
            _ => Ok(()),
        }
    }

    /// Writes `kind u8 ‖ length u32 ‖ bytes`.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Content::Text(t) => {
                w.u8(KIND_TEXT).bytes_u32(t.as_bytes());
            }
            Content::Delivered(c) => encode_counters(w, KIND_DELIVERED, c),
            Content::Read(c) => encode_counters(w, KIND_READ, c),
            Content::KeyUpdate(k) => {
                w.u8(KIND_KEY_UPDATE)
                    .u32(128)
                    .put(&k.new_identity.to_bytes())
                    .put(&k.signature);
            }
            Content::MailboxMove {
                relay,
                mailbox,
                send_key,
            } => {
                let mut body = Writer::default();
                relay.encode(&mut body);
                body.put(&mailbox.0).put(send_key.as_bytes());
                w.u8(KIND_MAILBOX_MOVE).bytes_u32(&body.into_vec());
            }
            Content::MailboxMoved { mailbox } => {
                w.u8(KIND_MAILBOX_MOVED).u32(32).put(&mailbox.0);
            }
            Content::SessionRestored { from } => {
                w.u8(KIND_SESSION_RESTORED).u32(8).u64(*from);
            }
            Content::Unknown { kind, bytes } => {
                w.u8(*kind).bytes_u32(bytes);
            }
        }
    }

    /// Reads what [`Content::encode`] wrote; the key update's signature is checked by the session.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, ContentError> {
        let kind = r.u8()?;
        let bytes = r.bytes_u32("content", MAX_CONTENT_LEN)?;
        let mut inner = Reader::new(bytes);
        let content = match kind {
            KIND_TEXT => {
                if bytes.len() > MAX_TEXT_LEN {
                    return Err(ContentError::TextTooLong(bytes.len()));
                }
                let text =
                    std::str::from_utf8(inner.rest()).map_err(|_| DecodeError::Invalid("text"))?;
                Content::Text(text.to_owned())
            }
            KIND_DELIVERED => Content::Delivered(decode_counters(&mut inner)?),
            KIND_READ => Content::Read(decode_counters(&mut inner)?),
            KIND_KEY_UPDATE => {
                let new_identity = PublicIdentity::from_bytes(&inner.array()?)?;
                let signature = inner.array()?;
                Content::KeyUpdate(KeyUpdate {
                    new_identity,
                    signature,
                })
            }
            KIND_MAILBOX_MOVE => Content::MailboxMove {
                relay: RelayAddress::decode(&mut inner)
                    .map_err(|_| DecodeError::Invalid("mailbox move relay"))?,
                mailbox: MailboxId(inner.array()?),
                send_key: SendKey::from_bytes(inner.array()?),
            },
            KIND_MAILBOX_MOVED => Content::MailboxMoved {
                mailbox: MailboxId(inner.array()?),
            },
            KIND_SESSION_RESTORED => Content::SessionRestored { from: inner.u64()? },
            kind => Content::Unknown {
                kind,
                bytes: inner.rest().to_vec(),
            },
        };
        inner.finish()?;
        Ok(content)
    }
}

fn encode_counters(w: &mut Writer, kind: u8, counters: &[u64]) {
    let n = counters.len().min(MAX_RECEIPT_COUNTERS);
    w.u8(kind).u32(u32::try_from(2 + n * 8).unwrap_or(u32::MAX));
    w.u16(u16::try_from(n).unwrap_or(u16::MAX));
    for c in &counters[..n] {
        w.u64(*c);
    }
}

fn decode_counters(r: &mut Reader<'_>) -> Result<Vec<u64>, ContentError> {
    let n = usize::from(r.u16()?);
    if n > MAX_RECEIPT_COUNTERS {
        return Err(ContentError::TooManyCounters(n));
    }
    (0..n)
        .map(|_| r.u64().map_err(ContentError::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn round(c: &Content) -> Content {
        let mut w = Writer::default();
        c.encode(&mut w);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        let out = Content::decode(&mut r).unwrap();
        r.finish().unwrap();
        out
    }

    #[test]
    fn round_trips() {
        let id = Identity::from_seed([1; 32]);
        for c in [
            Content::Text("héllo".into()),
            Content::Delivered(vec![1, 2, u64::MAX]),
            Content::Read(vec![]),
            Content::SessionRestored { from: 7 },
            Content::KeyUpdate(KeyUpdate::create(
                &[0; 32],
                &id.public(),
                &Identity::from_seed([2; 32]),
            )),
            Content::MailboxMove {
                relay: "wss://relay.example:7447/#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                    .parse()
                    .unwrap(),
                mailbox: MailboxId([9; 32]),
                send_key: SendKey::from_bytes([3; 32]),
            },
            Content::MailboxMoved {
                mailbox: MailboxId([8; 32]),
            },
            Content::Unknown {
                kind: 200,
                bytes: vec![1, 2, 3],
            },
        ] {
            assert_eq!(round(&c), c);
        }
    }

    #[test]
    fn mailbox_move_bytes_are_as_specified() {
        let c = Content::MailboxMove {
            relay: "ws://[::1]:7447/".parse().unwrap(),
            mailbox: MailboxId([0xab; 32]),
            send_key: SendKey::from_bytes([0x5e; 32]),
        };
        let mut w = Writer::default();
        c.encode(&mut w);
        let mut expected = vec![6, 0, 0, 0, 71, 0, 3, b':', b':', b'1', 0x1d, 0x17];
        expected.extend([0xab; 32]);
        expected.extend([0x5e; 32]);
        assert_eq!(w.into_vec(), expected);
        let c = Content::MailboxMoved {
            mailbox: MailboxId([0xcd; 32]),
        };
        let mut w = Writer::default();
        c.encode(&mut w);
        let mut expected = vec![7, 0, 0, 0, 32];
        expected.extend([0xcd; 32]);
        assert_eq!(w.into_vec(), expected);
        // A relay address that does not decode is malformed content, not unknown.
        let mut bad = vec![6, 0, 0, 0, 35, 9, 1, b'x', 0, 1];
        bad.extend([0; 32]);
        let mut r = Reader::new(&bad);
        assert!(Content::decode(&mut r).is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(
            Content::Text("a".repeat(MAX_TEXT_LEN + 1)).validate(),
            Err(ContentError::TextTooLong(MAX_TEXT_LEN + 1))
        );
        assert!(Content::Text("a".repeat(MAX_TEXT_LEN)).validate().is_ok());
    }

    #[test]
    fn unknown_kind_length_is_bounded() {
        let at_max = Content::Unknown {
            kind: 99,
            bytes: vec![7; MAX_CONTENT_LEN],
        };
        assert!(at_max.validate().is_ok());
        assert_eq!(round(&at_max), at_max);
        let over = Content::Unknown {
            kind: 99,
            bytes: vec![7; MAX_CONTENT_LEN + 1],
        };
        assert_eq!(
            over.validate(),
            Err(ContentError::ContentTooLong(MAX_CONTENT_LEN + 1))
        );
        let mut w = Writer::default();
        over.encode(&mut w);
        let bytes = w.into_vec();
        // Refused from the length prefix alone, before reading (PROTOCOL.md §4, §10.2).
        for input in [&bytes[..], &bytes[..5]] {
            assert_eq!(
                Content::decode(&mut Reader::new(input)),
                Err(ContentError::Decode(DecodeError::TooLong {
                    field: "content",
                    len: MAX_CONTENT_LEN + 1,
                    max: MAX_CONTENT_LEN
                }))
            );
        }
    }

    #[test]
    fn key_update_verifies_only_for_its_conversation() {
        let old = Identity::from_seed([1; 32]).public();
        let k = KeyUpdate::create(&[5; 32], &old, &Identity::from_seed([2; 32]));
        k.verify(&[5; 32], &old).unwrap();
        assert!(k.verify(&[6; 32], &old).is_err());
    }
}
