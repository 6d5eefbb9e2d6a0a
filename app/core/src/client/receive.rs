//! Receiving: a batch of relay deliveries in, one transaction, acks out.
//!
//! Every delivery is either stored (message, receipt, handshake, event) or
//! deliberately dropped with a `rejected` event, and in both cases recorded in
//! `seen_envelopes` — all inside ONE transaction together with the session
//! changes, written once per batch. Only after that commits does the caller
//! ack the returned ids at the relay. A crash before the commit means the
//! relay redelivers and we decrypt again from the old state; a crash after it
//! means the redelivery is recognised as seen and only acked.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cairn_protocol::content::Content;
use cairn_protocol::envelope::{BodyKind, Envelope, MailboxId, MessageId};
use cairn_protocol::identity::Identity;
use cairn_protocol::integrity::IntegrityEvent;
use cairn_protocol::ratchet::RatchetError;
use cairn_protocol::session::{Received, Session, SessionError};

use super::events::ClientEvent;
use super::sessions::{SessionCache, persist, session_mut};
use super::{Client, ClientError, ClientResult, UNCONFIRMED_AFTER_MS, handshake_in};
use crate::store::{
    Contact, ContactId, Db, Direction, EventKind, IntegrityRecord, MessageRecord, MessageStatus,
    NewMessage, ReceiptKind, StoreError,
};

/// A change of mailbox a received message asks of the session (§10.4).
enum MailboxChange {
    /// The peer receives elsewhere now.
    Peer(MailboxId),
}

/// Conversation messages decrypted (and batch-verified) per step of a pipelined run.
const DECRYPT_CHUNK: usize = 256;

/// How often at most the same "unauthenticated traffic" notice is recorded
/// for one mailbox: someone flooding an open mailbox gets one line a day,
/// not a line per envelope.
pub(crate) const UNAUTHENTICATED_NOTICE_EVERY_MS: u64 = 24 * 3600 * 1000;

/// One envelope as a relay delivered it: the relay client has already read
/// the mailbox and message id from its header (PROTOCOL.md §12), so they
/// are carried along instead of being parsed again.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The mailbox named in the envelope header.
    pub mailbox: MailboxId,
    /// The envelope's message id: the relay's ack handle and our dedupe key.
    pub message: MessageId,
    /// The envelope bytes, untouched.
    pub bytes: bytes::Bytes,
}

/// What a batch produced.
#[derive(Debug, Default)]
pub struct ReceiveReport {
    /// Deliveries now durably handled: ack these at the relay, and only these.
    pub acks: Vec<(MailboxId, MessageId)>,
    /// What to show.
    pub events: Vec<ClientEvent>,
    /// New visible text messages in this batch.
    pub new_messages: usize,
}

impl Client {
    /// Processes a batch of deliveries in one transaction (see the module docs).
    /// Delivery receipts are queued for a random moment in the receipt window
    /// ([`Client::set_receipt_delay`]), not sealed here.
    pub fn receive(&mut self, deliveries: &[Delivery], now_ms: u64) -> ClientResult<ReceiveReport> {
        let receipts_due = self.receipt_due(now_ms);
        self.write_with_sessions(|db, identity, sessions| {
            let mut batch = Batch {
                db,
                identity,
                sessions: &mut *sessions,
                now_ms,
                contacts: HashMap::new(),
                touched: BTreeSet::new(),
                delivered: BTreeMap::new(),
                receipts_due,
                unauthenticated: Vec::new(),
                mailbox_changes: Vec::new(),
                moving: HashMap::new(),
                report: ReceiveReport::default(),
                run: None,
            };
            for d in deliveries {
                batch.process(d)?;
            }
            batch.flush_run()?;
            batch.finish()
        })
    }
}

/// State of one receive transaction.
///
/// Consecutive conversation messages for the same contact are collected into
/// a run and decrypted together ([`Session::decrypt_batch`]: one batched
/// signature check instead of one per message); anything else (a handshake, a
/// rejection, another contact) first processes the pending run, so effects
/// stay in delivery order.
pub(super) struct Batch<'a, 'b, 'd> {
    pub db: &'a Db<'b>,
    pub identity: &'a Identity,
    pub sessions: &'a mut SessionCache,
    pub now_ms: u64,
    /// Contacts by our mailbox id, looked up once per batch.
    contacts: HashMap<[u8; 32], Option<Contact>>,
    /// Contacts whose session changed and must be written back.
    pub touched: BTreeSet<ContactId>,
    /// Counters to confirm with a delivery receipt, per contact.
    delivered: BTreeMap<ContactId, Vec<u64>>,
    /// When the delivery receipts of this batch go out.
    receipts_due: u64,
    /// Old mailboxes that already raised an "unauthenticated traffic" notice.
    unauthenticated: Vec<[u8; 32]>,
    /// Mailbox changes to apply to a session once its run is decrypted (the
    /// session is out of the cache while the run decrypts).
    mailbox_changes: Vec<(ContactId, MailboxChange)>,
    /// Contacts with an open move of ours, looked up once per batch.
    moving: HashMap<ContactId, bool>,
    pub report: ReceiveReport,
    /// Conversation messages waiting to be decrypted together, all for one contact.
    run: Option<(Contact, Vec<Envelope<'d>>)>,
}

