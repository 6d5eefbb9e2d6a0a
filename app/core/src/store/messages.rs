//! Message history, delivery status, dedupe and full-text search.

use rusqlite::{OptionalExtension, Row};

use super::{ContactId, Db, StoreError, StoreResult};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the contact to us.
    Incoming,
    /// From us to the contact.
    Outgoing,
}

impl Direction {
    fn to_sql(self) -> i64 {
        match self {
            Self::Incoming => 0,
            Self::Outgoing => 1,
        }
    }

    fn from_sql(v: i64) -> StoreResult<Self> {
        match v {
            0 => Ok(Self::Incoming),
            1 => Ok(Self::Outgoing),
            _ => Err(StoreError::Malformed("message direction")),
        }
    }
}

/// Delivery state. Outgoing: pending → sent → delivered → read; incoming: received → read.
/// Status only ever moves forward, so late or duplicate receipts are harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageStatus {
    /// Sealed and in the outbox; the relay has not acknowledged it.
    Pending,
    /// The relay acknowledged it.
    Sent,
    /// The peer's later messages show it did not have this one when it
    /// should have (PROTOCOL.md §11): the relay may be withholding it. A
    /// receipt still raises it to delivered.
    Unconfirmed,
    /// Incoming, stored, not yet shown to the user.
    Received,
    /// The recipient's device stored it (delivery receipt).
    Delivered,
    /// Read by the recipient (outgoing) or shown to us (incoming).
    Read,
}

impl MessageStatus {
    /// Stable text stored in the database and printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Unconfirmed => "unconfirmed",
            Self::Received => "received",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "unconfirmed" => Self::Unconfirmed,
            "received" => Self::Received,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            _ => return Err(StoreError::Malformed("message status")),
        })
    }
}

/// SQL rank of a status, matching the `Ord` of [`MessageStatus`].
const RANK: &str = "CASE status WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'unconfirmed' THEN 2 \
                    WHEN 'received' THEN 3 WHEN 'delivered' THEN 4 WHEN 'read' THEN 5 ELSE 6 END";

fn rank(s: MessageStatus) -> i64 {
    match s {
        MessageStatus::Pending => 0,
        MessageStatus::Sent => 1,
        MessageStatus::Unconfirmed => 2,
        MessageStatus::Received => 3,
        MessageStatus::Delivered => 4,
        MessageStatus::Read => 5,
    }
}

/// A message to insert.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// Conversation.
    pub contact: ContactId,
    /// Who wrote it.
    pub direction: Direction,
    /// Sender's per-conversation counter (receipts name messages by it).
    pub counter: u64,
    /// Text.
    pub body: &'a str,
    /// Sender's clock, milliseconds.
    pub sent_ms: u64,
    /// Our clock at storage, for incoming messages.
    pub received_ms: Option<u64>,
    /// Initial status.
    pub status: MessageStatus,
    /// Hidden until the user accepts the sender's new identity key.
    pub held: bool,
    /// Relay envelope id (dedupe key).
    pub envelope_id: Option<[u8; 16]>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Row id.
    pub id: i64,
    /// Conversation.
    pub contact: ContactId,
    /// Who wrote it.
    pub direction: Direction,
    /// Sender's counter.
    pub counter: u64,
    /// Text.
    pub body: String,
    /// Sender's clock, milliseconds.
    pub sent_ms: u64,
    /// When we stored it (incoming).
    pub received_ms: Option<u64>,
    /// Delivery state.
    pub status: MessageStatus,
    /// Relay envelope id.
    pub envelope_id: Option<[u8; 16]>,
}

/// How far a message's claimed send time (the sender's clock) may lie from
/// its arrival (our clock) before the record says so: 5 minutes. Beyond
/// that the UIs show the claimed time next to the arrival time, marked; the
/// order never depends on it (PROTOCOL.md §10.1).
pub const MAX_CLOCK_DIFFERENCE_MS: u64 = 5 * 60 * 1000;

impl MessageRecord {
    /// When the message entered this conversation by our clock: arrival for
    /// incoming messages, sending for ours. The timeline is ordered by this
    /// (then by row id), never by the sender's claim.
    pub fn arrived_ms(&self) -> u64 {
        self.received_ms.unwrap_or(self.sent_ms)
    }

