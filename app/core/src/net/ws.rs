//! The production link: `cairn_relay_client` over WebSocket, pin enforced.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_relay_client::{ClientError, ConnectOptions, Deliveries, RelayClient};
use ed25519_dalek::SigningKey;

use super::{Connector, NetError, RelayLink};

/// Connects with `cairn_relay_client`. `wss://` always checks the address's
/// certificate pin (inside the relay client); plain `ws://` is refused unless
/// explicitly allowed, and even then only to loopback hosts.
#[derive(Debug, Clone, Default)]
pub struct WsConnector {
    /// Connection timeouts and queue sizes.
    pub options: ConnectOptions,
    /// Development only: permit `ws://` to 127.0.0.0/8, ::1 and localhost.
    pub allow_plaintext_loopback: bool,
}

/// One WebSocket connection and its delivery queue.
///
/// The relay client stops reading the socket (answers included) while its
/// bounded delivery queue is full, so every request here is awaited *while*
/// draining deliveries into `buffered`; otherwise a large backlog arriving
/// during a burst of acks would deadlock the connection.
pub struct WsLink {
    client: RelayClient,
    deliveries: Deliveries,
    buffered: VecDeque<Vec<u8>>,
    closed: bool,
}

impl WsLink {
    /// Awaits `fut` while moving arriving deliveries into the local buffer.
    async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        loop {
            if self.closed {
                return fut.await;
            }
            tokio::select! {
                out = &mut fut => return out,
                delivery = self.deliveries.recv() => match delivery {
                    Some(d) => self.buffered.push_back(d.envelope.to_vec()),
                    None => self.closed = true,
                },
            }
        }
    }
}

fn net_error(relay: &RelayAddress, e: ClientError) -> NetError {
    match e {
        ClientError::PinMismatch { .. } => NetError::PinMismatch {
            relay: relay.to_string(),
        },
        ClientError::Refused { .. } => NetError::Refused(e.to_string()),
        ClientError::Closed => NetError::Disconnected(e.to_string()),
        other => NetError::Connect {
            relay: relay.to_string(),
            reason: other.to_string(),
        },
    }
}

fn link_error(e: ClientError) -> NetError {
    match e {
        ClientError::Refused { .. } => NetError::Refused(e.to_string()),
        other => NetError::Disconnected(other.to_string()),
    }
}

impl Connector for WsConnector {
    type Link = WsLink;

    async fn connect(&self, relay: &RelayAddress) -> Result<WsLink, NetError> {
        if relay.transport() == Transport::Plaintext
            && !(self.allow_plaintext_loopback && relay.is_loopback())
        {
            return Err(NetError::Connect {
                relay: relay.to_string(),
                reason: "plain ws:// is refused; it is allowed only to loopback relays with the \
                         explicit development flag"
                    .into(),
            });
        }
        let (client, deliveries) = RelayClient::connect(relay, self.options.clone())
            .await
            .map_err(|e| net_error(relay, e))?;
        Ok(WsLink {
            client,
            deliveries,
            buffered: VecDeque::new(),
            closed: false,
        })
    }
}

impl RelayLink for WsLink {
    async fn create_mailbox(
        &mut self,
        mailbox: MailboxId,
        auth_seed: &[u8; 32],
        access_token: Option<&[u8]>,
    ) -> Result<(), NetError> {
        let key = SigningKey::from_bytes(auth_seed);
        let client = self.client.clone();
        let token = match access_token {
            Some(t) => Some(
                std::str::from_utf8(t)
                    .map_err(|_| NetError::Refused("access token is not UTF-8".into()))?,
            ),
            None => None,
        };
        self.drive(client.create_mailbox(mailbox, &key.verifying_key(), token))
            .await
            .map_err(link_error)
    }

    async fn send(&mut self, envelopes: &[&[u8]]) -> Vec<Result<(), NetError>> {
        // Pipelined, and queued strictly in outbox order: the relay stores
        // (and the recipient receives) them in the order they were sealed.
        let client = self.client.clone();
        let envelopes: Vec<Bytes> = envelopes
            .iter()
            .map(|e| Bytes::copy_from_slice(e))
            .collect();
        self.drive(client.send_many(&envelopes))
            .await
            .into_iter()
            .map(|r| r.map_err(link_error))
            .collect()
    }

    async fn subscribe(
        &mut self,
        mailbox: MailboxId,
        auth_seed: &[u8; 32],
    ) -> Result<(), NetError> {
        let key = SigningKey::from_bytes(auth_seed);
        let client = self.client.clone();
        self.drive(client.subscribe(mailbox, &key))
            .await
            .map_err(link_error)
    }

    async fn next_delivery(&mut self, idle: Duration) -> Result<Option<Vec<u8>>, NetError> {
        if let Some(bytes) = self.buffered.pop_front() {
            return Ok(Some(bytes));
        }
        if let Some(d) = self.deliveries.try_recv() {
            return Ok(Some(d.envelope.to_vec()));
        }
        if self.closed {
            return Err(NetError::Disconnected("relay closed the connection".into()));
        }
        match tokio::time::timeout(idle, self.deliveries.recv()).await {
            Ok(Some(d)) => Ok(Some(d.envelope.to_vec())),
            Ok(None) => Err(NetError::Disconnected("relay closed the connection".into())),
            Err(_) => Ok(None),
        }
    }

    /// One `AckBatch` frame per few hundred deliveries, not one round trip
    /// each: a catch-up acks thousands at once.
    async fn ack(&mut self, acks: &[(MailboxId, MessageId)]) -> Result<(), NetError> {
        let client = self.client.clone();
        self.drive(client.ack_many(acks)).await.map_err(link_error)
    }

    async fn delete_mailbox(
        &mut self,
        mailbox: MailboxId,
        auth_seed: &[u8; 32],
    ) -> Result<(), NetError> {
        let key = SigningKey::from_bytes(auth_seed);
        let client = self.client.clone();
        self.drive(client.delete_mailbox(mailbox, &key))
            .await
            .map_err(link_error)
    }
}
