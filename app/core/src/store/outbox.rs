//! The durable outbox: sealed envelopes kept until their relay acknowledges them.
//!
//! An envelope is sealed once (advancing the ratchet) and the exact bytes are
//! retried, so the relay can dedupe by message id and a crash between "sent"
//! and "acked" at worst resends an envelope the recipient will drop as seen.

use cairn_protocol::frames::SendKey;

use super::send_keys::send_key_from;
use super::{Db, StoreResult, blob};

/// First retry delay after a failure.
pub(super) const BACKOFF_BASE_MS: u64 = 1_000;
/// Longest delay between retries.
pub(super) const BACKOFF_MAX_MS: u64 = 5 * 60 * 1_000;

/// An envelope to queue.
#[derive(Debug, Clone)]
pub struct NewOutboxItem<'a> {
    /// Message id inside the envelope (relay ack handle).
    pub envelope_id: [u8; 16],
    /// Destination relay address text.
    pub relay: &'a str,
    /// Destination mailbox.
    pub mailbox: [u8; 32],
    /// Sealed envelope bytes (ciphertext only).
    pub envelope: &'a [u8],
    /// The message row this envelope carries, if it is a user message (not a receipt).
    pub message_id: Option<i64>,
}

/// A queued envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// Message id inside the envelope.
    pub envelope_id: [u8; 16],
    /// Destination relay.
    pub relay: String,
    /// Destination mailbox.
    pub mailbox: [u8; 32],
    /// Sealed bytes (shared, so handing them to a connection copies nothing).
    pub envelope: bytes::Bytes,
    /// Message row, if any.
    pub message_id: Option<i64>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The key the destination mailbox wants (PROTOCOL.md §18.3), if it is
    /// send-locked: looked up by mailbox when the item is read, so it is the
    /// key of the mailbox this envelope was sealed for.
    pub send_key: Option<SendKey>,
}

/// Delay before the next try after `attempts` failures: 1 s, 2 s, 4 s … capped at 5 min.
pub(super) fn backoff_ms(attempts: u32) -> u64 {
    BACKOFF_BASE_MS
        .saturating_mul(1u64 << attempts.min(20))
        .min(BACKOFF_MAX_MS)
}

impl Db<'_> {
    /// Queues an envelope, due immediately.
    pub fn enqueue(&self, item: &NewOutboxItem<'_>, now_ms: u64) -> StoreResult<i64> {
        self.conn.execute(
            "INSERT INTO outbox (envelope_id, relay, mailbox, envelope, message_id, next_try_ms, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            rusqlite::params![
                &item.envelope_id[..],
                item.relay,
                &item.mailbox[..],
                item.envelope,
                item.message_id,
                now_ms as i64
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Items whose next try is due, oldest first, and not behind an earlier
    /// item to the same mailbox that still waits for its retry: a message
    /// written after a failed one must not overtake it, or the recipient sees
    /// a gap and a late arrival for what was only an outage.
    /// `now_ms = u64::MAX` returns everything.
    pub fn outbox_due(&self, now_ms: u64, limit: usize) -> StoreResult<Vec<OutboxItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.id, o.envelope_id, o.relay, o.mailbox, o.envelope, o.message_id, o.attempts,
                    k.send_key
             FROM outbox o LEFT JOIN send_keys k ON k.mailbox = o.mailbox
             WHERE o.next_try_ms <= ?1
               AND NOT EXISTS (SELECT 1 FROM outbox w
                               WHERE w.relay = o.relay AND w.mailbox = o.mailbox
                                 AND w.next_try_ms > ?1 AND w.id < o.id)
             ORDER BY o.id LIMIT ?2",
        )?;
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![now, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, u32>(6)?,
                r.get::<_, Option<Vec<u8>>>(7)?,
            ))
        })?;
        rows.map(|r| {
            let (id, envelope_id, relay, mailbox, envelope, message_id, attempts, key) = r?;
            Ok(OutboxItem {
                id,
                envelope_id: blob(envelope_id, "outbox envelope id")?,
                relay,
                mailbox: blob(mailbox, "outbox mailbox")?,
                envelope: envelope.into(),
                message_id,
                attempts,
                send_key: key.map(send_key_from).transpose()?,
            })
        })
        .collect()
    }

    /// Number of queued envelopes.
    pub fn outbox_len(&self) -> StoreResult<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as usize)
    }

    /// Earliest next try, if anything is queued.
    pub fn outbox_next_due(&self) -> StoreResult<Option<u64>> {
        Ok(self
            .conn
            .query_row("SELECT min(next_try_ms) FROM outbox", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .map(|v| v as u64))
    }

    /// Earliest next try strictly after `now_ms`: when to look again, given that
    /// everything due by `now_ms` is already being sent.
    pub fn outbox_next_due_after(&self, now_ms: u64) -> StoreResult<Option<u64>> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Ok(self
            .conn
            .query_row(
                "SELECT min(next_try_ms) FROM outbox WHERE next_try_ms > ?1",
                [now],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(|v| v as u64))
    }

    /// Records a failed send and schedules the next try with exponential backoff.
    pub fn outbox_failed(&self, id: i64, error: &str, now_ms: u64) -> StoreResult<()> {
        let attempts: u32 = self.conn.query_row(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1 RETURNING attempts",
            rusqlite::params![id, error],
            |r| r.get(0),
        )?;
        let next = now_ms.saturating_add(backoff_ms(attempts.saturating_sub(1)));
        self.conn.execute(
            "UPDATE outbox SET next_try_ms = ?2 WHERE id = ?1",
            rusqlite::params![id, next as i64],
        )?;
        Ok(())
    }

    /// Makes every item for `relay` due now: it is reachable again, so what
    /// waited for a retry goes out at once instead of after its backoff.
    pub fn outbox_retry_now(&self, relay: &str, now_ms: u64) -> StoreResult<usize> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Ok(self.conn.execute(
            "UPDATE outbox SET next_try_ms = ?2 WHERE relay = ?1 AND next_try_ms > ?2",
            rusqlite::params![relay, now],
        )?)
    }

    /// Removes an acknowledged envelope; returns the message row it carried.
    pub fn outbox_acked(&self, id: i64) -> StoreResult<Option<i64>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "DELETE FROM outbox WHERE id = ?1 RETURNING message_id",
                [id],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::temp_store;

    fn item(id: u8) -> NewOutboxItem<'static> {
        NewOutboxItem {
            envelope_id: [id; 16],
            relay: "ws://127.0.0.1:1/",
            mailbox: [id; 32],
            envelope: b"sealed",
            message_id: None,
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0), 1_000);
        assert_eq!(backoff_ms(1), 2_000);
        assert_eq!(backoff_ms(3), 8_000);
        assert_eq!(backoff_ms(40), BACKOFF_MAX_MS);
    }

    #[test]
    fn enqueue_fail_retry_ack() {
        let (_dir, store) = temp_store();
        let db = store.read();
        let a = db.enqueue(&item(1), 100).unwrap();
        db.enqueue(&item(2), 100).unwrap();
        assert!(db.enqueue(&item(1), 100).is_err(), "same envelope twice");
        assert_eq!(db.outbox_due(100, 10).unwrap().len(), 2);
        db.outbox_failed(a, "connection refused", 100).unwrap();
        let due = db.outbox_due(100, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].envelope_id, [2; 16]);
        assert_eq!(db.outbox_due(1_100, 10).unwrap().len(), 2);
        assert_eq!(db.outbox_next_due().unwrap(), Some(100));
        assert_eq!(db.outbox_acked(a).unwrap(), None);
        assert_eq!(db.outbox_len().unwrap(), 1);
    }
}
