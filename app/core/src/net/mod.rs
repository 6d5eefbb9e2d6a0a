//! Talking to relays: the thin async layer around the synchronous [`Client`].
//!
//! The relay connection itself is behind [`RelayLink`] / [`Connector`], so
//! the sync logic (outbox retries, batched receive, ack-after-commit) is
//! tested against an in-memory relay, and production plugs in the real
//! WebSocket client with its certificate pin.
//!
//! [`Client`]: crate::client::Client

pub mod service;
pub mod sync;
mod ws;

use std::future::Future;
use std::time::Duration;

use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_protocol::relay_address::RelayAddress;
use thiserror::Error;

pub use sync::{SyncError, SyncOptions, SyncReport, Syncer};
pub use ws::WsConnector;

/// Why a relay operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetError {
    /// Could not connect (refused, DNS, timeout).
    #[error("cannot reach relay {relay}: {reason}")]
    Connect {
        /// Relay address text.
        relay: String,
        /// What went wrong.
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
    /// The relay answered a request with an error.
    #[error("relay refused: {0}")]
    Refused(String),
    /// The connection broke mid-request.
    #[error("relay connection lost: {0}")]
    Disconnected(String),
}

impl NetError {
    /// True if retrying later could help (everything except a pin mismatch).
    pub fn is_transient(&self) -> bool {
        !matches!(self, NetError::PinMismatch { .. })
    }
}

/// One open connection to one relay.
pub trait RelayLink: Send {
    /// Registers a mailbox we own, proving nothing yet (the auth key is set here).
    fn create_mailbox(
        &mut self,
        mailbox: MailboxId,
        auth_seed: &[u8; 32],
        access_token: Option<&[u8]>,
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// Stores envelopes at the relay, in order (implementations may pipeline).
    /// One result per envelope; `Ok` means the relay made that one durable.
    fn send(
        &mut self,
        envelopes: &[&[u8]],
    ) -> impl Future<Output = Vec<Result<(), NetError>>> + Send;

    /// Proves ownership of `mailbox` and starts delivery (backlog, then live).
    fn subscribe(
        &mut self,
        mailbox: MailboxId,
        auth_seed: &[u8; 32],
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// The next delivered envelope, or `None` if nothing arrives within `idle`.
    fn next_delivery(
        &mut self,
        idle: Duration,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, NetError>> + Send;

    /// Tells the relay these delivered envelopes are stored; it deletes its copies.
    /// Implementations may pipeline the requests.
    fn ack(
        &mut self,
        acks: &[(MailboxId, MessageId)],
    ) -> impl Future<Output = Result<(), NetError>> + Send;

    /// Deletes a mailbox we own and everything in it (proving ownership).
    fn delete_mailbox(
        &mut self,
        mailbox: MailboxId,
        auth_seed: &[u8; 32],
    ) -> impl Future<Output = Result<(), NetError>> + Send;
}

/// Opens links to relays (enforcing each address's pin).
pub trait Connector: Send + Sync {
    /// The link type.
    type Link: RelayLink;

    /// Connects to `relay`.
    fn connect(
        &self,
        relay: &RelayAddress,
    ) -> impl Future<Output = Result<Self::Link, NetError>> + Send;
}

#[cfg(test)]
pub(crate) mod fake;
