//! Moving our side of a conversation to a new mailbox (PROTOCOL.md §10.4).
//!
//! The inviter's first message is such a move (see `handshake_in`); this is
//! the same step on its own, for a conversation whose mailbox should change:
//! one on a former home relay (the user changed relays) moves to the home
//! relay, and one from before send-locked mailboxes (§19) to a locked one,
//! so that knowing the old id no longer lets anyone write.

use cairn_protocol::content::Content;
use cairn_protocol::relay_address::RelayAddress;

use super::relays::check_transport;
use super::send::seal_and_queue;
use super::sessions::{persist, session_mut};
use super::{Client, ClientError, ClientResult, NewMailbox, keys};
use crate::store::{ContactId, Db, StoreResult};

/// Former home relays whose conversations still move to the home relay.
fn former_homes(db: &Db<'_>) -> StoreResult<Vec<String>> {
    Ok(db
        .setting_text(keys::FORMER_HOME_RELAYS)?
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default())
}

impl Client {
    /// Conversations that should move and can now (no move of ours open, no
    /// identity change of theirs waiting), with the relay to move to: those
    /// on a former home relay go to the home relay; those on an open mailbox
    /// to a locked one on the same relay. The messenger mints the mailbox
    /// there, registers it and calls [`Client::move_my_mailbox`].
    pub fn conversations_to_move(&self) -> ClientResult<Vec<(ContactId, RelayAddress)>> {
        let db = self.store().read();
        let former = former_homes(&db)?;
        let mut out = Vec::new();
        for (id, relay, locked) in db.movable_conversations()? {
            if former.contains(&relay) {
                out.push((id, self.home_relay.clone()));
            } else if !locked {
                out.push((id, relay.parse()?));
            }
        }
        Ok(out)
    }

    /// Conversations receiving on `relay` that can move now (no move of
    /// ours open, no identity change of theirs waiting).
    pub fn movable_conversations_on(&self, relay: &RelayAddress) -> ClientResult<Vec<ContactId>> {
        let relay = relay.to_string();
        Ok(self
            .store()
            .read()
            .movable_conversations()?
            .into_iter()
            .filter(|(_, on, _)| *on == relay)
            .map(|(id, _, _)| id)
            .collect())
    }

    /// Makes `relay` the home relay (new invites and mailboxes go there; the
    /// access token, if any, is for it) and moves every conversation that
    /// receives on the current home relay there, each with a signed mailbox
    /// move the contact follows (PROTOCOL.md §10.4) — as the messenger gets
    /// to it; conversations in the middle of another move follow once that
    /// ends. The old relay keeps being read until each contact confirms.
    /// Returns how many conversations will move. Nothing changes if `relay`
    /// is refused ([`check_transport`]) or already the home relay.
    pub fn change_home_relay(
        &mut self,
        relay: &RelayAddress,
        access_token: Option<&str>,
    ) -> ClientResult<usize> {
        check_transport(relay)?;
        let new = relay.to_string();
        let old = self.home_relay.to_string();
        if new == old {
            return Err(ClientError::RelayListed(new));
        }
        let moving = self.store_mut().write(|db| {
            let mut former = former_homes(db)?;
            former.retain(|r| *r != new);
            former.push(old.clone());
            db.set_setting(keys::FORMER_HOME_RELAYS, former.join("\n").as_bytes())?;
            db.set_setting(keys::HOME_RELAY, new.as_bytes())?;
            match access_token {
                Some(token) => db.set_setting(keys::HOME_RELAY_TOKEN, token.as_bytes())?,
                None => db.delete_setting(keys::HOME_RELAY_TOKEN)?,
            }
            // The home relay is not also an extra relay.
            db.remove_extra_relay(&new)?;
            Ok::<_, ClientError>(db.conversations_on(&old)?)
        })?;
        self.home_relay = relay.clone();
        Ok(moving)
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
    use crate::testing::{carry_invite, new_client, pair, pump, retired_mailboxes, settle};

    /// An invite made before send-locked mailboxes (its conversation mailbox
    /// open, without a key) still completes: the conversation stays on the
    /// invite's mailbox, is due to move to a locked one, and the unused open
    /// mailbox is retired.
    #[test]
    fn an_invite_from_before_send_locks_still_completes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut alice = new_client(&tmp.path().join("a"), "Alice");
        let mut bob = new_client(&tmp.path().join("b"), "Bob");
        let (mb, conversation) = (alice.mint_invite_mailbox_on(None), alice.mint_mailbox());
        let created = alice.create_invite(&mb, &conversation, 1_000).unwrap();
        alice
            .store_mut()
            .write(|db| db.drop_send_lock_for_tests(&conversation.id.0))
            .unwrap();
        let invite = carry_invite(&bob, &created, 2_000).unwrap();
        bob.accept_invite(&invite, "alice", &bob.mint_mailbox(), 2_000)
            .unwrap();
        pump(&mut bob, &mut alice, 3_000);
        let contact = alice.contacts().unwrap().remove(0);
        assert_eq!(contact.my_mailbox, mb.id.0);
        assert_eq!(
            alice.conversations_to_move().unwrap(),
            vec![(contact.id, mb.relay.clone())]
        );
        let mut retired = retired_mailboxes(&alice);
        retired.sort();
        let mut expected = vec![conversation.id.0, created.1.mailbox.id.0];
        expected.sort();
        assert_eq!(
            retired, expected,
            "the unused open mailbox and the link mailbox"
        );
    }

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
        assert!(alice.conversations_to_move().unwrap().is_empty());
        alice
            .store_mut()
            .write(|db| db.drop_send_lock_for_tests(&old))
            .unwrap();
        let open = alice.conversations_to_move().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].0, to_bob);

        let new = alice.mint_mailbox_on(Some(open[0].1.clone()));
        alice.move_my_mailbox(to_bob, &new, t).unwrap();
        assert!(
            alice.conversations_to_move().unwrap().is_empty(),
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
        let retired = retired_mailboxes(&alice);
        assert!(retired.contains(&old), "{retired:?}");
    }
}
