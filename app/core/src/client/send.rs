//! Sending: seal once, store in the outbox with the session change, retry until acked.

use cairn_protocol::content::{Content, MAX_RECEIPT_COUNTERS, MAX_TEXT_LEN};
use cairn_protocol::identity::Identity;
use cairn_protocol::session::{Outgoing, Session};

use super::events::ClientEvent;
use super::sessions::session_mut;
use super::{Client, ClientError, ClientResult};
use crate::store::{
    Contact, Db, Direction, MessageRecord, MessageStatus, NewMessage, NewOutboxItem, OutboxItem,
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

impl Client {
    /// Seals a text message to `name` and stores it in the outbox (status `pending`).
    pub fn send_text(
        &mut self,
        name: &str,
        text: &str,
        now_ms: u64,
    ) -> ClientResult<MessageRecord> {
        let mut sent = self.send_texts(name, &[text], now_ms)?;
        sent.pop()
            .ok_or(ClientError::Store(crate::store::StoreError::Malformed(
                "empty send",
            )))
    }

    /// Seals several texts to `name` in order, all in one transaction (one fsync).
    pub fn send_texts(
        &mut self,
        name: &str,
        texts: &[&str],
        now_ms: u64,
    ) -> ClientResult<Vec<MessageRecord>> {
        if let Some(bad) = texts
            .iter()
            .find(|t| t.is_empty() || t.len() > MAX_TEXT_LEN)
        {
            return Err(ClientError::BadText {
                len: bad.len(),
                max: MAX_TEXT_LEN,
            });
        }
        let contact = self.contact(name)?;
        if contact.pending_identity.is_some() {
            return Err(ClientError::KeyChangePending(contact.name));
        }
        self.write_with_sessions(|db, identity, sessions| {
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

    /// Marks `name`'s visible incoming messages read and queues read receipts.
    /// Returns how many messages were newly read.
    pub fn mark_read(&mut self, name: &str, now_ms: u64) -> ClientResult<usize> {
        let contact = self.contact(name)?;
        let unread = self.store().read().unread_incoming(contact.id)?;
        if unread.is_empty() {
            return Ok(0);
        }
        self.write_with_sessions(|db, identity, sessions| {
            let session = session_mut(sessions, db, &contact)?;
            for chunk in unread.chunks(MAX_RECEIPT_COUNTERS) {
                let read = Content::Read(chunk.to_vec());
                seal_and_queue(db, identity, session, &contact, &read, now_ms)?;
            }
            db.mark_incoming_read(contact.id, &unread)?;
            db.put_session(contact.id, &session.to_bytes(), now_ms)?;
            Ok(unread.len())
        })
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
                    let contact = db.contact(before.contact)?;
                    events.push(ClientEvent::StatusChanged {
                        contact: contact.name,
                        counters: vec![before.counter],
                        status: MessageStatus::Sent,
                    });
                }
            }
            Ok(events)
        })
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
