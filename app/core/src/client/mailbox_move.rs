//! Moving our side of a conversation to a new mailbox (PROTOCOL.md §10.4).
//!
//! The inviter's first message is such a move (see `handshake_in`); this is
//! the same step on its own, for a conversation whose mailbox should change:
//! today, conversations from before send-locked mailboxes (§19), which move
//! to a locked one so that knowing the old id no longer lets anyone write.

use cairn_protocol::content::Content;
use cairn_protocol::relay_address::RelayAddress;

use super::send::seal_and_queue;
use super::sessions::{persist, session_mut};
use super::{Client, ClientError, ClientResult, NewMailbox};
use crate::store::ContactId;

impl Client {
    /// Conversations that still receive on an open mailbox and can move now
    /// (no move of ours open, no identity change of theirs waiting), with
    /// the relay their mailbox is on: the messenger moves each one to a fresh
    /// send-locked mailbox on that relay.
    pub fn conversations_on_open_mailboxes(&self) -> ClientResult<Vec<(ContactId, RelayAddress)>> {
        self.store()
            .read()
            .contacts_on_open_mailboxes()?
            .into_iter()
            .map(|(id, relay)| Ok((id, relay.parse()?)))
            .collect()
    }

    /// Moves the conversation with `contact` to `mailbox` (already registered
    /// at its relay, send-locked): we receive there from now on, still read
    /// the old mailbox until the contact confirms (and a grace period after,
    /// see [`Client::housekeeping`]), and queue the signed `mailbox move`
    /// carrying the new mailbox's send key. One transaction.
    pub fn move_my_mailbox(
        &mut self,
        contact: ContactId,
        mailbox: &NewMailbox,
        now_ms: u64,
    ) -> ClientResult<()> {
        let send_key = mailbox
            .send_key
            .clone()
            .ok_or(ClientError::OpenConversationMailbox)?;
        let content = Content::MailboxMove {
            relay: mailbox.relay.clone(),
            mailbox: mailbox.id,
            send_key,
        };
        self.write_with_sessions(|db, identity, sessions| {
            let old = db.contact(contact)?;
            mailbox.store(db, now_ms)?;
            db.add_move_out(contact, &old.my_mailbox, now_ms)?;
            db.set_my_mailbox(contact, &mailbox.id.0)?;
            let moved = db.contact(contact)?;
            let session = session_mut(sessions, db, &moved)?;
            session.move_my_mailbox(mailbox.id);
            seal_and_queue(db, identity, session, &moved, &content, now_ms)?;
            persist(sessions, db, &[contact], now_ms)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::housekeeping::MOVE_GRACE_MS;
    use crate::testing::{pair, pump, settle};

    /// A conversation from before send locks moves to a locked mailbox; the
    /// contact follows with the new key, confirms, and the old mailbox is
    /// retired once the grace period is over.
    #[test]
    fn a_conversation_on_an_open_mailbox_moves_to_a_locked_one() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = pair(tmp.path(), 1_000);
        let to_bob = alice.contacts().unwrap()[0].id;
        let to_alice = bob.contacts().unwrap()[0].id;
        let old = alice.contact(to_bob).unwrap().my_mailbox;
        // The move off the invite's mailbox has ended.
        let t = 2_000 + MOVE_GRACE_MS;
        alice.housekeeping(t).unwrap();
        assert!(alice.conversations_on_open_mailboxes().unwrap().is_empty());
        alice
            .store_mut()
            .write(|db| db.drop_send_lock_for_tests(&old))
            .unwrap();
        let open = alice.conversations_on_open_mailboxes().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].0, to_bob);

        let new = alice.mint_mailbox_on(Some(open[0].1.clone()));
        alice.move_my_mailbox(to_bob, &new, t).unwrap();
        assert!(
            alice.conversations_on_open_mailboxes().unwrap().is_empty(),
            "a move is open: not moved twice"
        );
        pump(&mut alice, &mut bob, t + 1);
        // Bob writes to the new mailbox with its key.
        bob.send_text(to_alice, "after the move", t + 2).unwrap();
        let due = bob.outbox_due(u64::MAX, 10).unwrap();
        let text = due.iter().find(|i| i.message_id.is_some()).unwrap();
        assert_eq!(text.mailbox, new.id.0);
        assert_eq!(text.send_key, new.send_key);
        settle(&mut bob, &mut alice, t + 3);
        let chat = alice.timeline(to_bob).unwrap();
        assert!(format!("{chat:?}").contains("after the move"));
        // Confirmed: after the grace period the open mailbox goes.
        alice.housekeeping(t + 4 + MOVE_GRACE_MS).unwrap();
        let retired: Vec<[u8; 32]> = alice
            .mailboxes_to_delete()
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert!(retired.contains(&old), "{retired:?}");
    }
}
