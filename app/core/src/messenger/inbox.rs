//! The receiving connection to one relay: subscriptions, deliveries, acks.
//!
//! One task per relay holds the only connection that subscribes to our
//! mailboxes there. It never sends an envelope, a receipt or a mailbox
//! creation (those use connections of their own, see `sender` and `dial`),
//! so the relay cannot link our mailboxes to the mailboxes we write to.
//!
//! Deliveries are forwarded to the engine a batch at a time; the next batch
//! waits until the engine has stored the previous one and said which ids to
//! ack. Meanwhile the relay client buffers what arrives (bounded by bytes),
//! so memory stays bounded and nothing is acked before it is stored. A
//! dropped connection is re-dialled with backoff and every mailbox is
//! subscribed again: whatever was not acked comes again.

use std::collections::HashMap;
use std::time::Duration;

use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_protocol::frames::ErrorCode;
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::{Deliveries, Delivery, Incoming, RelayClient};
use ed25519_dalek::SigningKey;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::NetError;
use super::dial::{DialOptions, dial};
use super::lanes::{Backoff, Report};

/// What the engine tells an inbox task.
pub(super) enum InboxCmd {
    /// Subscribe to one more mailbox (kept across reconnects).
    Subscribe(MailboxId, Zeroizing<[u8; 32]>),
    /// Delete a mailbox at the relay and stop receiving from it.
    Delete(MailboxId, Zeroizing<[u8; 32]>),
    /// The last batch is stored: ack these ids and send the next batch.
    Processed(Vec<(MailboxId, MessageId)>),
    /// Storing the last batch failed: drop the connection so the relay sends
    /// everything unacked again after a pause.
    Retry,
}

/// The engine's handle on one inbox task.
pub(super) struct Inbox {
    tx: mpsc::UnboundedSender<InboxCmd>,
}

impl Inbox {
    /// Starts the task for `relay` with the mailboxes we own there.
    pub(super) fn spawn(
        relay: RelayAddress,
        mailboxes: Vec<(MailboxId, Zeroizing<[u8; 32]>)>,
        options: DialOptions,
        batch: usize,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = Task {
            relay,
            text: String::new(),
            mailboxes: mailboxes.into_iter().collect(),
            options,
            batch: batch.max(1),
            reports,
            cmds: rx,
            queued: None,
        };
        tokio::spawn(task.run());
        Self { tx }
    }

    /// Sends a command; a stopped task ignores it (the engine is shutting down).
    pub(super) fn send(&self, cmd: InboxCmd) {
        let _ = self.tx.send(cmd);
    }
}

struct Task {
    relay: RelayAddress,
    text: String,
    mailboxes: HashMap<MailboxId, Zeroizing<[u8; 32]>>,
    options: DialOptions,
    batch: usize,
    reports: mpsc::UnboundedSender<Report>,
    cmds: mpsc::UnboundedReceiver<InboxCmd>,
    /// A command that arrived while no connection was kept (nothing to
    /// receive here): carried out first on the next connection.
    queued: Option<InboxCmd>,
}

/// Why a connected session ended.
enum End {
    /// The engine is gone: stop.
    Stop,
    /// The connection failed: reconnect after backoff.
    Lost(NetError),
    /// The engine asked for redelivery.
    Retry,
}

impl Task {
    async fn run(mut self) {
        self.text = self.relay.to_string();
        let mut backoff = Backoff::default();
        loop {
            let error = match dial(&self.relay, &self.options).await {
                Ok((client, deliveries)) => {
                    let end = self.connected(&client, deliveries, &mut backoff).await;
                    client.close().await;
                    match end {
                        End::Stop => return,
                        End::Lost(e) => e,
                        End::Retry => NetError::Disconnected {
                            relay: self.text.clone(),
                        },
                    }
                }
                Err(e) => e,
            };
            if self.mailboxes.is_empty() {
                // Nothing to receive here (the last mailbox was deleted): no
                // connection is kept — the relay closes one that subscribes
                // to nothing — and its end is no outage. Dial again when
                // there is something to do.
                match self.cmds.recv().await {
                    None => return,
                    Some(cmd) => self.queued = Some(cmd),
                }
                backoff.reset();
                continue;
            }
            let wait = backoff.next(&error);
            if !self.report(Report::Down {
                relay: self.text.clone(),
                error,
                retry_in: wait,
            }) {
                return;
            }
            if !self.pause(wait).await {
                return;
            }
        }
    }

    fn report(&self, report: Report) -> bool {
        self.reports.send(report).is_ok()
    }

