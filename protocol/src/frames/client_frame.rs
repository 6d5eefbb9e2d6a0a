//! Frames a client sends to a relay.

use crate::envelope::{MailboxId, MessageId};
use crate::padding::MAX_ENVELOPE_LEN;
use crate::wire::{DecodeError, Reader, Writer};

use super::send_lock::SEND_KEY_LEN;
use super::{FRAME_HEADER_LEN, FrameError, MAX_TOKEN_LEN, read_header, write_header};

const CREATE_MAILBOX: u8 = 0x01;
const SEND: u8 = 0x02;
const SUBSCRIBE: u8 = 0x03;
const ACK: u8 = 0x04;
const DELETE_MAILBOX: u8 = 0x05;
const STATS: u8 = 0x06;
const PURGE: u8 = 0x07;
const UNSUBSCRIBE: u8 = 0x08;
const ACK_BATCH: u8 = 0x09;
const CREATE_LOCKED_MAILBOX: u8 = 0x0A;
const SEND_LOCKED: u8 = 0x0B;

/// Most entries in one [`ClientFrame::AckBatch`].
pub const MAX_ACK_BATCH: usize = 1024;

/// Bytes per [`ClientFrame::AckBatch`] entry: mailbox id, then message id.
pub const ACK_ENTRY_LEN: usize = 32 + 16;

/// True if `frame` claims to be an `Ack` or `AckBatch` (type byte only, not
/// validated): relays rate-limit acks apart from sends, since every received
/// envelope needs one.
pub fn is_ack_frame(frame: &[u8]) -> bool {
    matches!(frame.get(1), Some(&(ACK | ACK_BATCH)))
}

/// Request id of a quiet ack: an `Ack` or `AckBatch` carrying it gets no
/// `Ok` (only an `Error` if refused), saving a write and a read per ack
/// for recipients that do not need the confirmation (PROTOCOL.md §18.3).
pub const QUIET_REQUEST_ID: u32 = 0;

impl ClientRequest<'_> {
    /// True for an ack the relay must not answer on success.
    pub fn is_quiet_ack(&self) -> bool {
        self.request_id == QUIET_REQUEST_ID
            && matches!(
                self.frame,
                ClientFrame::Ack { .. } | ClientFrame::AckBatch { .. }
            )
    }
}

/// One client request: the id the relay echoes in its answer, and the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    /// Chosen by the client; the relay's `Ok` or `Error` carries it back.
    pub request_id: u32,
    /// What is asked.
    pub frame: ClientFrame<'a>,
}

/// What a client can ask of a relay. Borrowed from the received bytes: no copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFrame<'a> {
    /// Registers a new mailbox under a client-chosen random id and its auth key.
    CreateMailbox {
        /// Random id; whoever knows it may send to the mailbox.
        mailbox: MailboxId,
        /// Ed25519 public key that must sign `Subscribe` and `DeleteMailbox`.
        auth_key: [u8; 32],
        /// Access token, required when the relay runs with `--access token`.
        access_token: Option<&'a [u8]>,
    },
    /// Stores an envelope in the mailbox named inside it. No sender identity exists.
    Send {
        /// A complete padded envelope (see `envelope`).
        envelope: &'a [u8],
    },
    /// Proves the mailbox auth key and starts delivery: stored backlog first, then live.
    Subscribe {
        /// Mailbox to receive from.
        mailbox: MailboxId,
        /// Ed25519 signature over [`super::subscribe_signing_bytes`].
        signature: [u8; 64],
    },
    /// Confirms a delivered message is safely stored by the recipient; the relay deletes it.
    Ack {
        /// Mailbox the message was delivered from.
        mailbox: MailboxId,
        /// Message id from the envelope.
        message: MessageId,
    },
    /// Deletes a mailbox and everything in it.
    DeleteMailbox {
        /// Mailbox to delete.
        mailbox: MailboxId,
        /// Ed25519 signature over [`super::delete_signing_bytes`].
        signature: [u8; 64],
    },
    /// Asks for relay-wide counters; needs an admin token.
    Stats {
        /// Admin token.
        admin_token: &'a [u8],
    },
    /// Deletes a mailbox and its messages without its key (abuse handling); needs an admin token.
    Purge {
        /// Admin token.
        admin_token: &'a [u8],
        /// Mailbox to delete.
        mailbox: MailboxId,
    },
    /// Stops live delivery from a mailbox on this connection.
    Unsubscribe {
        /// Mailbox to stop receiving from.
        mailbox: MailboxId,
    },
    /// Several `Ack`s in one frame, answered by one `Ok`: a recipient draining
    /// thousands of envelopes a second needs one frame (and one rate-limit
    /// token) per batch instead of one per envelope.
    AckBatch {
        /// The entries, undecoded: see [`AckEntries`].
        entries: AckEntries<'a>,
    },
    /// Like `CreateMailbox`, for a mailbox only the holder of a send key may
    /// send to (a conversation mailbox: the key is the contact's).
    CreateLockedMailbox {
        /// Random id; knowing it is not enough to send here.
        mailbox: MailboxId,
        /// Ed25519 public key that must sign `Subscribe` and `DeleteMailbox`.
        auth_key: [u8; 32],
        /// SHA-256 of the send key ([`super::send_lock`]); the relay stores
        /// this, never the key.
        send_lock: [u8; SEND_KEY_LEN],
        /// Access token, required when the relay runs with `--access token`.
        access_token: Option<&'a [u8]>,
    },
    /// Like `Send`, carrying the send key of a locked mailbox. Accepted by
    /// open mailboxes too (the key is then ignored), so a client may always
    /// send with a key.
    SendLocked {
        /// The secret whose SHA-256 is the mailbox's send lock; borrowed
        /// from the frame, never copied.
        send_key: &'a [u8; SEND_KEY_LEN],
        /// A complete padded envelope (see `envelope`).
        envelope: &'a [u8],
    },
}

