//! Relays we know and the mailboxes we own on them.

use zeroize::Zeroizing;

use cairn_protocol::frames::SendKey;

use super::send_keys::send_key_from;
use super::{Db, StoreError, StoreResult, blob};

/// Row id of a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelayId(pub i64);

/// A mailbox we own: where contacts (or invitees) send to us.
#[derive(Clone)]
pub struct MailboxRecord {
    /// Mailbox id on the relay.
    pub id: [u8; 32],
    /// Relay address text (`wss://host:port/#pin`).
    pub relay: String,
    /// Seed of the key that proves ownership to the relay. Secret.
    pub auth_seed: Zeroizing<Vec<u8>>,
    /// The key that opens it for sending, for a send-locked mailbox (a
    /// conversation's); `None` for an open one (an invite's). Secret.
    pub send_key: Option<SendKey>,
}

impl std::fmt::Debug for MailboxRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxRecord")
            .field("id", &hex::encode(&self.id[..6]))
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl Db<'_> {
    /// Our mailboxes matching `filter` (SQL after `WHERE`, over `m` the
    /// mailbox and `r` its relay), with their keys.
    fn mailboxes_where(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> StoreResult<Vec<MailboxRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT m.id, r.address, m.auth_seed, m.send_key
             FROM mailboxes m JOIN relays r ON r.id = m.relay_id WHERE {filter}"
        ))?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let seed = Zeroizing::new(r.get::<_, Vec<u8>>(2)?);
            out.push(MailboxRecord {
                id: blob(r.get(0)?, "mailbox id")?,
                relay: r.get(1)?,
                auth_seed: seed,
                send_key: r
                    .get::<_, Option<Vec<u8>>>(3)?
                    .map(send_key_from)
                    .transpose()?,
            });
        }
        Ok(out)
    }

    /// Returns the relay's row id, adding it if new.
    pub fn ensure_relay(&self, address: &str, now_ms: u64) -> StoreResult<RelayId> {
        self.conn.execute(
            "INSERT INTO relays (address, added_ms) VALUES (?1, ?2) ON CONFLICT (address) DO NOTHING",
            rusqlite::params![address, now_ms as i64],
        )?;
        let id =
            self.conn
                .query_row("SELECT id FROM relays WHERE address = ?1", [address], |r| {
                    r.get(0)
                })?;
        Ok(RelayId(id))
    }

    /// All relay addresses we know.
    pub fn relays(&self) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT address FROM relays ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The user's extra relays (address text), in the order they were added.
    pub fn extra_relays(&self) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT address FROM extra_relays ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds an extra relay; `false` if it was already in the list.
    pub fn add_extra_relay(&self, address: &str, now_ms: u64) -> StoreResult<bool> {
        let n = self.conn.execute(
            "INSERT INTO extra_relays (address, added_ms) VALUES (?1, ?2)
             ON CONFLICT (address) DO NOTHING",
            rusqlite::params![address, now_ms as i64],
        )?;
        Ok(n > 0)
    }

    /// Removes an extra relay; `false` if it was not in the list.
    pub fn remove_extra_relay(&self, address: &str) -> StoreResult<bool> {
        let n = self
            .conn
            .execute("DELETE FROM extra_relays WHERE address = ?1", [address])?;
        Ok(n > 0)
    }

    /// Records a mailbox we created on `relay`.
    pub fn add_mailbox(
        &self,
        id: &[u8; 32],
        relay: &str,
        auth_seed: &[u8],
        send_key: Option<&SendKey>,
        now_ms: u64,
    ) -> StoreResult<()> {
        let relay_id = self.ensure_relay(relay, now_ms)?;
        self.conn.execute(
            "INSERT INTO mailboxes (id, relay_id, auth_seed, send_key, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                &id[..],
                relay_id.0,
                auth_seed,
                send_key.map(|k| &k.as_bytes()[..]),
                now_ms as i64
            ],
        )?;
        Ok(())
    }

    /// Mailboxes still in use (not retired), to poll on every sync.
    pub fn active_mailboxes(&self) -> StoreResult<Vec<MailboxRecord>> {
        self.mailboxes_where("m.retired_ms IS NULL ORDER BY r.id, m.created_ms", [])
    }

    /// One mailbox by id.
    pub fn mailbox(&self, id: &[u8; 32]) -> StoreResult<MailboxRecord> {
        self.mailboxes_where("m.id = ?1", [&id[..]])?
            .pop()
            .ok_or_else(|| StoreError::NotFound {
                what: "mailbox",
                key: hex::encode(id),
            })
    }

    /// Retired mailboxes that no contact, invite (its own mailbox or the
    /// link mailbox of its sealed copy) or open move refers to any more: to be deleted at their relay (so it stops holding anything for
    /// them), then forgotten.
    pub fn unused_retired_mailboxes(&self) -> StoreResult<Vec<MailboxRecord>> {
        self.mailboxes_where(
            "m.retired_ms IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.my_mailbox = m.id)
               AND NOT EXISTS (SELECT 1 FROM pending_invites p
                               WHERE p.mailbox_id = m.id OR p.link_mailbox = m.id)
               AND NOT EXISTS (SELECT 1 FROM moves_out o WHERE o.old_mailbox = m.id)
             ORDER BY m.retired_ms",
            [],
        )
    }

    /// Forgets a retired, unused mailbox (after its relay deleted it); does
    /// nothing to a mailbox still in use.
    pub fn forget_mailbox(&self, id: &[u8; 32]) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM mailboxes WHERE id = ?1 AND retired_ms IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM contacts WHERE my_mailbox = ?1)
               AND NOT EXISTS (SELECT 1 FROM pending_invites
                               WHERE mailbox_id = ?1 OR link_mailbox = ?1)",
            [&id[..]],
        )?;
        Ok(())
    }

    /// Stops polling a mailbox (for example an invite mailbox after the handshake).
    pub fn retire_mailbox(&self, id: &[u8; 32], now_ms: u64) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE mailboxes SET retired_ms = ?2 WHERE id = ?1",
            rusqlite::params![&id[..], now_ms as i64],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::temp_store;

    #[test]
    fn relays_and_mailboxes() {
        let (_dir, mut store) = temp_store();
        store
            .write(|db| {
                let a = db.ensure_relay("ws://127.0.0.1:1/", 1)?;
                assert_eq!(db.ensure_relay("ws://127.0.0.1:1/", 2)?, a);
                db.add_mailbox(&[1; 32], "ws://127.0.0.1:1/", b"seed", None, 3)?;
                db.add_mailbox(&[2; 32], "ws://127.0.0.2:1/", b"seed2", None, 4)
            })
            .unwrap();
        let db = store.read();
        assert_eq!(db.relays().unwrap().len(), 2);
        assert_eq!(db.active_mailboxes().unwrap().len(), 2);
        assert_eq!(db.mailbox(&[2; 32]).unwrap().auth_seed.as_slice(), b"seed2");
        db.retire_mailbox(&[1; 32], 5).unwrap();
        assert_eq!(db.active_mailboxes().unwrap().len(), 1);
        assert!(db.mailbox(&[9; 32]).is_err());
    }

    #[test]
    fn extra_relays_keep_order_and_refuse_duplicates() {
        let (_dir, mut store) = temp_store();
        let added = store
            .write(|db| {
                Ok::<_, crate::store::StoreError>([
                    db.add_extra_relay("ws://127.0.0.1:2/", 1)?,
                    db.add_extra_relay("ws://127.0.0.1:1/", 2)?,
                    db.add_extra_relay("ws://127.0.0.1:2/", 3)?,
                ])
            })
            .unwrap();
        assert_eq!(added, [true, true, false]);
        let db = store.read();
        assert_eq!(
            db.extra_relays().unwrap(),
            ["ws://127.0.0.1:2/", "ws://127.0.0.1:1/"]
        );
        // Separate from the relays our mailboxes and contacts use.
        assert!(db.relays().unwrap().is_empty());
        assert!(db.remove_extra_relay("ws://127.0.0.1:2/").unwrap());
        assert!(!db.remove_extra_relay("ws://127.0.0.1:2/").unwrap());
        assert_eq!(db.extra_relays().unwrap(), ["ws://127.0.0.1:1/"]);
    }
}
