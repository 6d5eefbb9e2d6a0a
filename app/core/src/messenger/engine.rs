//! The task that owns the client: requests in, deliveries in, reports in,
//! events out. It never awaits the network; the connection tasks do.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cairn_protocol::envelope::MailboxId;
use cairn_protocol::frames::ErrorCode;
use cairn_protocol::invite::Invite;
use cairn_protocol::relay_address::RelayAddress;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::inbox::{Inbox, InboxCmd};
use super::lanes::Report;
use super::sender::Sender;
use super::{Clock, MessengerConfig, MessengerEvent, NetError, Op, RelayState, Reply, dial};
use crate::client::{Client, ClientEvent, CreatedInvite, Delivery, NewMailbox};
use crate::store::{Contact, ContactId, OutboxItem};

mod invites;
mod moves;
pub(crate) use invites::InviteStep;
pub(crate) use moves::HomeReady;

/// Where a sender task sends: relay address text and mailbox (one per contact).
type Destination = (String, [u8; 32]);

/// A mailbox we own and the seed of its auth key.
type Owned = (MailboxId, Zeroizing<[u8; 32]>);

/// Most envelopes handed to sender tasks per pump.
const PUMP_LIMIT: usize = 50_000;

/// A request waiting for mailboxes to exist at their relay.
pub(crate) struct Pending {
    mailboxes: Vec<NewMailbox>,
    result: Result<(), NetError>,
    then: Then,
}

/// How long stopping waits for deletions in flight ([`Engine::finish_deletions`]).
const DELETION_WAIT: Duration = Duration::from_secs(2);

enum Then {
    Invite(Reply<CreatedInvite>),
    Accept {
        invite: Box<Invite>,
        name: String,
        reply: Reply<Contact>,
    },
    /// A mailbox the relay forgot was created again: subscribe.
    Recreated,
    /// A fresh mailbox for a conversation that moves (`Client::conversations_to_move`).
    Move(ContactId),
}

struct SentWaiter {
    receipts: bool,
    reply: oneshot::Sender<Result<(), NetError>>,
}

struct ReceivedWaiter {
    quiet: Duration,
    deadline: Instant,
    baseline: usize,
    reply: oneshot::Sender<usize>,
}

pub(crate) struct Engine {
    client: Client,
    config: MessengerConfig,
    clock: Clock,
    ops: mpsc::UnboundedSender<super::Op>,
    events: mpsc::UnboundedSender<MessengerEvent>,
    reports: mpsc::UnboundedSender<Report>,
    reports_rx: mpsc::UnboundedReceiver<Report>,
    inboxes: HashMap<String, Inbox>,
    /// Relays whose inbox has reported at least once (up or down).
    settled: HashSet<String>,
    senders: HashMap<Destination, Sender>,
    in_flight: HashSet<i64>,
    deleting: HashSet<[u8; 32]>,
    /// Conversations whose move to a send-locked mailbox is under way.
    locking: HashSet<ContactId>,
    /// Last known state per relay, to report only changes.
    health: HashMap<String, bool>,
    queued: Option<usize>,
    wake: Option<Instant>,
    /// New visible messages received since start.
    received: usize,
    last_activity: Instant,
    sent_waiters: Vec<SentWaiter>,
    /// The last error a send met (what a waiter reports while envelopes wait for a retry).
    last_send_error: Option<NetError>,
    received_waiters: Vec<ReceivedWaiter>,
    token: Option<String>,
}

