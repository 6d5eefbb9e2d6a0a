//! What can go wrong talking to relays, typed all the way to the front ends.

use cairn_protocol::frames::ErrorCode;
use cairn_relay_client::ClientError;
use thiserror::Error;

use crate::client::ClientError as LocalError;

/// Why a relay operation failed. Every variant names the relay (address
/// text), so a front end can attribute it without parsing the message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetError {
    /// Could not connect (refused, DNS, timeout, TLS failure).
    #[error("cannot reach relay {relay}: {reason}")]
    Unreachable {
        /// Relay address text.
        relay: String,
        /// What went wrong, as the transport said it.
        reason: String,
    },
    /// The TLS certificate does not match the pin in the relay address.
    #[error(
        "relay {relay} presented a certificate that does not match its pin: refusing to connect"
    )]
    PinMismatch {
        /// Relay address text.
        relay: String,
    },
    /// A plain `ws://` address off this machine (PROTOCOL.md §6).
    #[error("{0}")]
    Plaintext(#[from] cairn_protocol::relay_address::PlaintextRefused),
    /// The relay answered with an error code; nothing was changed there.
    #[error("relay {relay} refused: {message} ({code})")]
    Refused {
        /// Relay address text.
        relay: String,
        /// The relay's stable reason.
        code: ErrorCode,
        /// The relay's text.
        message: String,
    },
    /// The connection broke before the answer came.
    #[error("connection to relay {relay} lost")]
    Disconnected {
        /// Relay address text.
        relay: String,
    },
}

impl NetError {
    /// Maps the relay client's error for `relay`.
    pub(crate) fn from_client(relay: &str, e: ClientError) -> Self {
        let relay = relay.to_owned();
        match e {
            ClientError::PinMismatch { .. } => Self::PinMismatch { relay },
            ClientError::Refused { code, message } => Self::Refused {
                relay,
                code,
                message,
            },
            ClientError::Closed => Self::Disconnected { relay },
            ClientError::PlaintextNotLoopback { relay } => {
                Self::Plaintext(cairn_protocol::relay_address::PlaintextRefused { relay })
            }
            other => Self::Unreachable {
                relay,
                reason: other.to_string(),
            },
        }
    }

    /// The relay this is about (address text).
    pub fn relay(&self) -> &str {
        match self {
            Self::Unreachable { relay, .. }
            | Self::PinMismatch { relay }
            | Self::Refused { relay, .. }
            | Self::Disconnected { relay } => relay,
            Self::Plaintext(p) => &p.relay,
        }
    }

    /// The relay's error code, if it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True if the relay could not be used at all (as opposed to refusing one request).
    pub fn is_connection(&self) -> bool {
        !matches!(self, Self::Refused { .. })
    }

    /// True if trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::PinMismatch { .. } | Self::Plaintext(_) => false,
            Self::Refused { code, .. } => code.is_retryable(),
            Self::Unreachable { .. } | Self::Disconnected { .. } => true,
        }
    }
}

/// Why a messenger request failed.
#[derive(Debug, Error)]
pub enum MessengerError {
    /// The local part failed (bad input, storage, protocol).
    #[error(transparent)]
    Client(#[from] LocalError),
    /// A relay could not be used or refused.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Nothing waits at the relay for this short invite link: the invite was
    /// used by someone, withdrawn, or has expired (PROTOCOL.md §7.1).
    #[error(
        "this invite was already used, withdrawn or has expired (relay {relay} no longer holds \
         it): ask for a new one"
    )]
    InviteGone {
        /// Relay address text.
        relay: String,
    },
    /// The messenger task has stopped (the profile was closed).
    #[error("the messenger has stopped")]
    Stopped,
}

impl From<crate::store::StoreError> for MessengerError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Client(e.into())
    }
}
