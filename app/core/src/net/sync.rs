//! One sync round: flush the outbox, receive in batches, ack after commit.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cairn_protocol::envelope::MailboxId;
use cairn_protocol::relay_address::RelayAddress;
use thiserror::Error;
use tokio::time::Instant;

use super::{Connector, NetError, RelayLink};
use crate::client::{Client, ClientError, ClientEvent, Delivery, NewMailbox};
use crate::store::OutboxItem;

/// Envelopes sent per pipelined burst.
const SEND_CHUNK: usize = 256;

/// Tuning for a sync round.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Silence after which a relay's backlog is taken as drained.
    pub idle: Duration,
    /// How long to keep listening for a first new message when there is none.
    pub wait: Duration,
    /// Deliveries per transaction (one fsync each).
    pub batch: usize,
    /// Token for relays that require one to create mailboxes.
    pub access_token: Option<Vec<u8>>,
    /// Ack stored deliveries at the relay. Only crash-consistency tests turn
    /// this off: it behaves exactly like a process dying right after the commit.
    pub ack: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            idle: Duration::from_millis(300),
            wait: Duration::ZERO,
            batch: 2_000,
            access_token: None,
            ack: true,
        }
    }
}

/// Why a sync round stopped.
#[derive(Debug, Error)]
pub enum SyncError {
    /// Local storage failed: nothing was acked that was not stored.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A relay operation the caller needed (such as creating a mailbox) failed.
    #[error(transparent)]
    Net(#[from] NetError),
}

/// What a sync round did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Things to show, in order.
    pub events: Vec<ClientEvent>,
    /// Envelopes the relays accepted from our outbox.
    pub sent: usize,
    /// Envelopes still queued after this round.
    pub queued: usize,
    /// Deliveries received (including duplicates and rejected ones).
    pub received: usize,
    /// New visible messages.
    pub new_messages: usize,
    /// Relay problems met on the way (the round went on with the other relays).
    pub errors: Vec<NetError>,
    /// Time spent decrypting, verifying and committing (the rest is network and waiting).
    pub processing: Duration,
}

/// Holds relay connections across rounds and runs sync rounds for a client.
pub struct Syncer<C: Connector> {
    connector: C,
    links: HashMap<String, C::Link>,
    /// Mailboxes subscribed on the current link of each relay.
    subscribed: HashSet<(String, [u8; 32])>,
    opts: SyncOptions,
}

impl<C: Connector> Syncer<C> {
    /// A syncer with no open connections yet.
    pub fn new(connector: C, opts: SyncOptions) -> Self {
        Self {
            connector,
            links: HashMap::new(),
            subscribed: HashSet::new(),
            opts,
        }
    }

    /// Options in force.
    pub fn options_mut(&mut self) -> &mut SyncOptions {
        &mut self.opts
    }

    async fn link(&mut self, relay: &str) -> Result<&mut C::Link, NetError> {
        if !self.links.contains_key(relay) {
            let address: RelayAddress = relay.parse().map_err(|e| NetError::Connect {
                relay: relay.to_owned(),
                reason: format!("invalid address: {e}"),
            })?;
            let link = self.connector.connect(&address).await?;
            self.links.insert(relay.to_owned(), link);
        }
        self.links
            .get_mut(relay)
            .ok_or_else(|| NetError::Disconnected(relay.to_owned()))
    }

