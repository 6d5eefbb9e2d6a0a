//! The keys that open our contacts' send-locked mailboxes (PROTOCOL.md §18.3).
//!
//! A contact hands us the key to its mailbox inside the encrypted handshake
//! or a mailbox move; every envelope to that mailbox goes out with it. Keys
//! are kept by mailbox, not by contact, so an envelope sealed for an old
//! mailbox before a move still leaves with the old mailbox's key.

use cairn_protocol::frames::{SEND_KEY_LEN, SendKey};
use rusqlite::OptionalExtension;
use zeroize::Zeroizing;

use super::{Db, StoreError, StoreResult};

impl Db<'_> {
    /// Remembers the key a contact gave us for its `mailbox`.
    pub fn set_send_key(&self, mailbox: &[u8; 32], key: &SendKey, now_ms: u64) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO send_keys (mailbox, send_key, created_ms) VALUES (?1, ?2, ?3)",
            rusqlite::params![&mailbox[..], &key.as_bytes()[..], now_ms as i64],
        )?;
        Ok(())
    }

    /// The key to send to a contact's `mailbox` with, if it is send-locked.
    pub fn send_key(&self, mailbox: &[u8; 32]) -> StoreResult<Option<SendKey>> {
        self.conn
            .query_row(
                "SELECT send_key FROM send_keys WHERE mailbox = ?1",
                [&mailbox[..]],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(send_key_from)
            .transpose()
    }

    /// Forgets keys of mailboxes no contact writes to any more and nothing
    /// queued is addressed to. Returns how many went.
    pub fn prune_send_keys(&self) -> StoreResult<usize> {
        Ok(self.conn.execute(
            "DELETE FROM send_keys
             WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.their_mailbox = send_keys.mailbox)
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.mailbox = send_keys.mailbox)",
            [],
        )?)
    }
}

#[cfg(test)]
impl Db<'_> {
    /// Makes our mailbox `id` look created before send locks (open).
    pub(crate) fn drop_send_lock_for_tests(&self, id: &[u8; 32]) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE mailboxes SET send_key = NULL WHERE id = ?1",
            [&id[..]],
        )?;
        Ok(())
    }
}

/// A stored key column back into a [`SendKey`] (the copy read from SQLite is wiped).
pub(super) fn send_key_from(bytes: Vec<u8>) -> StoreResult<SendKey> {
    let bytes = Zeroizing::new(bytes);
    let array: [u8; SEND_KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Malformed("send key"))?;
    Ok(SendKey::from_bytes(array))
}

#[cfg(test)]
mod tests {
    use crate::store::NewOutboxItem;
    use crate::store::test_support::temp_store;
    use cairn_protocol::frames::SendKey;

    #[test]
    fn keys_are_kept_while_something_is_addressed_to_their_mailbox() {
        let (_dir, mut store) = temp_store();
        let key = SendKey::from_bytes([7; 32]);
        store
            .write(|db| {
                db.set_send_key(&[1; 32], &key, 1)?;
                db.set_send_key(&[2; 32], &key, 1)?;
                db.enqueue(
                    &NewOutboxItem {
                        envelope_id: [9; 16],
                        relay: "ws://127.0.0.1:1/",
                        mailbox: [1; 32],
                        envelope: b"x",
                        message_id: None,
                    },
                    1,
                )?;
                db.prune_send_keys()
            })
            .unwrap();
        let db = store.read();
        // Mailbox 1 still has a queued envelope; nothing points at mailbox 2.
        assert_eq!(db.send_key(&[1; 32]).unwrap(), Some(key));
        assert_eq!(db.send_key(&[2; 32]).unwrap(), None);
        assert_eq!(db.send_key(&[3; 32]).unwrap(), None);
    }
}