impl<'d> Batch<'_, '_, 'd> {
    fn process(&mut self, d: &'d Delivery) -> ClientResult<()> {
        self.report.acks.push((d.mailbox, d.message));
        if !self.db.mark_seen(&d.message.0, self.now_ms)? {
            return Ok(()); // Redelivery of something already handled: ack only.
        }
        let env = match Envelope::parse(&d.bytes) {
            Ok(env) => env,
            Err(e) => {
                self.flush_run()?;
                return self.reject(None, &format!("malformed envelope: {e}"));
            }
        };
        match env.kind {
            BodyKind::Handshake => {
                self.flush_run()?;
                handshake_in::complete(self, &env)
            }
            BodyKind::Ratchet => self.queue_ratchet(env),
            // Sealed invites wait in link mailboxes, which only acceptors
            // fetch from (PROTOCOL.md §7.1): never one of ours to read.
            BodyKind::SealedInvite => {
                self.flush_run()?;
                self.reject(
                    None,
                    "a sealed invite arrived on a mailbox of ours: dropped",
                )
            }
        }
    }

    /// Adds a conversation message to the current run (starting a new run for another contact).
    fn queue_ratchet(&mut self, env: Envelope<'d>) -> ClientResult<()> {
        let Some(contact) = self.contact_for(&env.mailbox)? else {
            self.flush_run()?;
            return self.reject(None, "message on a mailbox no conversation uses");
        };
        match &mut self.run {
            Some((c, envs)) if c.id == contact.id => envs.push(env),
            _ => {
                self.flush_run()?;
                self.run = Some((contact, vec![env]));
            }
        }
        Ok(())
    }

    /// Decrypts the pending run and stores what it produced, in order.
    ///
    /// A long run is pipelined over two threads: a scoped thread decrypts and
    /// verifies chunk after chunk (the ratchet is sequential) while this thread
    /// writes the previous chunk's rows into the open transaction. Nothing is
    /// committed here, so the "store, then ack" order is unchanged; the
    /// session is back in the cache before this returns, also on error (and
    /// the caller drops the cache when the transaction fails).
    fn flush_run(&mut self) -> ClientResult<()> {
        let Some((contact, envs)) = self.run.take() else {
            return Ok(());
        };
        session_mut(self.sessions, self.db, &contact)?;
        let Some(mut session) = self.sessions.remove(&contact.id) else {
            return Err(ClientError::NoSession(contact.name.clone()));
        };
        let outcome = if envs.len() <= DECRYPT_CHUNK {
            let results = session.decrypt_batch(&envs, self.now_ms);
            envs.iter()
                .zip(results)
                .try_for_each(|(env, result)| self.ratchet(&contact, env, result))
        } else {
            self.pipelined(&contact, &mut session, &envs)
        };
        self.sessions.insert(contact.id, session);
        for (id, change) in std::mem::take(&mut self.mailbox_changes) {
            if let Some(s) = self.sessions.get_mut(&id) {
                match change {
                    MailboxChange::Peer(m) => s.move_peer_mailbox(m),
                }
                self.touched.insert(id);
            }
        }
        outcome
    }

    fn pipelined(
        &mut self,
        contact: &Contact,
        session: &mut Session,
        envs: &[Envelope<'d>],
    ) -> ClientResult<()> {
        let now_ms = self.now_ms;
        std::thread::scope(|scope| {
            // Two chunks in flight at most: bounded memory, enough to overlap.
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || {
                for chunk in envs.chunks(DECRYPT_CHUNK) {
                    if tx.send(session.decrypt_batch(chunk, now_ms)).is_err() {
                        break; // The storing side stopped on an error.
                    }
                }
            });
            let mut next = envs.iter();
            for results in rx {
                for result in results {
                    let env = next
                        .next()
                        .ok_or(StoreError::Malformed("decrypted more than was queued"))?;
                    self.ratchet(contact, env, result)?;
                }
            }
            Ok(())
        })
    }

