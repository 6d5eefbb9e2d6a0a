//! Sending: seal once, store in the outbox with the session change, retry until acked.
//!
//! Receipts are the exception to "seal now": they wait in `pending_receipts`
//! until a random moment in the receipt window, and are sealed then (or with
//! the next message to the same contact), so the relay cannot match the
//! connection that received with the one that confirms, and the peer still
//! gets everything in ratchet order.

use cairn_protocol::content::{Content, MAX_RECEIPT_COUNTERS, MAX_TEXT_LEN};
use cairn_protocol::identity::Identity;
use cairn_protocol::session::{Outgoing, Session};

use super::events::ClientEvent;
use super::sessions::session_mut;
use super::{Client, ClientError, ClientResult};
use crate::store::{
    Contact, ContactId, Db, Direction, MessageRecord, MessageStatus, NewMessage, NewOutboxItem,
    OutboxItem, PendingReceipts, ReceiptKind,
};

/// Puts an envelope sealed for `contact` into the outbox. Call it in the
/// transaction that also writes the session change (and the message row,
/// `message_row`), so a crash never loses or re-encrypts it.
pub(super) fn queue_sealed(
    db: &Db<'_>,
    contact: &Contact,
    out: &Outgoing,
    message_row: Option<i64>,
    now_ms: u64,
) -> ClientResult<()> {
    db.enqueue(
        &NewOutboxItem {
            envelope_id: out.id.0,
            relay: &contact.relay,
            mailbox: contact.their_mailbox,
            envelope: &out.envelope,
            message_id: message_row,
        },
        now_ms,
    )?;
    Ok(())
}

/// Encrypts `content` for `contact` and queues the envelope (no message row:
/// receipts and other control content).
///
/// The caller persists the session in the same transaction.
pub(super) fn seal_and_queue(
    db: &Db<'_>,
    identity: &Identity,
    session: &mut Session,
    contact: &Contact,
    content: &Content,
    now_ms: u64,
) -> ClientResult<Outgoing> {
    let out = session.encrypt(identity, content, now_ms, &mut rand::rng())?;
    queue_sealed(db, contact, &out, None, now_ms)?;
    Ok(out)
}

/// Seals receipts taken from `pending_receipts` (chunked to the protocol's
/// limit) into the outbox, in the open transaction; returns the contacts whose
/// session advanced. A receipt for a contact that is gone or whose key change
/// is pending is dropped: it cannot be sent and would never become due again.
fn seal_receipts(
    db: &Db<'_>,
    identity: &Identity,
    sessions: &mut super::sessions::SessionCache,
    pending: Vec<PendingReceipts>,
    now_ms: u64,
) -> ClientResult<Vec<ContactId>> {
    let mut touched = Vec::new();
    for p in pending {
        let Ok(contact) = db.contact(p.contact) else {
            continue;
        };
        if contact.pending_identity.is_some() {
            continue;
        }
        let session = session_mut(sessions, db, &contact)?;
        for chunk in p.counters.chunks(MAX_RECEIPT_COUNTERS) {
            let content = match p.kind {
                ReceiptKind::Delivered => Content::Delivered(chunk.to_vec()),
                ReceiptKind::Read => Content::Read(chunk.to_vec()),
            };
            seal_and_queue(db, identity, session, &contact, &content, now_ms)?;
        }
        if !touched.contains(&contact.id) {
            touched.push(contact.id);
        }
    }
    Ok(touched)
}

impl Client {
    /// Seals a text message to `contact` and stores it in the outbox (status `pending`).
    pub fn send_text(
        &mut self,
        contact: ContactId,
        text: &str,
        now_ms: u64,
    ) -> ClientResult<MessageRecord> {
        let [one] = <[MessageRecord; 1]>::try_from(self.send_texts(contact, &[text], now_ms)?)
            .map_err(|_| crate::store::StoreError::Malformed("one message sealed as several"))?;
        Ok(one)
    }

    /// Seals several texts to `contact` in order, all in one transaction (one
    /// fsync). Receipts still waiting for that contact are sealed first: they
    /// leave together, in ratchet order.
    pub fn send_texts(
        &mut self,
        contact: ContactId,
        texts: &[&str],
        now_ms: u64,
    ) -> ClientResult<Vec<MessageRecord>> {
        if texts.is_empty() {
            return Err(ClientError::BadText {
                len: 0,
                max: MAX_TEXT_LEN,
            });
        }
        if let Some(bad) = texts
            .iter()
            .find(|t| t.is_empty() || t.len() > MAX_TEXT_LEN)
        {
            return Err(ClientError::BadText {
                len: bad.len(),
                max: MAX_TEXT_LEN,
            });
        }
        let contact = self.contact(contact)?;
        if contact.pending_identity.is_some() {
            return Err(ClientError::KeyChangePending(contact.name));
        }
        self.write_with_sessions(|db, identity, sessions| {
            let receipts = db.take_due_receipts(now_ms, Some(contact.id))?;
            seal_receipts(db, identity, sessions, receipts, now_ms)?;
            let session = session_mut(sessions, db, &contact)?;
            let mut records = Vec::with_capacity(texts.len());
            for text in texts {
                let content = Content::Text((*text).to_owned());
                let out = session.encrypt(identity, &content, now_ms, &mut rand::rng())?;
                let row = db
                    .insert_message(&NewMessage {
                        contact: contact.id,
                        direction: Direction::Outgoing,
                        counter: out.counter,
                        body: text,
                        sent_ms: now_ms,
                        received_ms: None,
                        status: MessageStatus::Pending,
                        held: false,
                        envelope_id: Some(out.id.0),
                    })?
                    .ok_or(crate::store::StoreError::Malformed(
                        "duplicate outgoing counter",
                    ))?;
                queue_sealed(db, &contact, &out, Some(row), now_ms)?;
                records.push(db.message(row)?);
            }
            db.put_session(contact.id, &session.to_bytes(), now_ms)?;
            Ok(records)
        })
    }