    /// True for an incoming message whose claimed send time differs from its
    /// arrival by more than [`MAX_CLOCK_DIFFERENCE_MS`], either way: the
    /// sender's clock is off, it was delayed, or the time is made up. The
    /// UIs then show the claimed time as well, marked.
    pub fn clock_differs(&self) -> bool {
        self.received_ms
            .is_some_and(|arrived| arrived.abs_diff(self.sent_ms) > MAX_CLOCK_DIFFERENCE_MS)
    }
}

const COLUMNS: &str = "m.id, m.contact_id, m.direction, m.counter, m.body, m.sent_ms, m.received_ms, m.status, m.envelope_id";

/// Unread counters of one contact, in order; answered from the
/// `messages_unread` partial index (migration V4), whose filter these
/// literals must match.
pub(super) const UNREAD_COUNTERS_SQL: &str = "SELECT counter FROM messages
     WHERE contact_id = ?1 AND direction = 0 AND held = 0 AND status = 'received'
     ORDER BY counter";

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawMessage> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

type RawMessage = (
    i64,
    i64,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    String,
    Option<Vec<u8>>,
);

fn decode(raw: RawMessage) -> StoreResult<MessageRecord> {
    let (id, contact, direction, counter, body, sent_ms, received_ms, status, envelope_id) = raw;
    Ok(MessageRecord {
        id,
        contact: ContactId(contact),
        direction: Direction::from_sql(direction)?,
        counter: counter as u64,
        body,
        sent_ms: sent_ms as u64,
        received_ms: received_ms.map(|v| v as u64),
        status: MessageStatus::parse(&status)?,
        envelope_id: envelope_id
            .map(|v| super::blob(v, "envelope id"))
            .transpose()?,
    })
}

