//! Async client for the Cairn relay protocol (PROTOCOL.md §18), used by the app core,
//! the load tools and the end-to-end tests. It depends on the protocol crate only, never
//! on the relay server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_relay_client::ClientError> {
//! use cairn_relay_client::{ConnectOptions, RelayClient};
//! # let address: cairn_protocol::relay_address::RelayAddress = "ws://127.0.0.1:7447/".parse().unwrap();
//! # let auth_key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! # let mailbox = cairn_protocol::envelope::MailboxId([1; 32]);
//! # let envelope = bytes::Bytes::from(vec![0u8; 1024]);
//! let (client, mut deliveries) = RelayClient::connect(&address, ConnectOptions::default()).await?;
//! client.create_mailbox(mailbox, &auth_key.verifying_key(), None).await?;
//! client.subscribe(mailbox, &auth_key).await?;
//! client.send(envelope).await?; // resolves once the relay stored it durably
//! while let Some(delivery) = deliveries.recv().await {
//!     // store it locally first, then:
//!     client.ack(delivery.mailbox, delivery.message).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! One connection carries any number of concurrent requests (`RelayClient`
//! is cheap to clone; calls may run in parallel and are pipelined) and any
//! number of subscriptions. The task reading the socket never waits for the
//! application: deliveries are queued for [`Deliveries`] without blocking, so
//! an answer never waits behind undrained deliveries, whatever the caller
//! awaits. The queue is bounded by bytes ([`ConnectOptions::delivery_buffer`]):
//! past it the client closes the connection rather than grow, exactly like
//! a relay dropping a slow reader — nothing is lost, every unacknowledged
//! envelope stays stored at the relay and comes again on the next
//! subscription. Reconnecting is the caller's choice: after
//! [`ClientError::Closed`], connect again and re-subscribe.
//!
//! Plain `ws://` addresses are dialled only when their host is loopback
//! (`localhost`, 127.0.0.0/8, `::1`), and then only at the loopback IPs it
//! resolves to; any other is refused with [`ClientError::PlaintextNotLoopback`]
//! before a packet is sent ([`RelayAddress::check_transport`]).
//!
//! [`RelayAddress::check_transport`]: cairn_protocol::relay_address::RelayAddress::check_transport

mod connection;
mod error;
mod pin;
mod plaintext;
mod transport;

use std::time::Duration;

pub use connection::{Deliveries, Delivery, Incoming, RelayClient};
pub use error::ClientError;
pub use transport::{RelaySocket, RelayStream, connect_websocket, connect_websocket_over};

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Bound on TCP + TLS + WebSocket handshakes and the relay's challenge.
    pub timeout: Duration,
    /// Bytes of envelopes waiting in [`Deliveries`] before the client gives up
    /// the connection (a reader that far behind reconnects later instead).
    pub delivery_buffer: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            delivery_buffer: 64 << 20,
        }
    }
}
