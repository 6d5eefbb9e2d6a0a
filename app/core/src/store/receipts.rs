//! Receipts waiting to be sealed: delivered and read confirmations, due at a
//! random moment after the event they confirm (see migration V7 for why).

use super::{ContactId, Db, StoreResult};

/// Which receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReceiptKind {
    /// The message was stored on the recipient's device.
    Delivered,
    /// The recipient opened the conversation.
    Read,
}

impl ReceiptKind {
    fn code(self) -> i64 {
        match self {
            Self::Delivered => 0,
            Self::Read => 1,
        }
    }

    fn from_code(code: i64) -> Self {
        if code == 1 {
            Self::Read
        } else {
            Self::Delivered
        }
    }
}

/// Receipts of one kind for one contact, ready to seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReceipts {
    /// The contact the receipts go to.
    pub contact: ContactId,
    /// Delivered or read.
    pub kind: ReceiptKind,
    /// Counters of their messages being confirmed, ascending.
    pub counters: Vec<u64>,
}

impl Db<'_> {
    /// Queues receipts; a read receipt makes a pending delivered one for the
    /// same message redundant, so that one is dropped.
    pub fn add_pending_receipts(
        &self,
        contact: ContactId,
        kind: ReceiptKind,
        counters: &[u64],
        due_ms: u64,
    ) -> StoreResult<()> {
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO pending_receipts (contact_id, kind, counter, due_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut drop_delivered = self.conn.prepare_cached(
            "DELETE FROM pending_receipts WHERE contact_id = ?1 AND kind = 0 AND counter = ?2",
        )?;
        let due = i64::try_from(due_ms).unwrap_or(i64::MAX);
        for &c in counters {
            let c = i64::try_from(c).unwrap_or(i64::MAX);
            insert.execute(rusqlite::params![contact.0, kind.code(), c, due])?;
            if kind == ReceiptKind::Read {
                drop_delivered.execute(rusqlite::params![contact.0, c])?;
            }
        }
        Ok(())
    }

    /// Takes (deletes and returns) the receipts due at `now_ms`, plus every
    /// pending receipt of `contact` whatever its due time (they ride along
    /// with a message being sent to that contact).
    pub fn take_due_receipts(
        &self,
        now_ms: u64,
        contact: Option<ContactId>,
    ) -> StoreResult<Vec<PendingReceipts>> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let with = contact.map_or(-1, |c| c.0);
        let mut stmt = self.conn.prepare_cached(
            "SELECT contact_id, kind, counter FROM pending_receipts
             WHERE due_ms <= ?1 OR contact_id = ?2 ORDER BY contact_id, kind, counter",
        )?;
        let rows = stmt.query_map(rusqlite::params![now, with], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out: Vec<PendingReceipts> = Vec::new();
        for row in rows {
            let (contact, kind, counter) = row?;
            let (contact, kind) = (ContactId(contact), ReceiptKind::from_code(kind));
            match out.last_mut() {
                Some(p) if p.contact == contact && p.kind == kind => {
                    p.counters.push(counter as u64)
                }
                _ => out.push(PendingReceipts {
                    contact,
                    kind,
                    counters: vec![counter as u64],
                }),
            }
        }
        self.conn.execute(
            "DELETE FROM pending_receipts WHERE due_ms <= ?1 OR contact_id = ?2",
            rusqlite::params![now, with],
        )?;
        Ok(out)
    }

    /// Earliest due time of a pending receipt.
    pub fn next_receipt_due(&self) -> StoreResult<Option<u64>> {
        Ok(self
            .conn
            .query_row("SELECT min(due_ms) FROM pending_receipts", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .map(|v| v.max(0) as u64))
    }
}