    /// Marks `contact`'s visible incoming messages read and queues read
    /// receipts for a moment in the receipt window. Returns how many messages
    /// were newly read.
    pub fn mark_read(&mut self, contact: ContactId, now_ms: u64) -> ClientResult<usize> {
        let unread = self.store().read().unread_incoming(contact)?;
        if unread.is_empty() {
            return Ok(0);
        }
        let due = self.receipt_due(now_ms);
        self.store_mut().write(|db| {
            db.mark_incoming_read(contact, &unread)?;
            db.add_pending_receipts(contact, ReceiptKind::Read, &unread, due)?;
            Ok(unread.len())
        })
    }

    /// Seals what waited for its moment into the outbox: receipts that are
    /// due, and confirmations of contacts' mailbox moves once nothing for
    /// their old mailbox is still queued (§10.4). Returns how many contacts
    /// got something.
    pub fn seal_due_receipts(&mut self, now_ms: u64) -> ClientResult<usize> {
        let (receipts, moves) = {
            let db = self.store().read();
            (
                db.next_receipt_due()?.is_some_and(|due| due <= now_ms),
                db.has_moves_in()?,
            )
        };
        if !receipts && !moves {
            return Ok(0);
        }
        self.write_with_sessions(|db, identity, sessions| {
            let receipts = db.take_due_receipts(now_ms, None)?;
            let mut touched = seal_receipts(db, identity, sessions, receipts, now_ms)?;
            for id in db.take_confirmable_moves_in()? {
                let Ok(contact) = db.contact(id) else {
                    continue;
                };
                let session = session_mut(sessions, db, &contact)?;
                let moved = Content::MailboxMoved {
                    mailbox: cairn_protocol::envelope::MailboxId(contact.their_mailbox),
                };
                seal_and_queue(db, identity, session, &contact, &moved, now_ms)?;
                if !touched.contains(&id) {
                    touched.push(id);
                }
            }
            for id in &touched {
                if let Some(session) = sessions.get(id) {
                    db.put_session(*id, &session.to_bytes(), now_ms)?;
                }
            }
            Ok(touched.len())
        })
    }

    /// When something queued next needs attention after `now_ms`: an outbox
    /// retry or a receipt coming due. Everything due by `now_ms` is taken to be
    /// in hand already.
    pub fn next_wake(&self, now_ms: u64) -> ClientResult<Option<u64>> {
        let db = self.store().read();
        let retry = db.outbox_next_due_after(now_ms)?;
        let receipt = db.next_receipt_due()?;
        Ok(match (retry, receipt) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Earliest due time of a receipt waiting for its moment.
    pub fn next_receipt_due(&self) -> ClientResult<Option<u64>> {
        Ok(self.store().read().next_receipt_due()?)
    }

    /// Sets the window in which receipts go out after the message they confirm
    /// was stored or read (default 1–5 s; zero sends them with the next flush).
    pub fn set_receipt_delay(&mut self, min: std::time::Duration, max: std::time::Duration) {
        let min = u64::try_from(min.as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(min);
        self.receipt_delay = (min, max);
    }

    /// A random due time in the receipt window after `now_ms`.
    pub(super) fn receipt_due(&self, now_ms: u64) -> u64 {
        use rand::RngExt;
        let (min, max) = self.receipt_delay;
        now_ms.saturating_add(rand::rng().random_range(min..=max))
    }

    /// Envelopes due for (re)sending, oldest first.
    pub fn outbox_due(&self, now_ms: u64, limit: usize) -> ClientResult<Vec<OutboxItem>> {
        Ok(self.store().read().outbox_due(now_ms, limit)?)
    }

    /// Number of envelopes waiting for a relay ack.
    pub fn outbox_len(&self) -> ClientResult<usize> {
        Ok(self.store().read().outbox_len()?)
    }

    /// When the next retry is due, if anything is queued.
    pub fn outbox_next_due(&self) -> ClientResult<Option<u64>> {
        Ok(self.store().read().outbox_next_due()?)
    }

    /// The relay acknowledged `items`: drop them from the outbox, mark their messages sent.
    pub fn outbox_sent(&mut self, items: &[OutboxItem]) -> ClientResult<Vec<ClientEvent>> {
        self.store_mut().write(|db| {
            let mut events = Vec::new();
            for item in items {
                let Some(row) = db.outbox_acked(item.id)? else {
                    continue;
                };
                let before = db.message(row)?;
                db.raise_status(row, MessageStatus::Sent)?;
                if before.status < MessageStatus::Sent {
                    events.push(ClientEvent::StatusChanged {
                        contact: before.contact,
                        counters: vec![before.counter],
                        status: MessageStatus::Sent,
                    });
                }
            }
            Ok(events)
        })
    }

    /// `relay` is reachable again: everything queued for it is due now.
    pub fn outbox_retry_now(&mut self, relay: &str, now_ms: u64) -> ClientResult<usize> {
        Ok(self
            .store_mut()
            .write(|db| db.outbox_retry_now(relay, now_ms))?)
    }

    /// Sending `item` failed: schedule a retry with backoff.
    pub fn outbox_failed(
        &mut self,
        item: &OutboxItem,
        error: &str,
        now_ms: u64,
    ) -> ClientResult<()> {
        Ok(self
            .store_mut()
            .write(|db| db.outbox_failed(item.id, error, now_ms))?)
    }
}
