//! Making contact: invites (inviter side) and accepting them (acceptor side).
//!
//! Both sides first mint a fresh mailbox, which the caller registers on the
//! relay before calling in here: the relay must know a mailbox before anyone
//! can send to it. One mailbox per contact keeps conversations unlinkable at
//! the relay.

use cairn_protocol::envelope::MailboxId;
use cairn_protocol::frames::SendKey;
use cairn_protocol::handshake::{AcceptorReply, accept_invite};
use cairn_protocol::invite::{Invite, InviteLink, InviteText};
use cairn_protocol::relay_address::RelayAddress;
use cairn_protocol::safety_number::SafetyNumber;
use rand::Rng;
use zeroize::Zeroizing;

use super::names::look_alike_notice;
use super::relays::check_remote_relay;
use super::{Client, ClientError, ClientResult, validate_name};
use crate::store::{
    Contact, Db, EventKind, MailboxRecord, NewContact, NewOutboxItem, PendingInviteRecord,
};

/// Default invite lifetime.
pub const INVITE_TTL_SECS: u64 = 7 * 24 * 3600;

/// A freshly minted mailbox, not yet stored: register it on `relay`, then pass it back.
pub struct NewMailbox {
    /// Random mailbox id.
    pub id: MailboxId,
    /// Relay it lives on (our home relay).
    pub relay: RelayAddress,
    /// Seed of the Ed25519 key that proves ownership to the relay. Secret.
    pub auth_seed: Zeroizing<[u8; 32]>,
    /// For a conversation mailbox, the key that opens it for sending: it is
    /// created send-locked and only the contact learns the key (PROTOCOL.md
    /// §18.3). `None` for an invite mailbox, which anyone with the link may
    /// write to. Secret.
    pub send_key: Option<SendKey>,
}

impl NewMailbox {
    /// Records the mailbox (registered at its relay by now) as ours.
    pub(super) fn store(&self, db: &Db<'_>, now_ms: u64) -> ClientResult<()> {
        Ok(db.add_mailbox(
            &self.id.0,
            &self.relay.to_string(),
            self.auth_seed.as_ref(),
            self.send_key.as_ref(),
            now_ms,
        )?)
    }
}

impl std::fmt::Debug for NewMailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMailbox")
            .field("id", &self.id)
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

/// An invite we created.
#[derive(Debug, Clone)]
pub struct CreatedInvite {
    /// Invite id (names it for [`Client::revoke_invite`]).
    pub id: [u8; 32],
    /// The short `cairn:` link to hand to the other person (PROTOCOL.md §7.1).
    pub uri: String,
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
}

/// What must reach the relay before a new invite's link works: its sealed
/// invite, in the link mailbox the link derives (PROTOCOL.md §7.1).
pub struct InvitePublication {
    /// The link mailbox (recorded as ours, retired from the start: nobody
    /// reads it but acceptors, and it is deleted at the relay once the invite
    /// is used, withdrawn or expired).
    pub mailbox: NewMailbox,
    /// Its send key, used once for the sealed invite and then dropped, so
    /// nothing else can ever be stored there. Secret.
    pub send_key: SendKey,
    /// The sealed invite (a kind-3 envelope).
    pub envelope: bytes::Bytes,
}

impl std::fmt::Debug for InvitePublication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitePublication")
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

/// An invite of ours that nobody has used yet and that has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvite {
    /// Invite id (names it for [`Client::revoke_invite`]).
    pub id: [u8; 32],
    /// The `cairn:` link, to show again.
    pub uri: String,
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
}

impl Client {
    /// Mints a send-locked conversation mailbox on our home relay (random
    /// id, auth key and send key; nothing stored yet).
    pub fn mint_mailbox(&self) -> NewMailbox {
        self.mint_mailbox_on(None)
    }

    /// Mints a send-locked conversation mailbox on `relay`, or on the home
    /// relay if `None`.
    pub fn mint_mailbox_on(&self, relay: Option<RelayAddress>) -> NewMailbox {
        let mut mailbox = self.mint_invite_mailbox_on(relay);
        mailbox.send_key = Some(SendKey::generate(&mut rand::rng()));
        mailbox
    }

