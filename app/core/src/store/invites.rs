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
    /// The fresh mailbox the conversation moves to once the handshake
    /// arrives (`None` for invites made before moves existed).
    pub conversation_mailbox: Option<[u8; 32]>,
    /// The mailbox where the sealed invite waits for acceptors of the short
    /// link (`None` for invites made before short links, PROTOCOL.md §7.1).
    pub link_mailbox: Option<[u8; 32]>,
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
            "INSERT INTO pending_invites
                 (id, mailbox_id, pending, uri, created_ms, expires_at, conversation_mailbox,
                  link_mailbox)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                &invite.id[..],
                &invite.mailbox[..],
                invite.pending.as_slice(),
                invite.uri,
                now_ms as i64,
                invite.expires_at as i64,
                invite.conversation_mailbox.as_ref().map(|m| &m[..]),
                invite.link_mailbox.as_ref().map(|m| &m[..]),
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
            "SELECT id, mailbox_id, pending, uri, expires_at, conversation_mailbox, link_mailbox
             FROM pending_invites {filter} ORDER BY created_ms"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
                r.get::<_, Option<Vec<u8>>>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (id, mailbox, pending, uri, expires_at, conversation, link) = row?;
            Ok(PendingInviteRecord {
                id: blob(id, "invite id")?,
                mailbox: blob(mailbox, "invite mailbox")?,
                conversation_mailbox: conversation
                    .map(|m| blob(m, "conversation mailbox"))
                    .transpose()?,
                link_mailbox: link.map(|m| blob(m, "link mailbox")).transpose()?,
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

    /// Removes invites that expired before `now_secs` (their handshake private
    /// keys are secret and can no longer be used: secure_delete overwrites
    /// them) and retires their mailboxes unless a contact or another invite
    /// still uses them. Returns how many invites were removed.
    pub fn remove_expired_invites(&self, now_secs: u64, now_ms: u64) -> StoreResult<usize> {
        self.remove_invites("expires_at < ?1", &(now_secs as i64), now_ms)
    }

    /// Withdraws invite `id` before anyone used it, exactly as if it had
    /// expired: keys deleted, mailboxes retired. False if it was not open.
    pub fn revoke_invite(&self, id: &[u8; 32], now_ms: u64) -> StoreResult<bool> {
        Ok(self.remove_invites("id = ?1", &&id[..], now_ms)? > 0)
    }

    fn remove_invites(
        &self,
        filter: &str,
        param: &dyn rusqlite::ToSql,
        now_ms: u64,
    ) -> StoreResult<usize> {
        let mailboxes: Vec<Vec<u8>> = self
            .conn
            .prepare(&format!(
                "SELECT mailbox_id FROM pending_invites WHERE {filter}
                 UNION ALL
                 SELECT conversation_mailbox FROM pending_invites
                 WHERE {filter} AND conversation_mailbox IS NOT NULL"
            ))?
            .query_map([param], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let removed = self.conn.execute(
            &format!("DELETE FROM pending_invites WHERE {filter}"),
            [param],
        )?;
        for mailbox in mailboxes {
            self.conn.execute(
                "UPDATE mailboxes SET retired_ms = ?2
                 WHERE id = ?1 AND retired_ms IS NULL
                   AND NOT EXISTS (SELECT 1 FROM contacts WHERE my_mailbox = ?1)
                   AND NOT EXISTS (SELECT 1 FROM pending_invites WHERE mailbox_id = ?1)",
                rusqlite::params![mailbox, now_ms as i64],
            )?;
        }
        Ok(removed)
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
            conversation_mailbox: None,
            link_mailbox: None,
            pending: Zeroizing::new(vec![1, 2, 3]),
            uri: "cairn:1x".into(),
            expires_at: 99,
        };
        store
            .write(|db| {
                db.add_mailbox(&[6; 32], "ws://127.0.0.1:1/", b"s", None, 1)?;
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

    #[test]
    fn expired_invites_are_removed_and_their_unused_mailboxes_retired() {
        let (_dir, mut store) = temp_store();
        let invite = |id: u8, mailbox: u8, expires_at: u64| PendingInviteRecord {
            id: [id; 32],
            mailbox: [mailbox; 32],
            conversation_mailbox: None,
            link_mailbox: None,
            pending: Zeroizing::new(vec![id; 8]),
            uri: format!("cairn:{id}"),
            expires_at,
        };
        store
            .write(|db| {
                for mb in [1u8, 2, 3] {
                    db.add_mailbox(&[mb; 32], "ws://127.0.0.1:1/", b"s", None, 1)?;
                }
                db.add_pending_invite(&invite(10, 1, 100), 1)?; // expires
                db.add_pending_invite(&invite(11, 2, 100), 1)?; // expires, mailbox shared...
                db.add_pending_invite(&invite(12, 2, 500), 1)?; // ...with a live invite
                db.add_pending_invite(&invite(13, 3, 500), 1) // live
            })
            .unwrap();
        let removed = store
            .write(|db| db.remove_expired_invites(200, 200_000))
            .unwrap();
        assert_eq!(removed, 2);
        {
            let db = store.read();
            let left: Vec<[u8; 32]> = db.pending_invites().unwrap().iter().map(|i| i.id).collect();
            assert_eq!(left, vec![[12; 32], [13; 32]]);
            let active: Vec<[u8; 32]> = db
                .active_mailboxes()
                .unwrap()
                .iter()
                .map(|m| m.id)
                .collect();
            assert_eq!(
                active,
                vec![[2; 32], [3; 32]],
                "only the unused mailbox is retired"
            );
            assert_eq!(db.unused_retired_mailboxes().unwrap().len(), 1);
            db.forget_mailbox(&[1; 32]).unwrap();
            assert!(db.unused_retired_mailboxes().unwrap().is_empty());
            assert!(db.mailbox(&[1; 32]).is_err());
        }
        // Nothing more to expire; a live mailbox is never forgotten.
        assert_eq!(
            store.write(|db| db.remove_expired_invites(200, 1)).unwrap(),
            0
        );
        store.read().forget_mailbox(&[3; 32]).unwrap();
        assert!(store.read().mailbox(&[3; 32]).is_ok());
    }
}
