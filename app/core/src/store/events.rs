//! Integrity events: what the protocol or the client noticed about a conversation.
//!
//! They are part of history (shown between messages), so the user learns that
//! a message went missing or that a key changed, rather than it being logged
//! somewhere nobody looks.

use super::{ContactId, Db, StoreError, StoreResult};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Messages between two counters never arrived (dropped by a relay, or lost).
    Gap,
    /// A message arrived after later ones (filled an earlier gap).
    LateArrival,
    /// A message was replayed; it was not shown twice.
    Duplicate,
    /// The peer's chain forked: two different messages claimed one counter.
    Fork,
    /// An envelope failed authentication or parsing and was dropped.
    Rejected,
    /// The contact's identity key changed; new messages are held.
    KeyChange,
    /// The user accepted the contact's new identity key.
    KeyAccepted,
    /// The user verified the safety number.
    Verified,
    /// A new contact's name looks like an existing contact's (UTS #39
    /// confusables): they may be impersonating that contact.
    LookAlikeName,
    /// A genuine message arrived after its key was discarded (PROTOCOL.md
    /// §9.7): it cannot be read.
    Lost,
    /// The contact restored their profile from a backup and renewed the
    /// session (PROTOCOL.md §2, §10.2).
    Restored,
    /// Envelopes on a mailbox of ours that anyone holding its id may write to
    /// (an invite's, or a conversation's from before send-locked mailboxes)
    /// did not come from the contact: someone else's traffic, dropped, and
    /// reported once a day per mailbox, outside the conversation.
    Unauthenticated,
    /// The user withdrew a contact's verification.
    VerificationCleared,
}

impl EventKind {
    /// Stable text for storage and CLI output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gap => "gap",
            Self::LateArrival => "late",
            Self::Duplicate => "duplicate",
            Self::Fork => "fork",
            Self::Rejected => "rejected",
            Self::KeyChange => "key_change",
            Self::KeyAccepted => "key_accepted",
            Self::Verified => "verified",
            Self::LookAlikeName => "look_alike_name",
            Self::Lost => "lost",
            Self::Restored => "restored",
            Self::Unauthenticated => "unauthenticated",
            Self::VerificationCleared => "unverified",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "gap" => Self::Gap,
            "late" => Self::LateArrival,
            "duplicate" => Self::Duplicate,
            "fork" => Self::Fork,
            "rejected" => Self::Rejected,
            "key_change" => Self::KeyChange,
            "key_accepted" => Self::KeyAccepted,
            "verified" => Self::Verified,
            "look_alike_name" => Self::LookAlikeName,
            "lost" => Self::Lost,
            "restored" => Self::Restored,
            "unauthenticated" => Self::Unauthenticated,
            "unverified" => Self::VerificationCleared,
            _ => return Err(StoreError::Malformed("event kind")),
        })
    }
}

/// A stored integrity event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityRecord {
    /// Row id.
    pub id: i64,
    /// Conversation, if the event could be tied to one.
    pub contact: Option<ContactId>,
    /// What happened.
    pub kind: EventKind,
    /// Human-readable detail (counters, reason). Never contains message text or keys.
    pub detail: String,
    /// Our clock, milliseconds.
    pub at_ms: u64,
}

impl Db<'_> {
    /// Appends an event; returns its row id.
    pub fn add_event(
        &self,
        contact: Option<ContactId>,
        kind: EventKind,
        detail: &str,
        at_ms: u64,
    ) -> StoreResult<i64> {
        self.conn.execute(
            "INSERT INTO integrity_events (contact_id, kind, detail, at_ms) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![contact.map(|c| c.0), kind.as_str(), detail, at_ms as i64],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// True if an event with exactly this contact, kind and detail was
    /// recorded at or after `since_ms`: a repeated notice can be skipped.
    pub fn has_event_since(
        &self,
        contact: Option<ContactId>,
        kind: EventKind,
        detail: &str,
        since_ms: u64,
    ) -> StoreResult<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM integrity_events
                            WHERE contact_id IS ?1 AND kind = ?2 AND detail = ?3 AND at_ms >= ?4)",
            rusqlite::params![contact.map(|c| c.0), kind.as_str(), detail, since_ms as i64],
            |r| r.get(0),
        )?)
    }

    /// Events of one conversation (or, with `None`, those tied to none), oldest first.
    pub fn events(&self, contact: Option<ContactId>) -> StoreResult<Vec<IntegrityRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, contact_id, kind, detail, at_ms FROM integrity_events
             WHERE contact_id IS ?1 ORDER BY at_ms, id",
        )?;
        let rows = stmt.query_map([contact.map(|c| c.0)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        rows.map(|r| {
            let (id, contact, kind, detail, at_ms) = r?;
            Ok(IntegrityRecord {
                id,
                contact: contact.map(ContactId),
                kind: EventKind::parse(&kind)?,
                detail,
                at_ms: at_ms as u64,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contacts::tests::add;
    use crate::store::test_support::temp_store;

    #[test]
    fn add_and_list() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let db = store.read();
        db.add_event(Some(a), EventKind::Gap, "messages 3..5 missing", 10)
            .unwrap();
        db.add_event(None, EventKind::Rejected, "bad envelope", 11)
            .unwrap();
        let evs = db.events(Some(a)).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].kind, EventKind::Gap);
        assert_eq!(db.events(None).unwrap()[0].kind, EventKind::Rejected);
    }
}