/// The (mailbox, message id) pairs of an [`ClientFrame::AckBatch`], borrowed
/// from the frame: `count` × [`ACK_ENTRY_LEN`] bytes, 1 ≤ count ≤ [`MAX_ACK_BATCH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEntries<'a>(&'a [u8]);

impl<'a> AckEntries<'a> {
    /// Wraps encoded entries; `None` unless it holds 1..=[`MAX_ACK_BATCH`] whole entries.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let n = bytes.len() / ACK_ENTRY_LEN;
        (bytes.len().is_multiple_of(ACK_ENTRY_LEN) && (1..=MAX_ACK_BATCH).contains(&n))
            .then_some(Self(bytes))
    }

    /// Encodes pairs for [`ClientFrame::AckBatch`]; `None` if there are none or too many.
    pub fn encode(pairs: &[(MailboxId, MessageId)]) -> Option<Vec<u8>> {
        if pairs.is_empty() || pairs.len() > MAX_ACK_BATCH {
            return None;
        }
        let mut out = Vec::with_capacity(pairs.len() * ACK_ENTRY_LEN);
        for (mailbox, message) in pairs {
            out.extend_from_slice(&mailbox.0);
            out.extend_from_slice(&message.0);
        }
        Some(out)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len() / ACK_ENTRY_LEN
    }

    /// Always false for a decoded batch (at least one entry).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The encoded entries.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The pairs, in frame order.
    pub fn iter(&self) -> impl Iterator<Item = (MailboxId, MessageId)> + 'a {
        self.0.chunks_exact(ACK_ENTRY_LEN).map(|c| {
            let (m, id) = c.split_at(32);
            let mut mailbox = [0u8; 32];
            let mut message = [0u8; 16];
            mailbox.copy_from_slice(m);
            message.copy_from_slice(id);
            (MailboxId(mailbox), MessageId(message))
        })
    }
}

