//! Frames a relay sends to a client.

use crate::padding::MAX_ENVELOPE_LEN;
use crate::wire::{Reader, Writer};

use super::{
    ErrorCode, FRAME_HEADER_LEN, FrameError, MAX_TEXT_LEN, NONCE_LEN, read_header, write_header,
};

const CHALLENGE: u8 = 0x81;
const OK: u8 = 0x82;
const ERROR: u8 = 0x83;
const DELIVER: u8 = 0x84;
const STATS: u8 = 0x85;
const SUBSCRIPTION_ENDED: u8 = 0x86;

/// Relay-wide counters returned to an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayStats {
    /// Open client connections.
    pub connections: u64,
    /// Mailboxes stored.
    pub mailboxes: u64,
    /// Envelopes stored, not yet acknowledged.
    pub messages: u64,
    /// Bytes of stored envelopes.
    pub bytes: u64,
}

/// What a relay sends. `request_id` is carried beside it (0 for unsolicited frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayFrame<'a> {
    /// First frame on every connection: the nonce that subscription signatures cover.
    Challenge {
        /// Fresh random bytes, unique to this connection.
        nonce: [u8; NONCE_LEN],
        /// Relay software name and version, e.g. `cairn-relay/0.1.0`.
        server: &'a str,
    },
    /// The request succeeded. For `Send`: the envelope is durable.
    Ok,
    /// The request was refused; nothing changed.
    Error {
        /// Stable machine-readable reason.
        code: ErrorCode,
        /// Human-readable detail, never containing payload bytes.
        message: &'a str,
    },
    /// An envelope pushed from a subscribed mailbox (backlog first, then live).
    Deliver {
        /// The envelope exactly as the sender stored it.
        envelope: &'a [u8],
    },
    /// Answer to an admin `Stats` request.
    Stats(RelayStats),
    /// Unsolicited (request id 0): this connection's subscription to the
    /// mailbox ended because the mailbox was deleted (by its owner, maybe
    /// from another connection) or purged by an admin. Nothing more comes
    /// from it, and acks naming it are refused.
    SubscriptionEnded {
        /// The mailbox that is gone.
        mailbox: [u8; 32],
    },
}

impl<'a> RelayFrame<'a> {
    /// Decodes one relay frame; returns the request id and the frame.
    pub fn decode(bytes: &'a [u8]) -> Result<(u32, Self), FrameError> {
        let mut r = Reader::new(bytes);
        let (kind, request_id) = read_header(&mut r, bytes.len())?;
        let frame = match kind {
            CHALLENGE => RelayFrame::Challenge {
                nonce: r.array()?,
                server: r.str_u8("server", MAX_TEXT_LEN)?,
            },
            OK => RelayFrame::Ok,
            ERROR => RelayFrame::Error {
                code: ErrorCode::from_u16(r.u16()?),
                message: r.str_u8("error message", MAX_TEXT_LEN)?,
            },
            DELIVER => RelayFrame::Deliver {
                envelope: r.bytes_u32("envelope", MAX_ENVELOPE_LEN)?,
            },
            STATS => RelayFrame::Stats(RelayStats {
                connections: r.u64()?,
                mailboxes: r.u64()?,
                messages: r.u64()?,
                bytes: r.u64()?,
            }),
            SUBSCRIPTION_ENDED => RelayFrame::SubscriptionEnded {
                mailbox: r.array()?,
            },
            other => return Err(FrameError::UnknownType(other)),
        };
        r.finish()?;
        Ok((request_id, frame))
    }

    /// Encodes the frame with the given request id. Text longer than
    /// [`MAX_TEXT_LEN`] is cut at a character boundary.
    pub fn encode(&self, request_id: u32) -> Vec<u8> {
        let cap = match self {
            RelayFrame::Deliver { envelope } => FRAME_HEADER_LEN + 4 + envelope.len(),
            _ => FRAME_HEADER_LEN + 2 + 1 + MAX_TEXT_LEN,
        };
        let mut w = Writer::with_capacity(cap);
        match self {
            RelayFrame::Challenge { nonce, server } => {
                write_header(&mut w, CHALLENGE, request_id);
                w.put(nonce).bytes_u8(clip_text(server).as_bytes());
            }
            RelayFrame::Ok => write_header(&mut w, OK, request_id),
            RelayFrame::Error { code, message } => {
                write_header(&mut w, ERROR, request_id);
                w.u16(code.as_u16()).bytes_u8(clip_text(message).as_bytes());
            }
            RelayFrame::Deliver { envelope } => {
                write_header(&mut w, DELIVER, request_id);
                w.bytes_u32(envelope);
            }
            RelayFrame::Stats(s) => {
                write_header(&mut w, STATS, request_id);
                w.u64(s.connections)
                    .u64(s.mailboxes)
                    .u64(s.messages)
                    .u64(s.bytes);
            }
            RelayFrame::SubscriptionEnded { mailbox } => {
                write_header(&mut w, SUBSCRIPTION_ENDED, request_id);
                w.put(mailbox);
            }
        }
        w.into_vec()
    }
}

fn clip_text(text: &str) -> &str {
    if text.len() <= MAX_TEXT_LEN {
        return text;
    }
    let mut end = MAX_TEXT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