impl Db<'_> {
    /// Inserts a message; `None` if an identical one (same envelope id, or same
    /// contact/direction/counter) is already stored — the exactly-once guard.
    pub fn insert_message(&self, m: &NewMessage<'_>) -> StoreResult<Option<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO messages (contact_id, direction, counter, body, sent_ms, received_ms, status, held, envelope_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
        )?;
        let changed = stmt.execute(rusqlite::params![
            m.contact.0,
            m.direction.to_sql(),
            m.counter as i64,
            m.body,
            m.sent_ms as i64,
            m.received_ms.map(|v| v as i64),
            m.status.as_str(),
            m.held,
            m.envelope_id.as_ref().map(|v| &v[..]),
        ])?;
        let row = (changed == 1).then(|| self.conn.last_insert_rowid());
        if let Some(id) = row {
            // Inside a transaction the row is indexed just before commit (see
            // `super::fts`); outside one, index it now.
            super::fts::queue(self.conn, id)?;
            if self.conn.is_autocommit() {
                super::fts::flush(self.conn)?;
            }
        }
        Ok(row)
    }

    /// One message by row id.
    pub fn message(&self, id: i64) -> StoreResult<MessageRecord> {
        let sql = format!("SELECT {COLUMNS} FROM messages m WHERE m.id = ?1");
        let raw = self
            .conn
            .query_row(&sql, [id], from_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "message",
                key: id.to_string(),
            })?;
        decode(raw)
    }

    /// Records that an envelope was processed; false if it already was.
    pub fn mark_seen(&self, envelope_id: &[u8; 16], now_ms: u64) -> StoreResult<bool> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO seen_envelopes (envelope_id, seen_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        let changed = stmt.execute(rusqlite::params![&envelope_id[..], now_ms as i64])?;
        Ok(changed == 1)
    }

    /// Forgets envelope ids processed before `before_ms` (see
    /// [`crate::client::SEEN_ENVELOPE_RETENTION_MS`]); returns how many.
    pub fn prune_seen(&self, before_ms: u64) -> StoreResult<usize> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM seen_envelopes WHERE seen_ms < ?1")?;
        Ok(stmt.execute([before_ms.min(i64::MAX as u64) as i64])?)
    }

    /// True if the envelope was already processed (so it only needs an ack).
    pub fn is_seen(&self, envelope_id: &[u8; 16]) -> StoreResult<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM seen_envelopes WHERE envelope_id = ?1",
                [&envelope_id[..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Visible history of one conversation in arrival order, oldest first
    /// (held messages excluded).
    pub fn history(&self, contact: ContactId) -> StoreResult<Vec<MessageRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages m WHERE m.contact_id = ?1 AND m.held = 0
             ORDER BY m.arrived_ms, m.id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([contact.0], from_row)?;
        rows.map(|r| decode(r?)).collect()
    }

    /// Raises the status of our outgoing messages named by counter; never lowers it.
    /// Returns how many rows changed.
    pub fn raise_outgoing_status(
        &self,
        contact: ContactId,
        counters: &[u64],
        status: MessageStatus,
    ) -> StoreResult<usize> {
        let sql = format!(
            "UPDATE messages SET status = ?3
             WHERE contact_id = ?1 AND direction = 1 AND counter = ?2 AND ({RANK}) < ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut changed = 0;
        for c in counters {
            changed += stmt.execute(rusqlite::params![
                contact.0,
                *c as i64,
                status.as_str(),
                rank(status)
            ])?;
        }
        Ok(changed)
    }

    /// Marks [`MessageStatus::Unconfirmed`] our messages to `contact` still
    /// at `sent` that the peer shows it lacks: those below `below` (it
    /// confirmed a later one), and those after `acked` (its highest received
    /// counter, `None`: none) that we sent at or before `sent_by_ms`.
    /// Returns their counters.
    pub fn mark_unconfirmed(
        &self,
        contact: ContactId,
        below: Option<u64>,
        acked: Option<u64>,
        sent_by_ms: u64,
    ) -> StoreResult<Vec<u64>> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE messages SET status = 'unconfirmed'
             WHERE contact_id = ?1 AND direction = 1 AND status = 'sent'
               AND (counter < ?2 OR (counter > ?3 AND sent_ms <= ?4))
             RETURNING counter",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![
                contact.0,
                below.map_or(0, |c| c as i64),
                acked.map_or(-1, |c| c as i64),
                sent_by_ms as i64
            ],
            |r| r.get::<_, i64>(0),
        )?;
        let mut counters = rows
            .map(|r| r.map(|c| c as u64))
            .collect::<Result<Vec<_>, _>>()?;
        counters.sort_unstable();
        Ok(counters)
    }

    /// Raises one message's status by row id; never lowers it.
    pub fn raise_status(&self, id: i64, status: MessageStatus) -> StoreResult<()> {
        let sql = format!("UPDATE messages SET status = ?2 WHERE id = ?1 AND ({RANK}) < ?3");
        self.conn
            .execute(&sql, rusqlite::params![id, status.as_str(), rank(status)])?;
        Ok(())
    }

    /// Counters of incoming, visible messages not yet marked read (to send read receipts).
    pub fn unread_incoming(&self, contact: ContactId) -> StoreResult<Vec<u64>> {
        let mut stmt = self.conn.prepare_cached(UNREAD_COUNTERS_SQL)?;
        let rows = stmt.query_map([contact.0], |r| r.get::<_, i64>(0))?;
        rows.map(|r| Ok(r? as u64)).collect()
    }

    /// Marks incoming messages read.
    pub fn mark_incoming_read(&self, contact: ContactId, counters: &[u64]) -> StoreResult<()> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE messages SET status = 'read'
             WHERE contact_id = ?1 AND direction = 0 AND counter = ?2",
        )?;
        for c in counters {
            stmt.execute(rusqlite::params![contact.0, *c as i64])?;
        }
        Ok(())
    }

    /// Makes messages held under a pending identity visible; returns how many.
    pub fn release_held(&self, contact: ContactId) -> StoreResult<usize> {
        Ok(self.conn.execute(
            "UPDATE messages SET held = 0 WHERE contact_id = ?1 AND held = 1",
            [contact.0],
        )?)
    }

    /// Full-text search over visible messages, newest (by arrival) first.
    ///
    /// Every whitespace-separated word of `query` must appear (prefix match on
    /// the last one is not applied: words match whole tokens). Quotes in the
    /// query are taken literally, so user input can never be an FTS5 syntax error.
    pub fn search(&self, query: &str, limit: usize) -> StoreResult<Vec<MessageRecord>> {
        let fts = fts_query(query);
        if fts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid
             WHERE messages_fts MATCH ?1 AND m.held = 0
             ORDER BY m.arrived_ms DESC, m.id DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params![fts, limit as i64], from_row)?;
        rows.map(|r| decode(r?)).collect()
    }
}

