//! Invites over the network: a new invite's sealed copy is published at the
//! relay before its short link is handed out, and an acceptor fetches it
//! before the handshake (PROTOCOL.md §7.1).

use cairn_protocol::invite::{Invite, InviteLink, InviteText};

use super::super::{MessengerError, Op, Reply, dial};
use super::{Engine, Then};
use crate::client::{CreatedInvite, InvitePublication};
use crate::store::Contact;

/// A step of the invite flows that ran off the engine, back with its result.
pub(crate) enum InviteStep {
    /// The sealed invite of `created` is at the relay (or not).
    Published {
        id: [u8; 32],
        created: CreatedInvite,
        result: Result<(), MessengerError>,
        reply: Reply<CreatedInvite>,
    },
    /// What the link mailbox of `link` held: the sealed invite, or nothing.
    Fetched {
        link: InviteLink,
        result: Result<Option<Vec<u8>>, MessengerError>,
        name: String,
        reply: Reply<Contact>,
    },
}

impl Engine {
    /// The invite's mailboxes exist: make the invite, then publish its sealed
    /// copy; the link is handed out only once that is stored.
    pub(super) fn invite_made(
        &mut self,
        made: Result<(CreatedInvite, InvitePublication), MessengerError>,
        reply: Reply<CreatedInvite>,
    ) {
        let (created, publication) = match made {
            Ok(made) => made,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let id = created.id;
        let home = self.client.home_relay().clone();
        let token = self
            .token
            .clone()
            .filter(|_| publication.mailbox.relay == home);
        let options = self.config.dial.clone();
        let ops = self.ops.clone();
        tokio::spawn(async move {
            let result = dial::publish_invite(&publication, token.as_deref(), &options)
                .await
                .map_err(MessengerError::from);
            let step = InviteStep::Published {
                id,
                created,
                result,
                reply,
            };
            let _ = ops.send(Op::Invite(Box::new(step)));
        });
    }

    /// Accepting `text`: a full invite goes straight to the handshake, a
    /// short link fetches its sealed invite first.
    pub(super) fn accept(&mut self, text: &str, name: String, reply: Reply<Contact>) {
        match self.client.parse_invite(text.trim(), self.now()) {
            Ok(InviteText::Full(invite)) => self.accept_checked(invite, name, reply),
            Ok(InviteText::Link(link)) => {
                let options = self.config.dial.clone();
                let ops = self.ops.clone();
                tokio::spawn(async move {
                    let result = dial::fetch_invite(&link, &options)
                        .await
                        .map_err(MessengerError::from);
                    let step = InviteStep::Fetched {
                        link,
                        result,
                        name,
                        reply,
                    };
                    let _ = ops.send(Op::Invite(Box::new(step)));
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    /// A checked invite: a reply mailbox on our home relay, then the handshake.
    fn accept_checked(&mut self, invite: Invite, name: String, reply: Reply<Contact>) {
        let mailbox = self.client.mint_mailbox();
        let then = Then::Accept {
            invite: Box::new(invite),
            name,
            reply,
        };
        self.create_then(vec![mailbox], then);
    }

    pub(super) fn invite_step(&mut self, step: InviteStep) {
        match step {
            InviteStep::Published {
                id,
                created,
                result,
                reply,
            } => {
                if let Err(e) = result {
                    // A link nobody can open must not stay open.
                    if let Err(revoke) = self.client.revoke_invite(&id, self.now()) {
                        self.emit(super::MessengerEvent::ReceiveFailed(revoke));
                    }
                    let _ = reply.send(Err(e));
                    self.tidy();
                    return;
                }
                let _ = reply.send(Ok(created));
            }
            InviteStep::Fetched {
                link,
                result,
                name,
                reply,
            } => {
                let opened = match result {
                    Ok(Some(envelope)) => self
                        .client
                        .open_invite_link(&link, &envelope, self.now())
                        .map_err(MessengerError::from),
                    Ok(None) => Err(MessengerError::InviteGone {
                        relay: link.relay().to_string(),
                    }),
                    Err(e) => Err(e),
                };
                match opened {
                    Ok(invite) => self.accept_checked(invite, name, reply),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
    }
}