impl Engine {
    pub(super) fn new(
        client: Client,
        config: MessengerConfig,
        ops: mpsc::UnboundedSender<super::Op>,
        events: mpsc::UnboundedSender<MessengerEvent>,
    ) -> Self {
        let (reports, reports_rx) = mpsc::unbounded_channel();
        let token = client
            .access_token()
            .ok()
            .flatten()
            .and_then(|t| String::from_utf8(t.to_vec()).ok());
        Self {
            clock: config.clock.clone(),
            client,
            config,
            ops,
            events,
            reports,
            reports_rx,
            inboxes: HashMap::new(),
            settled: HashSet::new(),
            senders: HashMap::new(),
            in_flight: HashSet::new(),
            deleting: HashSet::new(),
            locking: HashSet::new(),
            health: HashMap::new(),
            queued: None,
            wake: None,
            received: 0,
            last_activity: Instant::now(),
            sent_waiters: Vec::new(),
            last_send_error: None,
            received_waiters: Vec::new(),
            token,
        }
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    fn emit(&self, event: MessengerEvent) {
        let _ = self.events.send(event);
    }

    pub(super) async fn run(mut self, mut ops: mpsc::UnboundedReceiver<super::Op>) {
        if self.config.receive {
            self.start_inboxes();
            self.tidy();
        }
        self.pump();
        let mut tidy = tokio::time::interval(self.config.tidy_every.max(Duration::from_secs(1)));
        tidy.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tidy.tick().await;
        let mut check = tokio::time::interval(Duration::from_millis(20));
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let wake = self.wake;
            tokio::select! {
                op = ops.recv() => match op {
                    None => break,
                    Some(Op::Stop { reply }) => {
                        self.finish_deletions().await;
                        self.shutdown();
                        let _ = reply.send(self.client);
                        return;
                    }
                    Some(op) => self.handle(op),
                },
                Some(report) = self.reports_rx.recv() => self.on_report(report),
                () = sleep_until(wake) => {
                    self.wake = None;
                    self.pump();
                }
                _ = tidy.tick(), if self.config.receive => self.tidy(),
                _ = check.tick(), if !self.received_waiters.is_empty() => {}
            }
            self.settle_waiters();
        }
        self.shutdown();
    }

