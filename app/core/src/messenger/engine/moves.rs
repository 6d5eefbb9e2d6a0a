//! Moving conversations to other mailboxes (PROTOCOL.md §10.4): those on a
//! former home relay or on an open mailbox, found at every tidy, and all of
//! the home relay's when the user changes it.

use cairn_protocol::relay_address::RelayAddress;

use super::super::{MessengerError, MessengerEvent, NetError, Op, Reply, dial};
use super::{Engine, Then};
use crate::client::NewMailbox;
use crate::store::ContactId;

/// A home relay change whose new mailboxes were created (or not).
pub(crate) struct HomeReady {
    relay: RelayAddress,
    token: Option<String>,
    moves: Vec<(ContactId, NewMailbox)>,
    result: Result<(), NetError>,
    reply: Reply<usize>,
}

impl Engine {
    /// Conversations on a former home relay move to the home relay, and
    /// those from before send-locked mailboxes to a locked one (PROTOCOL.md
    /// §10.4, §19): a fresh mailbox where they go, then the move.
    pub(super) fn move_conversations(&mut self) {
        let Ok(due) = self.client.conversations_to_move() else {
            return;
        };
        for (contact, relay) in due {
            if self.locking.insert(contact) {
                let mailbox = self.client.mint_mailbox_on(Some(relay));
                self.create_then(vec![mailbox], Then::Move(contact));
            }
        }
    }

    /// `mailbox` exists at its relay: the conversation with `contact` moves
    /// there (the move is queued; the caller pumps).
    pub(super) fn move_to(&mut self, contact: ContactId, mailbox: &NewMailbox, now: u64) {
        self.locking.remove(&contact);
        match self.client.move_my_mailbox(contact, mailbox, now) {
            Ok(()) => self.subscribe(mailbox),
            Err(e) => self.emit(MessengerEvent::ReceiveFailed(e)),
        }
    }

    /// Creates, at `relay`, a mailbox for every conversation that can move
    /// now from the current home relay (each on a connection of its own,
    /// with `token`), or only checks `relay` if none can; then
    /// [`Engine::home_ready`] makes the change.
    pub(super) fn change_home(
        &mut self,
        relay: RelayAddress,
        token: Option<String>,
        reply: Reply<usize>,
    ) {
        let home = self.client.home_relay().clone();
        let movable = match self.client.movable_conversations_on(&home) {
            Ok(m) => m,
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return;
            }
        };
        let moves: Vec<(ContactId, NewMailbox)> = movable
            .into_iter()
            .filter(|c| self.locking.insert(*c))
            .map(|c| (c, self.client.mint_mailbox_on(Some(relay.clone()))))
            .collect();
        let options = self.config.dial.clone();
        let ops = self.ops.clone();
        tokio::spawn(async move {
            // Creating the mailboxes proves the relay (pin, token); with
            // none to create, a connection that hangs up at once does.
            let mut result = if moves.is_empty() {
                dial::probe(&relay, &options).await
            } else {
                Ok(())
            };
            for (_, mailbox) in &moves {
                if result.is_err() {
                    break;
                }
                result = dial::create_mailbox(mailbox, token.as_deref(), &options).await;
            }
            let ready = HomeReady {
                relay,
                token,
                moves,
                result,
                reply,
            };
            let _ = ops.send(Op::HomeReady(Box::new(ready)));
        });
    }

    /// The new home relay holds the new mailboxes: switch, move each
    /// conversation, send. On failure nothing has changed.
    pub(super) fn home_ready(&mut self, ready: HomeReady) {
        let HomeReady {
            relay,
            token,
            moves,
            result,
            reply,
        } = ready;
        for (contact, _) in &moves {
            self.locking.remove(contact);
        }
        let changed = result
            .map_err(MessengerError::from)
            .and_then(|()| Ok(self.client.change_home_relay(&relay, token.as_deref())?));
        if changed.is_ok() {
            self.token = token;
            let now = self.now();
            for (contact, mailbox) in &moves {
                self.move_to(*contact, mailbox, now);
            }
            self.pump();
        }
        let _ = reply.send(changed);
    }
}