    /// Waits `wait` while still taking commands (nothing can be done on the
    /// relay meanwhile: deletions are reported failed and retried later).
    async fn pause(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return true,
                cmd = self.cmds.recv() => match cmd {
                    None => return false,
                    Some(InboxCmd::Subscribe(id, seed)) => { self.mailboxes.insert(id, seed); }
                    Some(InboxCmd::Delete(id, _)) => {
                        let error = NetError::Disconnected { relay: self.text.clone() };
                        if !self.report(Report::Deleted { mailbox: id, result: Err(error) }) {
                            return false;
                        }
                    }
                    Some(InboxCmd::Processed(_) | InboxCmd::Retry) => {}
                },
            }
        }
    }

    async fn subscribe(&self, client: &RelayClient, id: MailboxId, seed: &[u8; 32]) -> bool {
        let key = SigningKey::from_bytes(seed);
        match client.subscribe(id, &key).await {
            Ok(()) => true,
            Err(e) => {
                let error = NetError::from_client(&self.text, e);
                // The relay forgot it (expired, purged): the engine decides.
                // Anything else ends this connection.
                if error.code() == Some(ErrorCode::NoSuchMailbox) {
                    self.report(Report::MailboxGone { mailbox: id });
                    true
                } else {
                    false
                }
            }
        }
    }

    async fn connected(
        &mut self,
        client: &RelayClient,
        mut deliveries: Deliveries,
        backoff: &mut Backoff,
    ) -> End {
        let ids: Vec<(MailboxId, Zeroizing<[u8; 32]>)> = self
            .mailboxes
            .iter()
            .map(|(id, seed)| (*id, seed.clone()))
            .collect();
        for (id, seed) in &ids {
            if !self.subscribe(client, *id, seed).await {
                return End::Lost(NetError::Disconnected {
                    relay: self.text.clone(),
                });
            }
        }
        backoff.reset();
        if !self.report(Report::Up {
            relay: self.text.clone(),
        }) {
            return End::Stop;
        }
        let mut waiting = false;
        if let Some(cmd) = self.queued.take()
            && let Some(end) = self.on_cmd(client, cmd, &mut waiting).await
        {
            return end;
        }
        loop {
            tokio::select! {
                d = deliveries.next(), if !waiting => match d {
                    Some(Incoming::Delivery(first)) => {
                        let (batch, ended) = self.take_batch(first, &mut deliveries);
                        if !self.report(Report::Deliveries { relay: self.text.clone(), batch }) {
                            return End::Stop;
                        }
                        waiting = true;
                        if let Some(mailbox) = ended
                            && !self.report(Report::MailboxGone { mailbox })
                        {
                            return End::Stop;
                        }
                    }
                    // Deleted or purged at the relay (PROTOCOL.md §18.2.2):
                    // the engine recreates it if it is still in use, as when
                    // a resubscription finds it gone.
                    Some(Incoming::SubscriptionEnded(mailbox)) => {
                        if !self.report(Report::MailboxGone { mailbox }) {
                            return End::Stop;
                        }
                    }
                    None => return End::Lost(NetError::Disconnected { relay: self.text.clone() }),
                },
                cmd = self.cmds.recv() => match cmd {
                    None => return End::Stop,
                    Some(cmd) => {
                        if let Some(end) = self.on_cmd(client, cmd, &mut waiting).await {
                            return end;
                        }
                    }
                },
            }
        }
    }

    /// Carries out one command on the connection; `Some` ends it.
    async fn on_cmd(
        &mut self,
        client: &RelayClient,
        cmd: InboxCmd,
        waiting: &mut bool,
    ) -> Option<End> {
        let lost = || {
            Some(End::Lost(NetError::Disconnected {
                relay: self.text.clone(),
            }))
        };
        match cmd {
            InboxCmd::Processed(acks) => {
                *waiting = false;
                if !acks.is_empty()
                    && let Err(e) = client.ack_many(&acks).await
                {
                    return Some(End::Lost(NetError::from_client(&self.text, e)));
                }
            }
            InboxCmd::Retry => return Some(End::Retry),
            InboxCmd::Subscribe(id, seed) => {
                let ok = self.subscribe(client, id, &seed).await;
                self.mailboxes.insert(id, seed);
                if !ok {
                    return lost();
                }
            }
            InboxCmd::Delete(id, seed) => {
                let key = SigningKey::from_bytes(&seed);
                let result = client
                    .delete_mailbox(id, &key)
                    .await
                    .map_err(|e| NetError::from_client(&self.text, e));
                let gone = matches!(result, Err(ref e) if e.is_connection());
                if result.is_ok()
                    || matches!(&result, Err(e) if e.code() == Some(ErrorCode::NoSuchMailbox))
                {
                    self.mailboxes.remove(&id);
                }
                if !self.report(Report::Deleted {
                    mailbox: id,
                    result,
                }) {
                    return Some(End::Stop);
                }
                if gone {
                    return lost();
                }
            }
        }
        None
    }

    /// The first delivery plus whatever else is already buffered, up to a
    /// batch; stops at an ended subscription, which it returns.
    fn take_batch(
        &self,
        first: Delivery,
        deliveries: &mut Deliveries,
    ) -> (Vec<Delivery>, Option<MailboxId>) {
        let mut batch = vec![first];
        while batch.len() < self.batch {
            match deliveries.try_next() {
                Some(Incoming::Delivery(d)) => batch.push(d),
                Some(Incoming::SubscriptionEnded(mailbox)) => return (batch, Some(mailbox)),
                None => break,
            }
        }
        (batch, None)
    }
}