    /// Mints an open mailbox for an invite on `relay` (or the home relay):
    /// whoever holds the link may write the handshake to it.
    pub fn mint_invite_mailbox_on(&self, relay: Option<RelayAddress>) -> NewMailbox {
        let mut rng = rand::rng();
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        NewMailbox {
            id: MailboxId(id),
            relay: relay.unwrap_or_else(|| self.home_relay.clone()),
            auth_seed: seed,
            send_key: None,
        }
    }

    /// Inviter: creates an invite on `mailbox`, with `conversation` the fresh
    /// mailbox the conversation moves to when the handshake arrives (both
    /// already registered on their relay; PROTOCOL.md §8.2, §10.4). The
    /// invite's mailbox is then only a way to *start* the conversation.
    ///
    /// The link handed out is the short one (§7.1): publish the returned
    /// [`InvitePublication`] at the relay before showing it.
    pub fn create_invite(
        &mut self,
        mailbox: &NewMailbox,
        conversation: &NewMailbox,
        now_ms: u64,
    ) -> ClientResult<(CreatedInvite, InvitePublication)> {
        if conversation.send_key.is_none() {
            return Err(ClientError::OpenConversationMailbox);
        }
        let expires_at = now_ms / 1000 + INVITE_TTL_SECS;
        let mut rng = rand::rng();
        let (invite, pending) = Invite::create(
            &self.identity,
            mailbox.relay.clone(),
            mailbox.id,
            expires_at,
            &mut rng,
        );
        let (link, envelope) = InviteLink::seal(&invite, &mut rng)?;
        let keys = link.keys();
        let publication = InvitePublication {
            mailbox: NewMailbox {
                id: keys.mailbox,
                relay: mailbox.relay.clone(),
                auth_seed: keys.auth_seed,
                send_key: None,
            },
            send_key: SendKey::generate(&mut rng),
            envelope: envelope.into(),
        };
        let record = PendingInviteRecord {
            id: invite.id(),
            mailbox: mailbox.id.0,
            conversation_mailbox: Some(conversation.id.0),
            link_mailbox: Some(keys.mailbox.0),
            pending: pending.to_bytes(),
            uri: link.to_uri(),
            expires_at,
        };
        self.store_mut().write(|db| {
            for m in [mailbox, conversation, &publication.mailbox] {
                m.store(db, now_ms)?;
            }
            // Never read by us: only kept to delete it at the relay later.
            db.retire_mailbox(&keys.mailbox.0, now_ms)?;
            Ok::<_, ClientError>(db.add_pending_invite(&record, now_ms)?)
        })?;
        let created = CreatedInvite {
            id: record.id,
            uri: record.uri,
            expires_at,
        };
        Ok((created, publication))
    }

    /// Parses an invite text before any network work. A full invite
    /// (§7) is checked completely ([`Client::check_invite`]); a short link
    /// (§7.1) only for its relay, and its invite once fetched
    /// ([`Client::open_invite_link`]).
    pub fn parse_invite(&self, uri: &str, now_ms: u64) -> ClientResult<InviteText> {
        match InviteText::parse(uri, now_ms / 1000)? {
            InviteText::Full(invite) => self.check_invite(invite).map(InviteText::Full),
            InviteText::Link(link) => {
                check_remote_relay(&self.store().read(), link.relay())?;
                Ok(InviteText::Link(link))
            }
        }
    }

    /// Opens the sealed invite fetched for `link` and checks it at `now_ms`.
    pub fn open_invite_link(
        &self,
        link: &InviteLink,
        envelope: &[u8],
        now_ms: u64,
    ) -> ClientResult<Invite> {
        self.check_invite(link.open(envelope, now_ms / 1000)?)
    }

    /// Not our own invite, and its relay allowed (not plain `ws://` off
    /// loopback, not on a private network unless allowed: [`check_remote_relay`]).
    /// Signature and expiry were checked when it was decoded.
    fn check_invite(&self, invite: Invite) -> ClientResult<Invite> {
        if invite.identity() == self.identity.public() {
            return Err(ClientError::OwnInvite);
        }
        check_remote_relay(&self.store().read(), invite.relay())?;
        Ok(invite)
    }