    fn contact_for(&mut self, mailbox: &MailboxId) -> ClientResult<Option<Contact>> {
        if let Some(c) = self.contacts.get(&mailbox.0) {
            return Ok(c.clone());
        }
        // Our current mailbox for them, or one we moved away from (§10.4).
        let c = self.db.contact_for_mailbox(&mailbox.0)?.map(|(c, _)| c);
        self.contacts.insert(mailbox.0, c.clone());
        Ok(c)
    }

    /// Forgets cached contact rows (after a contact was added or changed).
    pub(super) fn invalidate_contacts(&mut self) {
        self.contacts.clear();
    }

    /// Stores the outcome of decrypting one conversation message.
    fn ratchet(
        &mut self,
        contact: &Contact,
        env: &Envelope<'_>,
        result: Result<Received, SessionError>,
    ) -> ClientResult<()> {
        let received = match result {
            Ok(r) => r,
            // `process` deduplicated by envelope id before decrypting, so this id
            // is new: not a relay redelivery (the id is authenticated with the
            // header), but a second message from a used position, or one sent
            // from a diverged state: a restored or cloned device (PROTOCOL.md §11).
            Err(e) if e.is_duplicate() || e.is_fork() => {
                return self.event(Some(contact), EventKind::Fork, &fork_detail(contact, &e));
            }
            Err(e) if e.lost().is_some() => {
                // Genuine, but its key was discarded (too many newer skipped
                // keys, or older than 30 days): say so, never drop it silently.
                return self.event(Some(contact), EventKind::Lost, &e.to_string());
            }
            Err(_) if env.mailbox.0 != contact.my_mailbox || self.open(&env.mailbox)? => {
                // A mailbox anyone with its id may write to: our old one (the
                // invite's, after the conversation moved), or a conversation
                // mailbox from before send locks. Not the contact's doing: one
                // notice, not in their chat. (A locked mailbox only takes
                // envelopes from the key holder, so a failure there is the
                // relay's or the key holder's: rejected, in the chat, below.)
                return self.unauthenticated(contact, &env.mailbox);
            }
            Err(e) => return self.reject(Some(contact), &format!("message rejected: {e}")),
        };
        self.touched.insert(contact.id);
        if !contact.confirmed && self.db.set_confirmed(contact.id)? {
            // Their first message: they completed the handshake (§8.2).
            self.invalidate_contacts();
            let now = self.db.contact(contact.id)?;
            self.report
                .events
                .push(ClientEvent::ContactChanged { contact: now });
        }
        let moving = self.moving(contact.id)?;
        let via_old = env.mailbox.0 != contact.my_mailbox;
        for event in &received.events {
            // While we move to a new mailbox (§10.4) the peer's messages come
            // through two mailboxes, which the relay delivers in no common
            // order: newer ones on the new mailbox can overtake older ones on
            // the old. So a gap a message on the new mailbox reveals, and a
            // late arrival on the old one, are not reported then; what is still
            // missing when the move ends is (see `Client::housekeeping`).
            let crossing = match event {
                IntegrityEvent::Gap { .. } => !via_old,
                IntegrityEvent::LateArrival { .. } => via_old,
                _ => false,
            };
            if moving && crossing {
                continue;
            }
            let (kind, detail) = describe(contact, event, &received.events);
            self.event(Some(contact), kind, &detail)?;
        }
        let held = received.from_pending_key;
        if !held {
            self.unconfirmed(contact, &received)?;
        }
        match received.content {
            Content::Text(text) => {
                let row = self.db.insert_message(&NewMessage {
                    contact: contact.id,
                    direction: Direction::Incoming,
                    counter: received.counter,
                    body: &text,
                    sent_ms: received.sent_at_ms,
                    received_ms: Some(self.now_ms),
                    status: MessageStatus::Received,
                    held,
                    envelope_id: Some(env.id.0),
                })?;
                if let Some(row) = row {
                    if held {
                        self.report.events.push(ClientEvent::Held {
                            contact: contact.id,
                        });
                    } else {
                        self.report.new_messages += 1;
                        self.report.events.push(ClientEvent::Message {
                            message: MessageRecord {
                                id: row,
                                contact: contact.id,
                                direction: Direction::Incoming,
                                counter: received.counter,
                                body: text,
                                sent_ms: received.sent_at_ms,
                                received_ms: Some(self.now_ms),
                                status: MessageStatus::Received,
                                envelope_id: Some(env.id.0),
                            },
                        });
                        self.delivered
                            .entry(contact.id)
                            .or_default()
                            .push(received.counter);
                    }
                }
            }
            Content::Delivered(counters) if !held => {
                self.status(contact, &counters, MessageStatus::Delivered)?;
            }
            Content::Read(counters) if !held => {
                self.status(contact, &counters, MessageStatus::Read)?;
            }
            Content::KeyUpdate(update) => {
                self.db
                    .set_pending_identity(contact.id, &update.new_identity.to_bytes())?;
                self.invalidate_contacts();
                self.event(
                    Some(contact),
                    EventKind::KeyChange,
                    "identity key changed: messages signed by the new key are held until you \
                     compare the new safety number and accept the change",
                )?;
            }
            Content::MailboxMove {
                relay,
                mailbox,
                send_key,
            } if !held => {
                self.moved(contact, &relay, &mailbox, &send_key)?;
            }
            Content::MailboxMoved { mailbox } if !held => {
                self.db.confirm_move_out(contact, &mailbox.0, self.now_ms)?;
            }
            // Shown through its integrity event (`IntegrityEvent::Restored`).
            Content::SessionRestored { .. } => {}
            // Receipts and moves under an unaccepted key, and kinds from newer
            // versions: ignored.
            Content::Delivered(_)
            | Content::Read(_)
            | Content::MailboxMove { .. }
            | Content::MailboxMoved { .. }
            | Content::Unknown { .. } => {}
        }
        Ok(())
    }