/// Turns free text into an FTS5 query: each word a quoted prefix ("lou"
/// finds "loud", as a search box typed into should), all required.
fn fts_query(query: &str) -> String {
    query
        .split_whitespace()
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contacts::tests::add;
    use crate::store::test_support::temp_store;

    fn msg(
        contact: ContactId,
        dir: Direction,
        counter: u64,
        body: &str,
        env: u8,
    ) -> NewMessage<'_> {
        NewMessage {
            contact,
            direction: dir,
            counter,
            body,
            sent_ms: counter * 10,
            received_ms: None,
            status: if dir == Direction::Outgoing {
                MessageStatus::Pending
            } else {
                MessageStatus::Received
            },
            held: false,
            envelope_id: Some([env; 16]),
        }
    }

    #[test]
    fn insert_is_exactly_once() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let db = store.read();
        assert!(
            db.insert_message(&msg(a, Direction::Incoming, 0, "hi", 1))
                .unwrap()
                .is_some()
        );
        // same envelope id
        assert!(
            db.insert_message(&msg(a, Direction::Incoming, 5, "hi", 1))
                .unwrap()
                .is_none()
        );
        // same counter
        assert!(
            db.insert_message(&msg(a, Direction::Incoming, 0, "hi", 2))
                .unwrap()
                .is_none()
        );
        // other direction, same counter: fine
        assert!(
            db.insert_message(&msg(a, Direction::Outgoing, 0, "yo", 3))
                .unwrap()
                .is_some()
        );
        assert_eq!(db.history(a).unwrap().len(), 2);
        assert!(db.mark_seen(&[1; 16], 1).unwrap());
        assert!(!db.mark_seen(&[1; 16], 2).unwrap());
        assert!(db.is_seen(&[1; 16]).unwrap());
        assert!(!db.is_seen(&[2; 16]).unwrap());
    }

    #[test]
    fn seen_ids_are_pruned_by_age() {
        let (_dir, store) = temp_store();
        let db = store.read();
        assert!(db.mark_seen(&[1; 16], 1_000).unwrap());
        assert!(db.mark_seen(&[2; 16], 2_000).unwrap());
        assert_eq!(db.prune_seen(1_000).unwrap(), 0);
        assert_eq!(db.prune_seen(1_001).unwrap(), 1);
        assert!(!db.is_seen(&[1; 16]).unwrap());
        assert!(db.is_seen(&[2; 16]).unwrap());
    }

    #[test]
    fn status_only_moves_forward() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let db = store.read();
        db.insert_message(&msg(a, Direction::Outgoing, 1, "x", 1))
            .unwrap();
        assert_eq!(
            db.raise_outgoing_status(a, &[1], MessageStatus::Read)
                .unwrap(),
            1
        );
        assert_eq!(
            db.raise_outgoing_status(a, &[1], MessageStatus::Delivered)
                .unwrap(),
            0
        );
        assert_eq!(db.history(a).unwrap()[0].status, MessageStatus::Read);
    }

    #[test]
    fn held_messages_hidden_until_released() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let db = store.read();
        let mut m = msg(a, Direction::Incoming, 1, "secret plan", 1);
        m.held = true;
        db.insert_message(&m).unwrap();
        assert!(db.history(a).unwrap().is_empty());
        assert!(db.search("plan", 10).unwrap().is_empty());
        assert_eq!(db.release_held(a).unwrap(), 1);
        assert_eq!(db.history(a).unwrap().len(), 1);
        assert_eq!(db.unread_incoming(a).unwrap(), vec![1]);
        db.mark_incoming_read(a, &[1]).unwrap();
        assert!(db.unread_incoming(a).unwrap().is_empty());
    }

    #[test]
    fn search_finds_words_and_tolerates_syntax() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let db = store.read();
        db.insert_message(&msg(a, Direction::Incoming, 1, "Meet at the harbour", 1))
            .unwrap();
        db.insert_message(&msg(a, Direction::Outgoing, 2, "the café is closed", 2))
            .unwrap();
        assert_eq!(db.search("harbour", 10).unwrap().len(), 1);
        // What has been typed so far finds the word it begins.
        assert_eq!(db.search("harb", 10).unwrap().len(), 1);
        assert_eq!(db.search("caf clo", 10).unwrap().len(), 1);
        assert!(db.search("arbour", 10).unwrap().is_empty());
        assert_eq!(db.search("THE", 10).unwrap().len(), 2);
        assert_eq!(db.search("café closed", 10).unwrap()[0].counter, 2);
        assert!(db.search("\"unbalanced AND (", 10).unwrap().is_empty());
        assert!(db.search("   ", 10).unwrap().is_empty());
    }
}