    /// Waits (at most [`DELETION_WAIT`]) for the deletions already asked of
    /// the relays, so a short session — a CLI `recv` that completed a
    /// handshake — does not leave a used invite's sealed copy behind for the
    /// next acceptor (PROTOCOL.md §7.1). Deliveries meanwhile are left to
    /// the next session.
    async fn finish_deletions(&mut self) {
        let deadline = Instant::now() + DELETION_WAIT;
        while !self.deleting.is_empty() {
            match tokio::time::timeout_at(deadline, self.reports_rx.recv()).await {
                // Unacknowledged, so the relay delivers them again next time.
                Ok(Some(Report::Deliveries { .. })) => {}
                Ok(Some(report)) => self.on_report(report),
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// Drops every connection task (their channels close and they hang up).
    fn shutdown(&mut self) {
        self.inboxes.clear();
        self.senders.clear();
    }

    fn handle(&mut self, op: Op) {
        let now = self.now();
        match op {
            Op::Run { job, update } => {
                job(&mut self.client);
                if update {
                    self.pump();
                }
            }
            Op::CreateInvite { relay, reply } => {
                // The invite's mailbox (open: anyone with the link answers
                // it), and the send-locked one the conversation moves to when
                // the handshake arrives (PROTOCOL.md §10.4, §18.3).
                let invite = self.client.mint_invite_mailbox_on(relay.clone());
                let conversation = self.client.mint_mailbox_on(relay);
                self.create_then(vec![invite, conversation], Then::Invite(reply));
            }
            Op::AcceptInvite { link, name, reply } => self.accept(&link, name, reply),
            Op::Invite(step) => self.invite_step(*step),
            Op::MailboxReady(pending) => self.mailbox_ready(*pending),
            Op::SendTexts {
                contact,
                texts,
                reply,
            } => {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let result = self.client.send_texts(contact, &refs, now);
                if let Ok(records) = &result {
                    for message in records {
                        self.emit(MessengerEvent::Client(ClientEvent::Message {
                            message: message.clone(),
                        }));
                    }
                }
                let _ = reply.send(result.map_err(Into::into));
                self.pump();
            }
            Op::MarkRead { contact, reply } => {
                let result = self.client.mark_read(contact, now);
                let _ = reply.send(result.map_err(Into::into));
                self.pump();
            }
            Op::RevokeInvite { id, reply } => {
                let result = self.client.revoke_invite(&id, now);
                let revoked = matches!(result, Ok(true));
                let _ = reply.send(result.map_err(Into::into));
                if revoked {
                    self.tidy();
                }
            }
            Op::ChangeHome {
                relay,
                token,
                reply,
            } => self.change_home(relay, token, reply),
            Op::HomeReady(ready) => self.home_ready(*ready),
            Op::WaitSent { receipts, reply } => {
                self.sent_waiters.push(SentWaiter { receipts, reply });
            }
            Op::WaitReceived { quiet, wait, reply } => {
                self.received_waiters.push(ReceivedWaiter {
                    quiet,
                    deadline: Instant::now() + wait,
                    baseline: self.received,
                    reply,
                });
            }
            Op::Stop { .. } => {}
        }
    }

    /// Creates `mailboxes` at their relay, each on a connection of its own,
    /// then continues with `then` back in the engine.
    fn create_then(&mut self, mailboxes: Vec<NewMailbox>, then: Then) {
        let home = self.client.home_relay().clone();
        let token = self.token.clone();
        let options = self.config.dial.clone();
        let ops = self.ops.clone();
        tokio::spawn(async move {
            let mut result = Ok(());
            for mailbox in &mailboxes {
                // The access token is for the home relay only.
                let token = token.as_deref().filter(|_| mailbox.relay == home);
                result = dial::create_mailbox(mailbox, token, &options).await;
                if result.is_err() {
                    break;
                }
            }
            let pending = Pending {
                mailboxes,
                result,
                then,
            };
            let _ = ops.send(Op::MailboxReady(Box::new(pending)));
        });
    }

    fn mailbox_ready(&mut self, pending: Pending) {
        let Pending {
            mailboxes,
            result,
            then,
        } = pending;
        let now = self.now();
        let Some(first) = mailboxes.first() else {
            return;
        };
        let relay = first.relay.to_string();
        if let Err(e) = result {
            // A refusal of one request says nothing about the relay's health.
            if e.is_connection() || !matches!(then, Then::Move(_)) {
                self.note_relay(&relay, Some(&e));
            }
            match then {
                Then::Invite(reply) => {
                    let _ = reply.send(Err(e.into()));
                }
                Then::Accept { reply, .. } => {
                    let _ = reply.send(Err(e.into()));
                }
                Then::Recreated => {}
                // Tried again at the next tidy.
                Then::Move(contact) => {
                    self.locking.remove(&contact);
                }
            }
            return;
        }
        self.note_relay(&relay, None);
        match then {
            Then::Invite(reply) => {
                let made = match &mailboxes[..] {
                    [invite, conversation] => self.client.create_invite(invite, conversation, now),
                    _ => Err(crate::store::StoreError::Malformed("invite mailboxes").into()),
                };
                if made.is_ok() {
                    for m in &mailboxes {
                        self.subscribe(m);
                    }
                }
                self.invite_made(made.map_err(Into::into), reply);
            }
            Then::Accept {
                invite,
                name,
                reply,
            } => {
                let result = self.client.accept_invite(&invite, &name, first, now);
                if let Ok(contact) = &result {
                    self.subscribe(first);
                    self.emit(MessengerEvent::Client(ClientEvent::ContactAdded {
                        contact: contact.clone(),
                    }));
                }
                let _ = reply.send(result.map_err(Into::into));
                self.pump();
            }
            Then::Recreated => self.subscribe(first),
            Then::Move(contact) => {
                self.move_to(contact, first, now);
                self.pump();
            }
        }
    }

    /// Starts receiving on a mailbox we just registered.
    fn subscribe(&mut self, mailbox: &NewMailbox) {
        if !self.config.receive {
            return;
        }
        let relay = mailbox.relay.to_string();
        let seed = Zeroizing::new(*mailbox.auth_seed);
        match self.inboxes.get(&relay) {
            Some(inbox) => inbox.send(InboxCmd::Subscribe(mailbox.id, seed)),
            None => {
                let inbox = Inbox::spawn(
                    mailbox.relay.clone(),
                    vec![(mailbox.id, seed)],
                    self.config.dial.clone(),
                    self.config.batch,
                    self.reports.clone(),
                );
                self.inboxes.insert(relay, inbox);
            }
        }
    }

    /// One inbox per relay holding our mailboxes.
    fn start_inboxes(&mut self) {
        let mailboxes = match self.client.active_mailboxes() {
            Ok(m) => m,
            Err(e) => {
                self.emit(MessengerEvent::ReceiveFailed(e));
                return;
            }
        };
        let mut by_relay: HashMap<String, Vec<Owned>> = HashMap::new();
        for mb in mailboxes {
            let Ok(seed) = <[u8; 32]>::try_from(mb.auth_seed.as_slice()) else {
                continue;
            };
            by_relay
                .entry(mb.relay)
                .or_default()
                .push((MailboxId(mb.id), Zeroizing::new(seed)));
        }
        for (relay, mailboxes) in by_relay {
            let Ok(address) = relay.parse::<RelayAddress>() else {
                continue;
            };
            let inbox = Inbox::spawn(
                address,
                mailboxes,
                self.config.dial.clone(),
                self.config.batch,
                self.reports.clone(),
            );
            self.inboxes.insert(relay, inbox);
        }
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::Up { relay } => {
                self.settled.insert(relay.clone());
                self.last_activity = Instant::now();
                self.note_relay(&relay, None);
                // What waited out an outage goes now, not after its backoff.
                match self.client.outbox_retry_now(&relay, self.now()) {
                    Ok(0) => {}
                    Ok(_) => self.pump(),
                    Err(e) => self.emit(MessengerEvent::ReceiveFailed(e)),
                }
            }
            Report::Down {
                relay,
                error,
                retry_in,
            } => {
                self.settled.insert(relay.clone());
                self.health.insert(relay.clone(), false);
                self.emit(MessengerEvent::Relay {
                    relay,
                    state: RelayState::Down { error, retry_in },
                });
            }
            Report::Deliveries { relay, batch } => self.receive(&relay, batch),
            Report::MailboxGone { mailbox } => self.recreate(mailbox),
            Report::Deleted { mailbox, result } => {
                self.deleting.remove(&mailbox.0);
                let gone = match &result {
                    Ok(()) => true,
                    Err(e) => e.code() == Some(ErrorCode::NoSuchMailbox),
                };
                if gone && let Err(e) = self.client.mailbox_deleted(&mailbox.0) {
                    self.emit(MessengerEvent::ReceiveFailed(e));
                }
            }
            Report::Sent { relay, results } => self.sent(&relay, results),
        }
    }

    fn receive(&mut self, relay: &str, batch: Vec<cairn_relay_client::Delivery>) {
        self.last_activity = Instant::now();
        let deliveries: Vec<Delivery> = batch
            .into_iter()
            .map(|d| Delivery {
                mailbox: d.mailbox,
                message: d.message,
                bytes: d.envelope,
            })
            .collect();
        let now = self.now();
        let Some(inbox) = self.inboxes.get(relay) else {
            return;
        };
        let result = self.client.receive(&deliveries, now);
        // Quiet is counted from the end of the work: a batch that took longer
        // than a caller's quiet window is not the end of the backlog (the next
        // one is already waiting in the inbox's buffer).
        self.last_activity = Instant::now();
        match result {
            Ok(report) => {
                let acks = if self.config.ack {
                    report.acks
                } else {
                    Vec::new()
                };
                inbox.send(InboxCmd::Processed(acks));
                self.received += report.new_messages;
                // A completed handshake used up an invite: its sealed copy
                // goes from the relay now, so nobody else fetches it (§7.1).
                let handshake = report
                    .events
                    .iter()
                    .any(|e| matches!(e, ClientEvent::ContactAdded { .. }));
                for event in report.events {
                    self.emit(MessengerEvent::Client(event));
                }
                self.pump();
                if handshake {
                    self.tidy();
                }
            }
            Err(e) => {
                inbox.send(InboxCmd::Retry);
                self.emit(MessengerEvent::ReceiveFailed(e));
            }
        }
    }

    /// The relay no longer knows a mailbox we receive on: register it again
    /// (same id and key), so the contact's messages have somewhere to go.
    fn recreate(&mut self, mailbox: MailboxId) {
        let Ok(mailboxes) = self.client.active_mailboxes() else {
            return;
        };
        let Some(record) = mailboxes.into_iter().find(|m| m.id == mailbox.0) else {
            return;
        };
        let (Ok(relay), Ok(seed)) = (
            record.relay.parse::<RelayAddress>(),
            <[u8; 32]>::try_from(record.auth_seed.as_slice()),
        ) else {
            return;
        };
        let new = NewMailbox {
            id: mailbox,
            relay,
            auth_seed: Zeroizing::new(seed),
            // The same lock again: the contact holds the key already.
            send_key: record.send_key,
        };
        self.create_then(vec![new], Then::Recreated);
    }

    /// Housekeeping (expired invites, old seen ids, expired skipped keys),
    /// moves conversations off open mailboxes, then deletes mailboxes nothing
    /// uses any more at their relays.
    fn tidy(&mut self) {
        let now = self.now();
        if let Err(e) = self.client.housekeeping(now) {
            self.emit(MessengerEvent::ReceiveFailed(e));
            return;
        }
        self.move_conversations();
        let Ok(unused) = self.client.mailboxes_to_delete() else {
            return;
        };
        for mb in unused {
            if self.deleting.contains(&mb.id) {
                continue;
            }
            let Ok(seed) = <[u8; 32]>::try_from(mb.auth_seed.as_slice()) else {
                continue;
            };
            match self.inboxes.get(&mb.relay) {
                Some(inbox) => {
                    self.deleting.insert(mb.id);
                    inbox.send(InboxCmd::Delete(MailboxId(mb.id), Zeroizing::new(seed)));
                }
                // No inbox there (nothing else of ours on that relay): forget
                // it here; the relay's own TTL takes what is left.
                None => {
                    if let Err(e) = self.client.mailbox_deleted(&mb.id) {
                        self.emit(MessengerEvent::ReceiveFailed(e));
                    }
                }
            }
        }
    }

    /// Seals receipts that are due and hands everything due to the sender
    /// tasks, one per destination, in outbox order.
    fn pump(&mut self) {
        let now = self.now();
        if let Err(e) = self.client.seal_due_receipts(now) {
            self.emit(MessengerEvent::ReceiveFailed(e));
        }
        let due = match self.client.outbox_due(now, PUMP_LIMIT) {
            Ok(due) => due,
            Err(e) => {
                self.emit(MessengerEvent::ReceiveFailed(e));
                Vec::new()
            }
        };
        let mut bursts: Vec<(Destination, Vec<OutboxItem>)> = Vec::new();
        for item in due {
            if !self.in_flight.insert(item.id) {
                continue;
            }
            let key = (item.relay.clone(), item.mailbox);
            match bursts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, items)) => items.push(item),
                None => bursts.push((key, vec![item])),
            }
        }
        for (key, items) in bursts {
            self.hand_to_sender(key, items);
        }
        self.wake = match self.client.next_wake(now) {
            Ok(Some(at)) => Some(Instant::now() + Duration::from_millis(at.saturating_sub(now))),
            _ => None,
        };
        self.report_queue();
    }

    fn hand_to_sender(&mut self, key: Destination, items: Vec<OutboxItem>) {
        if !self.senders.contains_key(&key) {
            let relay = match key.0.parse::<RelayAddress>() {
                Ok(r) => r,
                Err(e) => {
                    // A stored address that no longer parses: fail the items
                    // (they back off) rather than loop on them.
                    let error = NetError::Unreachable {
                        relay: key.0.clone(),
                        reason: format!("invalid address: {e}"),
                    };
                    let results = items.into_iter().map(|i| (i, Err(error.clone()))).collect();
                    self.sent(&key.0, results);
                    return;
                }
            };
            let sender = Sender::spawn(
                relay,
                self.config.dial.clone(),
                self.config.send_idle,
                self.reports.clone(),
            );
            self.senders.insert(key.clone(), sender);
        }
        if let Some(sender) = self.senders.get(&key)
            && !sender.send(items)
        {
            self.senders.remove(&key);
        }
    }

    fn sent(&mut self, relay: &str, results: Vec<(OutboxItem, Result<(), NetError>)>) {
        let now = self.now();
        let mut ok = Vec::new();
        let mut failure: Option<NetError> = None;
        for (item, result) in results {
            self.in_flight.remove(&item.id);
            match result {
                Ok(()) => ok.push(item),
                Err(e) => {
                    if let Err(err) = self.client.outbox_failed(&item, &e.to_string(), now) {
                        self.emit(MessengerEvent::ReceiveFailed(err));
                    }
                    failure.get_or_insert(e);
                }
            }
        }
        match self.client.outbox_sent(&ok) {
            Ok(events) => {
                for event in events {
                    self.emit(MessengerEvent::Client(event));
                }
            }
            Err(e) => self.emit(MessengerEvent::ReceiveFailed(e)),
        }
        if let Some(e) = &failure {
            self.last_send_error = Some(e.clone());
        }
        let connection_error = failure.as_ref().filter(|e| e.is_connection());
        self.note_relay(relay, connection_error);
        self.pump();
    }

    /// Reports a relay's state when it changes.
    fn note_relay(&mut self, relay: &str, error: Option<&NetError>) {
        let up = error.is_none();
        if self.health.insert(relay.to_owned(), up) == Some(up) && up {
            return;
        }
        let state = match error {
            None => RelayState::Up,
            Some(error) => RelayState::Down {
                error: error.clone(),
                retry_in: Duration::from_secs(1),
            },
        };
        self.emit(MessengerEvent::Relay {
            relay: relay.to_owned(),
            state,
        });
    }

    fn report_queue(&mut self) {
        let Ok(queued) = self.client.outbox_len() else {
            return;
        };
        if self.queued != Some(queued) {
            self.queued = Some(queued);
            self.emit(MessengerEvent::Outbox { queued });
        }
    }

    fn settle_waiters(&mut self) {
        if !self.sent_waiters.is_empty() && self.in_flight.is_empty() {
            let now = self.now();
            let nothing_due = self
                .client
                .outbox_due(now, 1)
                .map(|d| d.is_empty())
                .unwrap_or(true);
            let queued = self.client.outbox_len().unwrap_or(0);
            let no_receipts = self
                .client
                .next_receipt_due()
                .map(|d| d.is_none())
                .unwrap_or(true);
            if nothing_due {
                // What is still queued waits for a retry: report why.
                let outcome = match (&self.last_send_error, queued) {
                    (Some(e), 1..) => Err(e.clone()),
                    _ => Ok(()),
                };
                let waiters = std::mem::take(&mut self.sent_waiters);
                for w in waiters {
                    if w.receipts && !no_receipts && outcome.is_ok() {
                        self.sent_waiters.push(w);
                        continue;
                    }
                    let _ = w.reply.send(outcome.clone());
                }
            }
        }
        if !self.received_waiters.is_empty() {
            let settled = self.inboxes.keys().all(|r| self.settled.contains(r));
            let quiet_for = self.last_activity.elapsed();
            let now = Instant::now();
            let received = self.received;
            let waiters = std::mem::take(&mut self.received_waiters);
            for w in waiters {
                let new = received - w.baseline;
                let drained = settled && quiet_for >= w.quiet;
                if drained && (new > 0 || now >= w.deadline) {
                    let _ = w.reply.send(new);
                } else {
                    self.received_waiters.push(w);
                }
            }
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wake for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
