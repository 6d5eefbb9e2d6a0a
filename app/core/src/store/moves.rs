//! Mailbox moves (PROTOCOL.md §10.4) and handshake confirmation: which old
//! mailboxes still count for a contact, and which moves await confirmation.

use cairn_protocol::frames::SendKey;
use rusqlite::OptionalExtension;

use super::{Contact, ContactId, Db, StoreResult};

impl Db<'_> {
    /// The contact who writes to our mailbox `mailbox`: through the mailbox
    /// we receive on now, or through the one we moved away from and still
    /// read until they confirm the move (`true` in the second case).
    pub fn contact_for_mailbox(&self, mailbox: &[u8; 32]) -> StoreResult<Option<(Contact, bool)>> {
        if let Some(c) = self.contact_by_my_mailbox(mailbox)? {
            return Ok(Some((c, false)));
        }
        let moved: Option<i64> = self
            .conn
            .query_row(
                "SELECT contact_id FROM moves_out WHERE old_mailbox = ?1",
                [&mailbox[..]],
                |r| r.get(0),
            )
            .optional()?;
        match moved {
            Some(id) => Ok(Some((self.contact(ContactId(id))?, true))),
            None => Ok(None),
        }
    }

    /// We now receive from `contact` on their `my_mailbox`; `old` stays ours
    /// (and subscribed) until they confirm.
    pub fn add_move_out(&self, contact: ContactId, old: &[u8; 32], now_ms: u64) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO moves_out (contact_id, old_mailbox, moved_ms) VALUES (?1, ?2, ?3)",
            rusqlite::params![contact.0, &old[..], now_ms as i64],
        )?;
        Ok(())
    }

    /// Points the conversation with `contact` at our new receiving mailbox.
    pub fn set_my_mailbox(&self, contact: ContactId, mailbox: &[u8; 32]) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE contacts SET my_mailbox = ?2 WHERE id = ?1",
            rusqlite::params![contact.0, &mailbox[..]],
        )?;
        Ok(())
    }

    /// How many conversations receive on a mailbox of ours on `relay`.
    pub fn conversations_on(&self, relay: &str) -> StoreResult<usize> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM contacts c
               JOIN mailboxes m ON m.id = c.my_mailbox
               JOIN relays r ON r.id = m.relay_id
             WHERE r.address = ?1",
            [relay],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// Conversations whose receiving mailbox could move now: no move of
    /// ours open and no identity change of the contact's waiting. Returns
    /// the contact, the relay its mailbox is on, and whether that mailbox is
    /// send-locked.
    pub fn movable_conversations(&self) -> StoreResult<Vec<(ContactId, String, bool)>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, r.address, m.send_key IS NOT NULL FROM contacts c
               JOIN mailboxes m ON m.id = c.my_mailbox
               JOIN relays r ON r.id = m.relay_id
             WHERE c.pending_identity IS NULL
               AND NOT EXISTS (SELECT 1 FROM moves_out o WHERE o.contact_id = c.id)
             ORDER BY c.id",
        )?;
        let rows = stmt.query_map([], |r| Ok((ContactId(r.get(0)?), r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The contact confirmed our move to `mailbox`: nothing more of theirs
    /// goes to the old mailbox. It is retired after a grace period (see
    /// [`Db::finish_moves_out`]). `false` if no such move was open.
    pub fn confirm_move_out(
        &self,
        contact: &Contact,
        mailbox: &[u8; 32],
        now_ms: u64,
    ) -> StoreResult<bool> {
        if contact.my_mailbox != *mailbox {
            return Ok(false);
        }
        Ok(self.conn.execute(
            "UPDATE moves_out SET confirmed_ms = ?2 WHERE contact_id = ?1 AND confirmed_ms IS NULL",
            rusqlite::params![contact.id.0, now_ms as i64],
        )? == 1)
    }

    /// Ends the moves confirmed before `confirmed_before_ms`, and those never
    /// confirmed since `moved_before_ms`: their old mailboxes are retired
    /// (deleted at their relay by the next tidy). Returns the contacts.
    pub fn finish_moves_out(
        &self,
        confirmed_before_ms: u64,
        moved_before_ms: u64,
        now_ms: u64,
    ) -> StoreResult<Vec<ContactId>> {
        let done: Vec<(i64, Vec<u8>)> = self
            .conn
            .prepare(
                "DELETE FROM moves_out WHERE confirmed_ms < ?1 OR moved_ms < ?2
                 RETURNING contact_id, old_mailbox",
            )?
            .query_map(
                rusqlite::params![confirmed_before_ms as i64, moved_before_ms as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<Result<_, _>>()?;
        for (_, mailbox) in &done {
            self.conn.execute(
                "UPDATE mailboxes SET retired_ms = ?2 WHERE id = ?1 AND retired_ms IS NULL",
                rusqlite::params![mailbox, now_ms as i64],
            )?;
        }
        Ok(done.into_iter().map(|(id, _)| ContactId(id)).collect())
    }

    /// True while a move of ours for `contact` is open (old mailbox still read).
    pub fn moving_out(&self, contact: ContactId) -> StoreResult<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM moves_out WHERE contact_id = ?1",
                [contact.0],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The contact moved to `relay`/`mailbox` (send-locked with `send_key`):
    /// write there from now on, and confirm once nothing sealed for their
    /// old mailbox is still queued.
    pub fn move_in(
        &self,
        contact: &Contact,
        relay: &str,
        mailbox: &[u8; 32],
        send_key: &SendKey,
        now_ms: u64,
    ) -> StoreResult<()> {
        self.set_send_key(mailbox, send_key, now_ms)?;
        self.conn.execute(
            "UPDATE contacts SET relay = ?2, their_mailbox = ?3 WHERE id = ?1",
            rusqlite::params![contact.id.0, relay, &mailbox[..]],
        )?;
        self.conn.execute(
            "INSERT OR REPLACE INTO moves_in (contact_id, old_mailbox) VALUES (?1, ?2)",
            rusqlite::params![contact.id.0, &contact.their_mailbox[..]],
        )?;
        Ok(())
    }

    /// Contacts whose move we can confirm now: nothing for their old mailbox
    /// waits in the outbox. Their rows are removed (the caller seals the
    /// confirmation in the same transaction).
    pub fn take_confirmable_moves_in(&self) -> StoreResult<Vec<ContactId>> {
        let ids: Vec<i64> = self
            .conn
            .prepare(
                "DELETE FROM moves_in
                 WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.mailbox = moves_in.old_mailbox)
                 RETURNING contact_id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids.into_iter().map(ContactId).collect())
    }

    /// True if a move of theirs waits for our confirmation.
    pub fn has_moves_in(&self) -> StoreResult<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM moves_in LIMIT 1", [], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Their side of the handshake is complete (their first message came).
    pub fn set_confirmed(&self, contact: ContactId) -> StoreResult<bool> {
        Ok(self.conn.execute(
            "UPDATE contacts SET confirmed = 1 WHERE id = ?1 AND confirmed = 0",
            [contact.0],
        )? == 1)
    }
}
