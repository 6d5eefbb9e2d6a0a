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

use cairn_protocol::content::{Content, MAX_RECEIPT_COUNTERS};
use cairn_protocol::envelope::{BodyKind, Envelope, HEADER_LEN, MailboxId, MessageId};
use cairn_protocol::identity::Identity;
use cairn_protocol::integrity::IntegrityEvent;

use super::events::ClientEvent;
use super::sessions::{SessionCache, persist, session_mut};
use super::{Client, ClientResult, handshake_in, send};
use crate::store::{
    Contact, ContactId, Db, Direction, EventKind, IntegrityRecord, MessageRecord, MessageStatus,
    NewMessage,
};

/// One envelope as a relay delivered it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The mailbox we subscribed to when it arrived.
    pub mailbox: MailboxId,
    /// The envelope bytes, untouched.
    pub bytes: Vec<u8>,
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
    pub fn receive(&mut self, deliveries: &[Delivery], now_ms: u64) -> ClientResult<ReceiveReport> {
        let Client {
            profile,
            identity,
            sessions,
            ..
        } = self;
        let result = profile.store_mut().write(|db| {
            let mut batch = Batch {
                db,
                identity,
                sessions: &mut *sessions,
                now_ms,
                contacts: HashMap::new(),
                touched: BTreeSet::new(),
                delivered: BTreeMap::new(),
                report: ReceiveReport::default(),
            };
            for d in deliveries {
                batch.process(d)?;
            }
            batch.finish()
        });
        if result.is_err() {
            self.sessions.clear();
        }
        result
    }
}

/// State of one receive transaction.
pub(super) struct Batch<'a, 'b> {
    pub db: &'a Db<'b>,
    pub identity: &'a Identity,
    pub sessions: &'a mut SessionCache,
    pub now_ms: u64,
    /// Contacts by our mailbox id, looked up once per batch.
    contacts: HashMap<[u8; 32], Option<Contact>>,
    /// Contacts whose session changed and must be written back.
    pub touched: BTreeSet<ContactId>,
    /// Counters to confirm with a delivery receipt, per contact.
    delivered: BTreeMap<ContactId, (Contact, Vec<u64>)>,
    pub report: ReceiveReport,
}

impl Batch<'_, '_> {
    fn process(&mut self, d: &Delivery) -> ClientResult<()> {
        let Some(id) = raw_message_id(&d.bytes) else {
            // Too short to name: nothing to ack by; the relay would never store it anyway.
            return self.reject(None, "envelope too short to carry an id");
        };
        self.report.acks.push((d.mailbox, id));
        if !self.db.mark_seen(&id.0, self.now_ms)? {
            return Ok(()); // Redelivery of something already handled: ack only.
        }
        let env = match Envelope::parse(&d.bytes) {
            Ok(env) => env,
            Err(e) => return self.reject(None, &format!("malformed envelope: {e}")),
        };
        if env.mailbox != d.mailbox {
            return self.reject(
                None,
                "envelope addressed to another mailbox than it came from",
            );
        }
        match env.kind {
            BodyKind::Handshake => handshake_in::complete(self, &env),
            BodyKind::Ratchet => self.ratchet(&env),
        }
    }

    fn contact_for(&mut self, mailbox: &MailboxId) -> ClientResult<Option<Contact>> {
        if let Some(c) = self.contacts.get(&mailbox.0) {
            return Ok(c.clone());
        }
        let c = self.db.contact_by_my_mailbox(&mailbox.0)?;
        self.contacts.insert(mailbox.0, c.clone());
        Ok(c)
    }

    /// Forgets cached contact rows (after a contact was added or changed).
    pub(super) fn invalidate_contacts(&mut self) {
        self.contacts.clear();
    }

    fn ratchet(&mut self, env: &Envelope<'_>) -> ClientResult<()> {
        let Some(contact) = self.contact_for(&env.mailbox)? else {
            return self.reject(None, "message on a mailbox no conversation uses");
        };
        let session = session_mut(self.sessions, self.db, &contact)?;
        let received = match session.decrypt(env) {
            Ok(r) => r,
            Err(e) if e.is_duplicate() => return Ok(()),
            Err(e) => return self.reject(Some(&contact), &format!("message rejected: {e}")),
        };
        self.touched.insert(contact.id);
        for event in &received.events {
            let (kind, detail) = describe(event);
            self.event(Some(&contact), kind, &detail)?;
        }
        let held = received.from_pending_key;
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
                            contact: contact.name.clone(),
                        });
                    } else {
                        self.report.new_messages += 1;
                        self.report.events.push(ClientEvent::Message {
                            contact: contact.name.clone(),
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
                            .or_insert_with(|| (contact.clone(), Vec::new()))
                            .1
                            .push(received.counter);
                    }
                }
            }
            Content::Delivered(counters) if !held => {
                self.status(&contact, &counters, MessageStatus::Delivered)?;
            }
            Content::Read(counters) if !held => {
                self.status(&contact, &counters, MessageStatus::Read)?;
            }
            Content::KeyUpdate(update) => {
                self.db
                    .set_pending_identity(contact.id, &update.new_identity.to_bytes())?;
                self.invalidate_contacts();
                self.event(
                    Some(&contact),
                    EventKind::KeyChange,
                    "identity key changed: messages signed by the new key are held until you \
                     compare the new safety number and accept the change",
                )?;
            }
            // Receipts under an unaccepted key, and kinds from newer versions: ignored.
            Content::Delivered(_) | Content::Read(_) | Content::Unknown { .. } => {}
        }
        Ok(())
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
                contact: contact.name.clone(),
                counters: counters.to_vec(),
                status,
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
            contact: contact.map(|c| c.name.clone()),
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
        let delivered = std::mem::take(&mut self.delivered);
        for (id, (contact, counters)) in delivered {
            for chunk in counters.chunks(MAX_RECEIPT_COUNTERS) {
                let session = session_mut(self.sessions, self.db, &contact)?;
                send::seal_and_queue(
                    self.db,
                    self.identity,
                    session,
                    &contact,
                    &Content::Delivered(chunk.to_vec()),
                    self.now_ms,
                    None,
                )?;
            }
            self.touched.insert(id);
        }
        persist(self.sessions, self.db, &self.touched, self.now_ms)?;
        Ok(self.report)
    }
}

/// The message id at its fixed offset, readable even when the rest is garbage.
fn raw_message_id(bytes: &[u8]) -> Option<MessageId> {
    let id: [u8; 16] = bytes.get(33..HEADER_LEN - 1)?.try_into().ok()?;
    Some(MessageId(id))
}

fn describe(event: &IntegrityEvent) -> (EventKind, String) {
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
    }
}
