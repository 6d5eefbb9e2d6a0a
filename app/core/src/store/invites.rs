//! Invites we issued and that are waiting for the invitee's handshake.

use zeroize::Zeroizing;

use super::{Db, StoreResult, blob};

/// A stored, unanswered invite.
#[derive(Clone)]
pub struct PendingInviteRecord {
    /// Invite id (from the protocol).
    pub id: [u8; 32],
    /// Mailbox the handshake will arrive on.
    pub mailbox: [u8; 32],
    /// Serialized protocol `PendingInvite`. Secret (holds handshake private keys).
    pub pending: Zeroizing<Vec<u8>>,
    /// The shareable `cairn:` URI, to show again.
    pub uri: String,
    /// Unix seconds after which the invite is refused.
    pub expires_at: u64,
}

impl std::fmt::Debug for PendingInviteRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingInviteRecord")
            .field("id", &hex::encode(&self.id[..6]))
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Db<'_> {
    /// Stores a new invite; its mailbox must already be recorded.
    pub fn add_pending_invite(&self, invite: &PendingInviteRecord, now_ms: u64) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO pending_invites (id, mailbox_id, pending, uri, created_ms, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                &invite.id[..],
                &invite.mailbox[..],
                invite.pending.as_slice(),
                invite.uri,
                now_ms as i64,
                invite.expires_at as i64
            ],
        )?;
        Ok(())
    }

    /// Unanswered invites whose handshake would arrive on `mailbox`.
    pub fn pending_invites_for(&self, mailbox: &[u8; 32]) -> StoreResult<Vec<PendingInviteRecord>> {
        self.query_invites("WHERE mailbox_id = ?1", &[&&mailbox[..]])
    }

    /// All unanswered invites.
    pub fn pending_invites(&self) -> StoreResult<Vec<PendingInviteRecord>> {
        self.query_invites("", &[])
    }

    fn query_invites(
        &self,
        filter: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<PendingInviteRecord>> {
        let sql = format!(
            "SELECT id, mailbox_id, pending, uri, expires_at FROM pending_invites {filter}
             ORDER BY created_ms"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (id, mailbox, pending, uri, expires_at) = row?;
            Ok(PendingInviteRecord {
                id: blob(id, "invite id")?,
                mailbox: blob(mailbox, "invite mailbox")?,
                pending: Zeroizing::new(pending),
                uri,
                expires_at: expires_at as u64,
            })
        })
        .collect()
    }

    /// Records that we accepted invite `id`; false if we already had.
    pub fn mark_invite_accepted(&self, id: &[u8; 32], now_ms: u64) -> StoreResult<bool> {
        let changed = self.conn.execute(
            "INSERT INTO accepted_invites (id, accepted_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            rusqlite::params![&id[..], now_ms as i64],
        )?;
        Ok(changed == 1)
    }

    /// Forgets an invite once its handshake completed (or it expired).
    pub fn remove_pending_invite(&self, id: &[u8; 32]) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM pending_invites WHERE id = ?1", [&id[..]])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::temp_store;

    #[test]
    fn add_list_remove() {
        let (_dir, mut store) = temp_store();
        let rec = PendingInviteRecord {
            id: [5; 32],
            mailbox: [6; 32],
            pending: Zeroizing::new(vec![1, 2, 3]),
            uri: "cairn:1x".into(),
            expires_at: 99,
        };
        store
            .write(|db| {
                db.add_mailbox(&[6; 32], "ws://127.0.0.1:1/", b"s", 1)?;
                db.add_pending_invite(&rec, 2)
            })
            .unwrap();
        let db = store.read();
        let found = db.pending_invites_for(&[6; 32]).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pending.as_slice(), &[1, 2, 3]);
        assert!(db.pending_invites_for(&[7; 32]).unwrap().is_empty());
        db.remove_pending_invite(&[5; 32]).unwrap();
        assert!(db.mark_invite_accepted(&[8; 32], 1).unwrap());
        assert!(!db.mark_invite_accepted(&[8; 32], 2).unwrap());
        assert!(db.pending_invites().unwrap().is_empty());
    }
}