    /// Acceptor: runs the handshake against `invite`, naming the inviter `name`.
    ///
    /// `reply_mailbox` is where the inviter will send to us (already registered
    /// on its relay). Stores contact, session, mailbox and the handshake
    /// envelope (in the outbox) in one transaction.
    pub fn accept_invite(
        &mut self,
        invite: &Invite,
        name: &str,
        reply_mailbox: &NewMailbox,
        now_ms: u64,
    ) -> ClientResult<Contact> {
        let name = validate_name(name)?;
        check_remote_relay(&self.store().read(), invite.relay())?;
        let send_key = reply_mailbox
            .send_key
            .clone()
            .ok_or(ClientError::OpenConversationMailbox)?;
        let accepted = accept_invite(
            invite,
            &self.identity,
            AcceptorReply {
                relay: reply_mailbox.relay.clone(),
                mailbox: reply_mailbox.id,
                send_key,
                name: self.name.clone(),
            },
            now_ms / 1000,
            &mut rand::rng(),
        )?;
        let safety = SafetyNumber::new(&self.identity.public(), &invite.identity());
        let peer = invite.identity().to_bytes();
        let their_relay = invite.relay().to_string();
        let session = accepted.session.to_bytes();
        let contact = self.store_mut().write(|db| {
            if !db.mark_invite_accepted(&invite.id(), now_ms)? {
                return Err(ClientError::InviteAlreadyAccepted);
            }
            if db.contact_name_taken(&name)? {
                return Err(ClientError::NameTaken(name.clone()));
            }
            reply_mailbox.store(db, now_ms)?;
            db.ensure_relay(&their_relay, now_ms)?;
            let id = db.add_contact(
                &NewContact {
                    name: &name,
                    identity: &peer,
                    relay: &their_relay,
                    their_mailbox: &invite.mailbox().0,
                    my_mailbox: &reply_mailbox.id.0,
                    safety_number: safety.digits(),
                    // Until the inviter's first message: someone else may have
                    // used the invite first (PROTOCOL.md §8.2).
                    confirmed: false,
                },
                now_ms,
            )?;
            if let Some(detail) = look_alike_notice(db, id, &name)? {
                db.add_event(Some(id), EventKind::LookAlikeName, &detail, now_ms)?;
            }
            db.put_session(id, &session, now_ms)?;
            db.enqueue(
                &NewOutboxItem {
                    envelope_id: accepted.message_id.0,
                    relay: &their_relay,
                    mailbox: invite.mailbox().0,
                    envelope: &accepted.envelope,
                    message_id: None,
                },
                now_ms,
            )?;
            Ok(db.contact(id)?)
        })?;
        self.sessions.insert(contact.id, accepted.session);
        Ok(contact)
    }

    /// Our invites still waiting to be used, oldest first (expired ones are
    /// left out even before housekeeping removes them).
    pub fn open_invites(&self, now_ms: u64) -> ClientResult<Vec<OpenInvite>> {
        let now_secs = now_ms / 1000;
        Ok(self
            .store()
            .read()
            .pending_invites()?
            .into_iter()
            .filter(|i| i.expires_at >= now_secs)
            .map(|i| OpenInvite {
                id: i.id,
                uri: i.uri,
                expires_at: i.expires_at,
            })
            .collect())
    }

    /// Withdraws an invite nobody has used yet: its keys are deleted and its
    /// mailboxes retired (deleted at the relay by housekeeping), so a
    /// handshake sent with the link is never answered. False if `id` was not
    /// open (used, expired or revoked already).
    pub fn revoke_invite(&mut self, id: &[u8; 32], now_ms: u64) -> ClientResult<bool> {
        Ok(self.store_mut().write(|db| db.revoke_invite(id, now_ms))?)
    }

    /// Drops invites past their expiry (nobody can complete them any more)
    /// and retires their mailboxes if nothing else uses them. Returns how
    /// many were dropped. Part of [`Client::housekeeping`], which the messenger
    /// runs regularly.
    pub fn expire_invites(&mut self, now_ms: u64) -> ClientResult<usize> {
        Ok(self
            .store_mut()
            .write(|db| db.remove_expired_invites(now_ms / 1000, now_ms))?)
    }

    /// Retired mailboxes nothing uses any more: delete them at their relay,
    /// then call [`Client::mailbox_deleted`].
    pub fn mailboxes_to_delete(&self) -> ClientResult<Vec<MailboxRecord>> {
        Ok(self.store().read().unused_retired_mailboxes()?)
    }

    /// The relay deleted mailbox `id`: forget it (and its auth key) locally.
    pub fn mailbox_deleted(&mut self, id: &[u8; 32]) -> ClientResult<()> {
        Ok(self.store_mut().write(|db| db.forget_mailbox(id))?)
    }
}