    /// Registers a freshly minted mailbox on its relay (before the client stores it).
    pub async fn create_mailbox(&mut self, mailbox: &NewMailbox) -> Result<(), NetError> {
        let relay = mailbox.relay.to_string();
        let token = self.opts.access_token.clone();
        let result = match self.link(&relay).await {
            Ok(link) => {
                link.create_mailbox(mailbox.id, &mailbox.auth_seed, token.as_deref())
                    .await
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.drop_link(&relay);
        }
        result
    }

    /// Sends everything due in the outbox; failures are rescheduled with backoff.
    pub async fn flush_outbox(
        &mut self,
        client: &mut Client,
        now: &(dyn Fn() -> u64 + Sync),
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        let due = client.outbox_due(now(), 50_000)?;
        let mut by_relay: Vec<(String, Vec<OutboxItem>)> = Vec::new();
        for item in due {
            match by_relay.iter_mut().find(|(r, _)| *r == item.relay) {
                Some((_, items)) => items.push(item),
                None => by_relay.push((item.relay.clone(), vec![item])),
            }
        }
        for (relay, items) in by_relay {
            let link = match self.link(&relay).await {
                Ok(link) => link,
                Err(e) => {
                    // Unreachable: every item waits for its backoff.
                    let text = e.to_string();
                    for item in &items {
                        client.outbox_failed(item, &text, now())?;
                    }
                    report.errors.push(e);
                    continue;
                }
            };
            let mut sent = Vec::new();
            let mut failure = None;
            for chunk in items.chunks(SEND_CHUNK) {
                let envelopes: Vec<&[u8]> = chunk.iter().map(|i| i.envelope.as_slice()).collect();
                let results = link.send(&envelopes).await;
                for (item, result) in chunk.iter().zip(results) {
                    match result {
                        Ok(()) => sent.push(item.clone()),
                        Err(e) => {
                            client.outbox_failed(item, &e.to_string(), now())?;
                            failure.get_or_insert(e);
                        }
                    }
                }
                // Later chunks stay due and are tried on the next round.
                if failure.is_some() {
                    break;
                }
            }
            report.sent += sent.len();
            report.events.extend(client.outbox_sent(&sent)?);
            if let Some(e) = failure {
                self.drop_link(&relay);
                report.errors.push(e);
            }
        }
        report.queued = client.outbox_len()?;
        Ok(())
    }

    /// Subscribes to every mailbox we own and receives until each relay goes idle
    /// (and, if nothing new came, until `wait` has passed).
    pub async fn receive(
        &mut self,
        client: &mut Client,
        now: &(dyn Fn() -> u64 + Sync),
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        let mailboxes = client.active_mailboxes()?;
        let mut relays: Vec<String> = Vec::new();
        for mb in &mailboxes {
            let seed: [u8; 32] = match mb.auth_seed.as_slice().try_into() {
                Ok(s) => s,
                Err(_) => continue,
            };
            let key = (mb.relay.clone(), mb.id);
            let result = if self.subscribed.contains(&key) && self.links.contains_key(&mb.relay) {
                Ok(())
            } else {
                match self.link(&mb.relay).await {
                    Ok(link) => link.subscribe(MailboxId(mb.id), &seed).await,
                    Err(e) => Err(e),
                }
            };
            if result.is_ok() {
                self.subscribed.insert(key);
            }
            match result {
                Ok(()) => {
                    if !relays.contains(&mb.relay) {
                        relays.push(mb.relay.clone());
                    }
                }
                Err(e) => {
                    self.drop_link(&mb.relay);
                    relays.retain(|r| *r != mb.relay);
                    report.errors.push(e);
                }
            }
        }
        let deadline = Instant::now() + self.opts.wait;
        loop {
            for relay in &relays {
                self.drain(relay, client, now, report).await?;
            }
            if report.new_messages > 0 || relays.is_empty() || Instant::now() >= deadline {
                return Ok(());
            }
        }
    }

    /// Receives from one relay in batches until it is idle.
    async fn drain(
        &mut self,
        relay: &str,
        client: &mut Client,
        now: &(dyn Fn() -> u64 + Sync),
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        let idle = self.opts.idle;
        let batch_size = self.opts.batch.max(1);
        let ack = self.opts.ack;
        let Some(link) = self.links.get_mut(relay) else {
            return Ok(());
        };
        loop {
            let mut batch = Vec::new();
            let mut broken = None;
            while batch.len() < batch_size {
                match link.next_delivery(idle).await {
                    Ok(Some(bytes)) => batch.push(Delivery {
                        mailbox: header_mailbox(&bytes),
                        bytes,
                    }),
                    Ok(None) => break,
                    Err(e) => {
                        broken = Some(e);
                        break;
                    }
                }
            }
            let got = batch.len();
            if got > 0 {
                report.received += got;
                // Commit first; only then ack. A failure here acks nothing.
                let started = std::time::Instant::now();
                let done = client.receive(&batch, now())?;
                report.processing += started.elapsed();
                report.new_messages += done.new_messages;
                report.events.extend(done.events);
                if ack
                    && broken.is_none()
                    && let Err(e) = link.ack(&done.acks).await
                {
                    broken = Some(e);
                }
            }
            if let Some(e) = broken {
                self.drop_link(relay);
                report.errors.push(e);
                return Ok(());
            }
            if got < batch_size {
                return Ok(());
            }
        }
    }

    /// A full round: send, receive, then send what receiving produced (receipts).
    pub async fn sync(
        &mut self,
        client: &mut Client,
        now: &(dyn Fn() -> u64 + Sync),
    ) -> Result<SyncReport, ClientError> {
        let mut report = SyncReport::default();
        self.tidy_mailboxes(client, now).await?;
        self.flush_outbox(client, now, &mut report).await?;
        self.receive(client, now, &mut report).await?;
        self.flush_outbox(client, now, &mut report).await?;
        Ok(report)
    }

    /// Runs [`Client::housekeeping`] (expired invites, old seen-envelope ids),
    /// then deletes mailboxes nothing uses any more at
    /// their relays. Best effort: a relay that cannot be reached (or has
    /// already forgotten the mailbox) is tried again next round, and never
    /// fails the round.
    pub async fn tidy_mailboxes(
        &mut self,
        client: &mut Client,
        now: &(dyn Fn() -> u64 + Sync),
    ) -> Result<(), ClientError> {
        client.housekeeping(now())?;
        for mailbox in client.mailboxes_to_delete()? {
            let Ok(seed) = <[u8; 32]>::try_from(mailbox.auth_seed.as_slice()) else {
                continue;
            };
            let result = match self.link(&mailbox.relay).await {
                Ok(link) => link.delete_mailbox(MailboxId(mailbox.id), &seed).await,
                Err(e) => Err(e),
            };
            match result {
                // Refused: the relay no longer has it (e.g. it expired there): forget it too.
                Ok(()) | Err(NetError::Refused(_)) => client.mailbox_deleted(&mailbox.id)?,
                Err(_) => self.drop_link(&mailbox.relay),
            }
            self.subscribed
                .retain(|(r, id)| !(r == &mailbox.relay && id == &mailbox.id));
        }
        Ok(())
    }

    /// Drops all connections (for example before the process sleeps).
    pub fn disconnect(&mut self) {
        self.links.clear();
        self.subscribed.clear();
    }

    /// Forgets a broken connection; the next use reconnects and re-subscribes.
    fn drop_link(&mut self, relay: &str) {
        self.links.remove(relay);
        self.subscribed.retain(|(r, _)| r != relay);
    }

    /// Number of open relay connections.
    pub fn connections(&self) -> usize {
        self.links.len()
    }
}

/// Mailbox named in an envelope header (zeros if too short; such an envelope is rejected).
fn header_mailbox(bytes: &[u8]) -> MailboxId {
    bytes
        .get(1..33)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(MailboxId)
        .unwrap_or(MailboxId([0; 32]))
}

#[cfg(test)]
mod tests;