    /// The contact receives on a new mailbox now (§10.4): write there from
    /// now on, if its relay is one we may use.
    fn moved(
        &mut self,
        contact: &Contact,
        relay: &cairn_protocol::relay_address::RelayAddress,
        mailbox: &MailboxId,
        send_key: &cairn_protocol::frames::SendKey,
    ) -> ClientResult<()> {
        if let Err(refused) = super::relays::check_remote_relay(self.db, relay) {
            return self.reject(
                Some(contact),
                &format!("refused to follow a mailbox move: {refused}"),
            );
        }
        let text = relay.to_string();
        self.db.ensure_relay(&text, self.now_ms)?;
        self.db
            .move_in(contact, &text, &mailbox.0, send_key, self.now_ms)?;
        self.mailbox_changes
            .push((contact.id, MailboxChange::Peer(*mailbox)));
        self.invalidate_contacts();
        let now = self.db.contact(contact.id)?;
        self.report
            .events
            .push(ClientEvent::ContactChanged { contact: now });
        Ok(())
    }

    /// True while a move of ours for this contact is open (cached per batch).
    fn moving(&mut self, contact: ContactId) -> ClientResult<bool> {
        if let Some(m) = self.moving.get(&contact) {
            return Ok(*m);
        }
        let m = self.db.moving_out(contact)?;
        self.moving.insert(contact, m);
        Ok(m)
    }

    /// True if our mailbox `mailbox` takes envelopes from anyone holding its
    /// id (created without a send lock).
    fn open(&self, mailbox: &MailboxId) -> ClientResult<bool> {
        Ok(self.db.mailbox(&mailbox.0)?.send_key.is_none())
    }

    /// Envelopes nobody we know sent, on a mailbox of ours anyone holding its
    /// id may write to: one notice per mailbox and day, outside the chat.
    fn unauthenticated(&mut self, contact: &Contact, mailbox: &MailboxId) -> ClientResult<()> {
        if self.unauthenticated.contains(&mailbox.0) {
            return Ok(());
        }
        self.unauthenticated.push(mailbox.0);
        let name = &contact.name;
        let detail = if mailbox.0 == contact.my_mailbox {
            format!(
                "envelopes on your mailbox for {name} did not come from {name}: the mailbox \
                 predates send-locked mailboxes, so anyone who learns its id can write to it; \
                 nothing reached your conversation"
            )
        } else {
            format!(
                "envelopes on the invite mailbox your conversation with {name} is leaving did \
                 not come from {name}: someone else has the invite link; nothing reached your \
                 conversation"
            )
        };
        let since = self.now_ms.saturating_sub(UNAUTHENTICATED_NOTICE_EVERY_MS);
        if self
            .db
            .has_event_since(None, EventKind::Unauthenticated, &detail, since)?
        {
            return Ok(());
        }
        self.event(None, EventKind::Unauthenticated, &detail)
    }

    fn status(
        &mut self,
        contact: &Contact,
        counters: &[u64],
        status: MessageStatus,
    ) -> ClientResult<()> {
        if self
            .db
            .raise_outgoing_status(contact.id, counters, status)?
            > 0
        {
            self.report.events.push(ClientEvent::StatusChanged {
                contact: contact.id,
                counters: counters.to_vec(),
                status,
            });
        }
        Ok(())
    }