impl<'a> ClientRequest<'a> {
    /// Decodes one client frame; strict: every byte must be accounted for.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FrameError> {
        let mut r = Reader::new(bytes);
        let (kind, request_id) = read_header(&mut r, bytes.len())?;
        let frame = match kind {
            CREATE_MAILBOX => {
                let mailbox = MailboxId(r.array()?);
                let auth_key = r.array()?;
                let token = r.bytes_u8("access token", MAX_TOKEN_LEN)?;
                ClientFrame::CreateMailbox {
                    mailbox,
                    auth_key,
                    access_token: (!token.is_empty()).then_some(token),
                }
            }
            SEND => ClientFrame::Send {
                envelope: r.bytes_u32("envelope", MAX_ENVELOPE_LEN)?,
            },
            SUBSCRIBE => ClientFrame::Subscribe {
                mailbox: MailboxId(r.array()?),
                signature: r.array()?,
            },
            ACK => ClientFrame::Ack {
                mailbox: MailboxId(r.array()?),
                message: MessageId(r.array()?),
            },
            DELETE_MAILBOX => ClientFrame::DeleteMailbox {
                mailbox: MailboxId(r.array()?),
                signature: r.array()?,
            },
            STATS => ClientFrame::Stats {
                admin_token: r.bytes_u8("admin token", MAX_TOKEN_LEN)?,
            },
            PURGE => ClientFrame::Purge {
                admin_token: r.bytes_u8("admin token", MAX_TOKEN_LEN)?,
                mailbox: MailboxId(r.array()?),
            },
            UNSUBSCRIBE => ClientFrame::Unsubscribe {
                mailbox: MailboxId(r.array()?),
            },
            ACK_BATCH => {
                let count = usize::from(r.u16()?);
                if count == 0 || count > MAX_ACK_BATCH {
                    return Err(FrameError::Malformed(DecodeError::Invalid(
                        "ack batch count",
                    )));
                }
                let bytes = r.take(count * ACK_ENTRY_LEN)?;
                let entries = AckEntries::new(bytes)
                    .ok_or(FrameError::Malformed(DecodeError::Invalid("ack batch")))?;
                ClientFrame::AckBatch { entries }
            }
            CREATE_LOCKED_MAILBOX => {
                let mailbox = MailboxId(r.array()?);
                let auth_key = r.array()?;
                let send_lock = r.array()?;
                let token = r.bytes_u8("access token", MAX_TOKEN_LEN)?;
                ClientFrame::CreateLockedMailbox {
                    mailbox,
                    auth_key,
                    send_lock,
                    access_token: (!token.is_empty()).then_some(token),
                }
            }
            SEND_LOCKED => {
                let send_key = r
                    .take(SEND_KEY_LEN)?
                    .try_into()
                    .map_err(|_| FrameError::Malformed(DecodeError::Invalid("send key")))?;
                ClientFrame::SendLocked {
                    send_key,
                    envelope: r.bytes_u32("envelope", MAX_ENVELOPE_LEN)?,
                }
            }
            other => return Err(FrameError::UnknownType(other)),
        };
        r.finish()?;
        Ok(Self { request_id, frame })
    }

    /// Encodes the frame. Over-long tokens are truncated to [`MAX_TOKEN_LEN`]
    /// (the relay would refuse them anyway).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(FRAME_HEADER_LEN + self.fields_len());
        match self.frame {
            ClientFrame::CreateMailbox {
                mailbox,
                auth_key,
                access_token,
            } => {
                write_header(&mut w, CREATE_MAILBOX, self.request_id);
                w.put(&mailbox.0)
                    .put(&auth_key)
                    .bytes_u8(clip(access_token.unwrap_or_default()));
            }
            ClientFrame::Send { envelope } => {
                write_header(&mut w, SEND, self.request_id);
                w.bytes_u32(envelope);
            }
            ClientFrame::Subscribe { mailbox, signature } => {
                write_header(&mut w, SUBSCRIBE, self.request_id);
                w.put(&mailbox.0).put(&signature);
            }
            ClientFrame::Ack { mailbox, message } => {
                write_header(&mut w, ACK, self.request_id);
                w.put(&mailbox.0).put(&message.0);
            }
            ClientFrame::DeleteMailbox { mailbox, signature } => {
                write_header(&mut w, DELETE_MAILBOX, self.request_id);
                w.put(&mailbox.0).put(&signature);
            }
            ClientFrame::Stats { admin_token } => {
                write_header(&mut w, STATS, self.request_id);
                w.bytes_u8(clip(admin_token));
            }
            ClientFrame::Purge {
                admin_token,
                mailbox,
            } => {
                write_header(&mut w, PURGE, self.request_id);
                w.bytes_u8(clip(admin_token)).put(&mailbox.0);
            }
            ClientFrame::Unsubscribe { mailbox } => {
                write_header(&mut w, UNSUBSCRIBE, self.request_id);
                w.put(&mailbox.0);
            }
            ClientFrame::AckBatch { entries } => {
                write_header(&mut w, ACK_BATCH, self.request_id);
                // `AckEntries` holds at most MAX_ACK_BATCH (< u16::MAX) entries.
                w.u16(u16::try_from(entries.len()).unwrap_or(u16::MAX))
                    .put(entries.as_bytes());
            }
            ClientFrame::CreateLockedMailbox {
                mailbox,
                auth_key,
                send_lock,
                access_token,
            } => {
                write_header(&mut w, CREATE_LOCKED_MAILBOX, self.request_id);
                w.put(&mailbox.0)
                    .put(&auth_key)
                    .put(&send_lock)
                    .bytes_u8(clip(access_token.unwrap_or_default()));
            }
            ClientFrame::SendLocked { send_key, envelope } => {
                write_header(&mut w, SEND_LOCKED, self.request_id);
                w.put(send_key).bytes_u32(envelope);
            }
        }
        w.into_vec()
    }

    fn fields_len(&self) -> usize {
        match self.frame {
            ClientFrame::Send { envelope } => 4 + envelope.len(),
            ClientFrame::SendLocked { envelope, .. } => SEND_KEY_LEN + 4 + envelope.len(),
            ClientFrame::AckBatch { entries } => 2 + entries.as_bytes().len(),
            _ => 32 + 64 + 1 + MAX_TOKEN_LEN,
        }
    }
}

fn clip(token: &[u8]) -> &[u8] {
    &token[..token.len().min(MAX_TOKEN_LEN)]
}
