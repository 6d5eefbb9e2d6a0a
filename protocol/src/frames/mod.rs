//! Client ↔ relay wire frames (docs/PROTOCOL.md §18).
//!
//! Every WebSocket binary message carries exactly one frame:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | frame format version = [`RELAY_PROTOCOL_VERSION`] |
//! | 1 | 1 | frame type |
//! | 2 | 4 | request id (big-endian; 0 for unsolicited relay frames) |
//! | 6 | rest | type-specific fields, strictly decoded, no trailing bytes |
//!
//! The module is sans-IO: it turns bytes into typed frames and back, and
//! builds the exact byte strings a mailbox auth key signs. Sockets, storage
//! and signature checks live in the relay and client crates.

mod client_frame;
mod error_code;
mod relay_frame;
mod send_lock;
mod signing;

pub use client_frame::{
    ACK_ENTRY_LEN, AckEntries, ClientFrame, ClientRequest, MAX_ACK_BATCH, QUIET_REQUEST_ID,
    is_ack_frame,
};
pub use error_code::ErrorCode;
pub use relay_frame::{RelayFrame, RelayStats};
pub use send_lock::{SEND_KEY_LEN, SendKey, send_lock};
pub use signing::{delete_signing_bytes, subscribe_signing_bytes};

use thiserror::Error;

use crate::padding::MAX_ENVELOPE_LEN;
use crate::wire::DecodeError;

/// Frame format version this implementation reads and writes.
pub const RELAY_PROTOCOL_VERSION: u8 = 1;

/// Bytes before the type-specific fields: version, type, request id.
pub const FRAME_HEADER_LEN: usize = 1 + 1 + 4;

/// Largest frame either side ever sends: a `SendLocked` of the largest
/// envelope (its send key makes it 32 bytes longer than a `Send` or `Deliver`).
pub const MAX_FRAME_LEN: usize = FRAME_HEADER_LEN + SEND_KEY_LEN + 4 + MAX_ENVELOPE_LEN;

/// Longest access or admin token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 128;

/// Longest human-readable text in an error or challenge frame, in bytes.
pub const MAX_TEXT_LEN: usize = 255;

/// Size of the relay's per-connection challenge nonce.
pub const NONCE_LEN: usize = 32;

/// Why a frame could not be decoded; maps onto the error code the relay answers with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The frame is longer than [`MAX_FRAME_LEN`].
    #[error("frame of {0} bytes exceeds the maximum {MAX_FRAME_LEN}")]
    TooLarge(usize),
    /// The version byte is not [`RELAY_PROTOCOL_VERSION`].
    #[error("unsupported relay frame version {0}")]
    UnsupportedVersion(u8),
    /// The type byte names no frame of this direction.
    #[error("unknown frame type {0:#04x}")]
    UnknownType(u8),
    /// The fields are truncated, over-long, have trailing bytes or invalid values.
    #[error("malformed frame: {0}")]
    Malformed(#[from] DecodeError),
}

impl FrameError {
    /// The stable error code a relay answers this decoding failure with.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge(_) => ErrorCode::FrameTooLarge,
            FrameError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            FrameError::UnknownType(_) => ErrorCode::UnknownType,
            FrameError::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

/// Request id of a frame that failed to decode, so the error can still be matched to it.
///
/// Returns 0 when the frame is too short to carry one.
pub fn peek_request_id(frame: &[u8]) -> u32 {
    match frame.get(2..FRAME_HEADER_LEN) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Reads the common header; returns (type, request id) after the version and size checks.
fn read_header(r: &mut crate::wire::Reader<'_>, len: usize) -> Result<(u8, u32), FrameError> {
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len));
    }
    let version = r.u8()?;
    if version != RELAY_PROTOCOL_VERSION {
        return Err(FrameError::UnsupportedVersion(version));
    }
    let kind = r.u8()?;
    let request_id = r.u32()?;
    Ok((kind, request_id))
}

fn write_header(w: &mut crate::wire::Writer, kind: u8, request_id: u32) {
    w.u8(RELAY_PROTOCOL_VERSION).u8(kind).u32(request_id);
}

#[cfg(test)]
mod tests;