    /// Our messages this one from the peer shows it lacks (PROTOCOL.md §11):
    /// the relay can withhold the last messages of a conversation, which no
    /// gap reveals, so the sender is told instead — "may not have reached".
    fn unconfirmed(&mut self, contact: &Contact, received: &Received) -> ClientResult<()> {
        let below = match &received.content {
            Content::Delivered(c) | Content::Read(c) => c.iter().max().copied(),
            _ => None,
        };
        let sent_by = received.sent_at_ms.saturating_sub(UNCONFIRMED_AFTER_MS);
        let counters =
            self.db
                .mark_unconfirmed(contact.id, below, received.ack_counter, sent_by)?;
        if !counters.is_empty() {
            self.report.events.push(ClientEvent::StatusChanged {
                contact: contact.id,
                counters,
                status: MessageStatus::Unconfirmed,
            });
        }
        Ok(())
    }

    /// Stores an integrity event and reports it.
    pub(super) fn event(
        &mut self,
        contact: Option<&Contact>,
        kind: EventKind,
        detail: &str,
    ) -> ClientResult<()> {
        let id = self
            .db
            .add_event(contact.map(|c| c.id), kind, detail, self.now_ms)?;
        self.report.events.push(ClientEvent::Integrity {
            event: IntegrityRecord {
                id,
                contact: contact.map(|c| c.id),
                kind,
                detail: detail.to_owned(),
                at_ms: self.now_ms,
            },
        });
        Ok(())
    }

    /// Drops a delivery with a `rejected` event (it is still acked: it can never succeed).
    pub(super) fn reject(&mut self, contact: Option<&Contact>, detail: &str) -> ClientResult<()> {
        self.event(contact, EventKind::Rejected, detail)
    }

    /// Queues delivery receipts and writes every changed session back, once.
    fn finish(mut self) -> ClientResult<ReceiveReport> {
        for (contact, counters) in std::mem::take(&mut self.delivered) {
            self.db.add_pending_receipts(
                contact,
                ReceiptKind::Delivered,
                &counters,
                self.receipts_due,
            )?;
        }
        persist(self.sessions, self.db, &self.touched, self.now_ms)?;
        Ok(self.report)
    }
}

/// What a `Duplicate` or `Forked` refusal of a message with a new id means.
fn fork_detail(contact: &Contact, e: &SessionError) -> String {
    let name = &contact.name;
    match e {
        SessionError::Ratchet(RatchetError::Duplicate { n }) => format!(
            "{name} sent a second, different message from a position of their chain that was \
             already used (number {n}): it came from a restored or cloned copy of their device \
             and cannot be read"
        ),
        SessionError::Ratchet(RatchetError::Forked { n }) => format!(
            "a message from {name} (number {n} of its chain) does not match this \
             conversation's keys: it came from a restored or cloned copy of their device that \
             diverged from this conversation, and cannot be read"
        ),
        other => format!("a message from {name} forked the conversation: {other}"),
    }
}

/// The event row for one integrity event; `all` are the events of the same
/// message (a fork that comes with a restore is told as such).
fn describe(
    contact: &Contact,
    event: &IntegrityEvent,
    all: &[IntegrityEvent],
) -> (EventKind, String) {
    let restored_from = all.iter().find_map(|e| match *e {
        IntegrityEvent::Restored { from, .. } => Some(from),
        _ => None,
    });
    if let (IntegrityEvent::Fork { .. }, Some(from)) = (event, restored_from) {
        return (
            EventKind::Fork,
            format!(
                "history forked at message {from}: the backup {} restored does not have the \
                 messages from {from} on that you received before (they came from another \
                 copy of their device)",
                contact.name
            ),
        );
    }
    match *event {
        IntegrityEvent::Gap { from, to } if from == to => {
            (EventKind::Gap, format!("message {from} is missing"))
        }
        IntegrityEvent::Gap { from, to } => (
            EventKind::Gap,
            format!("messages {from} to {to} are missing"),
        ),
        IntegrityEvent::LateArrival { counter } => (
            EventKind::LateArrival,
            format!("message {counter} arrived late"),
        ),
        IntegrityEvent::Duplicate { counter } => (
            EventKind::Duplicate,
            format!("message {counter} was received twice"),
        ),
        IntegrityEvent::Fork { counter } => (
            EventKind::Fork,
            format!("history forked at message {counter}: the sender's chain does not match"),
        ),
        IntegrityEvent::Restored { .. } => (
            EventKind::Restored,
            format!("{} restored from a backup — session renewed", contact.name),
        ),
    }
}
