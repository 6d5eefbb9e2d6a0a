//! What can go wrong talking to a relay.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_protocol::frames::ErrorCode;
use thiserror::Error;

/// Why a relay operation failed. `Refused` is the relay's typed answer; the
/// other variants mean the connection itself failed.
#[derive(Debug, Clone, Error)]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("cannot connect to relay: {0}")]
    Connect(String),
    /// The relay presented a certificate whose SHA-256 is not the pinned one:
    /// either the relay changed its certificate or someone is in the middle.
    #[error(
        "relay certificate does not match the pinned one (expected {}, got {})",
        URL_SAFE_NO_PAD.encode(expected),
        URL_SAFE_NO_PAD.encode(actual)
    )]
    PinMismatch {
        /// Pin from the relay address.
        expected: [u8; 32],
        /// SHA-256 of the certificate actually presented.
        actual: [u8; 32],
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake with relay failed: {0}")]
    Tls(String),
    /// The WebSocket upgrade failed.
    #[error("WebSocket handshake with relay failed: {0}")]
    Handshake(String),
    /// Connecting took longer than the configured timeout.
    #[error("relay did not answer in time")]
    Timeout,
    /// The relay sent something this client cannot understand.
    #[error("relay protocol violation: {0}")]
    Protocol(String),
    /// The relay refused the request; nothing was changed.
    #[error("relay refused: {message} ({code})")]
    Refused {
        /// Stable reason.
        code: ErrorCode,
        /// The relay's human-readable text.
        message: String,
    },
    /// A plain `ws://` address whose host is not this machine: refused before
    /// any connection is made (plaintext is for loopback development only).
    #[error(
        "refusing plain ws:// relay {relay}: unencrypted connections are allowed only to this \
         machine (localhost, 127.0.0.0/8, ::1); use the relay's wss://HOST:PORT/#PIN address"
    )]
    PlaintextNotLoopback {
        /// The refused address.
        relay: String,
    },
    /// The connection closed before an answer arrived. For a `send`, the
    /// envelope may or may not be stored: send it again (same message id),
    /// the relay keeps one copy.
    #[error("connection to relay closed")]
    Closed,
}

impl ClientError {
    /// The relay's error code, if this was a refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True if retrying the same operation later may succeed (possibly after reconnecting).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Refused { code, .. } => code.is_retryable(),
            ClientError::PinMismatch { .. }
            | ClientError::Protocol(_)
            | ClientError::PlaintextNotLoopback { .. } => false,
            _ => true,
        }
    }
}
