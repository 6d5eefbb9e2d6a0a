//! The sending connection for one destination mailbox (one contact).
//!
//! Each conversation sends on a connection of its own, opened on demand and
//! closed after a quiet spell, that never subscribes: the relay sees a
//! connection that writes to one mailbox, not who holds it (PROTOCOL.md §2).
//! Envelopes go out pipelined in outbox order (`RelayClient::send_many`), so
//! the relay stores them, and the peer receives them, in ratchet order.

use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::frames::SendKey;
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::RelayClient;
use tokio::sync::mpsc;

use super::NetError;
use super::dial::{DialOptions, dial};
use super::lanes::Report;
use crate::store::OutboxItem;

/// The engine's handle on one sender task.
pub(super) struct Sender {
    tx: mpsc::UnboundedSender<Vec<OutboxItem>>,
}

impl Sender {
    /// Starts the task for one destination on `relay`.
    pub(super) fn spawn(
        relay: RelayAddress,
        options: DialOptions,
        idle: Duration,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(relay, options, idle, rx, reports));
        Self { tx }
    }

    /// Queues a burst; `false` if the task has stopped.
    pub(super) fn send(&self, items: Vec<OutboxItem>) -> bool {
        self.tx.send(items).is_ok()
    }
}

async fn run(
    relay: RelayAddress,
    options: DialOptions,
    idle: Duration,
    mut bursts: mpsc::UnboundedReceiver<Vec<OutboxItem>>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let text = relay.to_string();
    let mut conn: Option<RelayClient> = None;
    loop {
        let burst = match &conn {
            Some(client) => match tokio::time::timeout(idle, bursts.recv()).await {
                Ok(burst) => burst,
                Err(_) => {
                    // Quiet for a while: hang up; the next burst dials again.
                    client.close().await;
                    conn = None;
                    continue;
                }
            },
            None => bursts.recv().await,
        };
        let Some(items) = burst else {
            if let Some(client) = conn.take() {
                client.close().await;
            }
            return;
        };
        if conn.as_ref().is_none_or(RelayClient::is_closed) {
            conn = match dial(&relay, &options).await {
                Ok((client, _deliveries)) => Some(client),
                Err(e) => {
                    let results = items.into_iter().map(|i| (i, Err(e.clone()))).collect();
                    if reports
                        .send(Report::Sent {
                            relay: text.clone(),
                            results,
                        })
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            };
        }
        let Some(client) = conn.as_ref() else {
            continue;
        };
        // Locked mailboxes (every conversation's, PROTOCOL.md §18.3) get
        // their send key with each envelope; an invite's open mailbox none.
        let sends: Vec<(Option<&SendKey>, Bytes)> = items
            .iter()
            .map(|i| (i.send_key.as_ref(), i.envelope.clone()))
            .collect();
        let outcomes = client.send_many_keyed(&sends).await;
        let mut lost = false;
        let results: Vec<_> = items
            .into_iter()
            .zip(outcomes)
            .map(|(item, r)| {
                let r = r.map_err(|e| NetError::from_client(&text, e));
                lost |= matches!(&r, Err(e) if e.is_connection());
                (item, r)
            })
            .collect();
        if lost {
            conn = None;
        }
        if reports
            .send(Report::Sent {
                relay: text.clone(),
                results,
            })
            .is_err()
        {
            return;
        }
    }
}
