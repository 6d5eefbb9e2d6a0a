//! Inviter side: a handshake envelope arrives on an invite mailbox.

use cairn_protocol::envelope::Envelope;
use cairn_protocol::invite::PendingInvite;
use cairn_protocol::safety_number::SafetyNumber;

use cairn_protocol::content::Content;
use cairn_protocol::envelope::MailboxId;
use cairn_protocol::frames::SendKey;
use cairn_protocol::relay_address::RelayAddress;

use super::ClientResult;
use super::events::ClientEvent;
use super::names::{look_alike_notice, sanitize_remote_name};
use super::receive::Batch;
use super::relays::check_remote_relay;
use crate::store::{EventKind, NewContact, StoreError};

/// Completes the handshake against the open invite on this mailbox, adding the contact.
pub(super) fn complete(batch: &mut Batch<'_, '_, '_>, env: &Envelope<'_>) -> ClientResult<()> {
    let now_s = batch.now_ms / 1000;
    let invites = batch.db.pending_invites_for(&env.mailbox.0)?;
    let Some(record) = invites.into_iter().next() else {
        return batch.reject(None, "handshake for an invite that is used up or unknown");
    };
    let Ok(pending) = PendingInvite::from_bytes(&record.pending) else {
        return batch.reject(None, "stored invite is unreadable");
    };
    let done = match pending.complete(batch.identity, env, now_s) {
        Ok(done) => done,
        Err(e) => return batch.reject(None, &format!("handshake rejected: {e}")),
    };
    if let Err(refused) = check_remote_relay(batch.db, &done.relay) {
        // Our replies would go unencrypted to a remote host, or to a host on
        // our own network: refuse the contact; the invite stays open.
        return batch.reject(None, &format!("handshake refused: {refused}"));
    }
    // The acceptor chose this name: invisible and control characters are
    // dropped (PROTOCOL.md §8.2), and a look-alike of a contact's name is flagged.
    let proposed = sanitize_remote_name(&done.name).unwrap_or_else(|| "contact".to_owned());
    let name = unique_name(batch, &proposed)?;
    let safety = SafetyNumber::new(&batch.identity.public(), &done.peer);
    let relay = done.relay.to_string();
    batch.db.ensure_relay(&relay, batch.now_ms)?;
    // Everything to the acceptor goes out with the key of its reply mailbox.
    batch
        .db
        .set_send_key(&done.mailbox.0, &done.send_key, batch.now_ms)?;
    // The conversation moves off the invite's mailbox at once (§10.4): whoever
    // else has the link can no longer write into it.
    let conversation = match record.conversation_mailbox {
        Some(m) => conversation_mailbox(batch, &m)?.map(|at| (m, at)),
        None => None,
    };
    let id = batch.db.add_contact(
        &NewContact {
            name: &name,
            identity: &done.peer.to_bytes(),
            relay: &relay,
            their_mailbox: &done.mailbox.0,
            my_mailbox: conversation.as_ref().map_or(&record.mailbox, |(m, _)| m),
            safety_number: safety.digits(),
            confirmed: true,
        },
        batch.now_ms,
    )?;
    // Consumed with the session in one transaction: a replayed handshake finds no invite.
    batch.db.remove_pending_invite(&record.id)?;
    batch.sessions.insert(id, done.session);
    batch.touched.insert(id);
    if let Some((mailbox, (at, send_key))) = conversation {
        batch.db.add_move_out(id, &record.mailbox, batch.now_ms)?;
        let contact = batch.db.contact(id)?;
        let content = Content::MailboxMove {
            relay: at,
            mailbox: MailboxId(mailbox),
            send_key,
        };
        let session = batch
            .sessions
            .get_mut(&id)
            .ok_or(StoreError::Malformed("session just stored"))?;
        session.move_my_mailbox(MailboxId(mailbox));
        super::send::seal_and_queue(
            batch.db,
            batch.identity,
            session,
            &contact,
            &content,
            batch.now_ms,
        )?;
    }
    batch.invalidate_contacts();
    let contact = batch.db.contact(id)?;
    let notice = look_alike_notice(batch.db, id, &proposed)?;
    batch.report.events.push(ClientEvent::ContactAdded {
        contact: contact.clone(),
    });
    if let Some(detail) = notice {
        batch.event(Some(&contact), EventKind::LookAlikeName, &detail)?;
    }
    Ok(())
}

/// The relay our conversation mailbox lives on and the key that opens it.
/// `None` for an invite made before send-locked mailboxes: its conversation
/// mailbox is open and no lock can be added to it, so it is retired unused
/// and the conversation stays on the invite's mailbox for now (also open);
/// the messenger then moves it to a locked one like any open mailbox.
fn conversation_mailbox(
    batch: &Batch<'_, '_, '_>,
    mailbox: &[u8; 32],
) -> ClientResult<Option<(RelayAddress, SendKey)>> {
    let record = batch.db.mailbox(mailbox)?;
    let Some(key) = record.send_key else {
        batch.db.retire_mailbox(mailbox, batch.now_ms)?;
        return Ok(None);
    };
    Ok(Some((record.relay.parse()?, key)))
}

/// The acceptor's chosen (sanitized) name, made unique among our contacts.
fn unique_name(batch: &Batch<'_, '_, '_>, base: &str) -> ClientResult<String> {
    let base = base.to_owned();
    if !batch.db.contact_name_taken(&base)? {
        return Ok(base);
    }
    for n in 2.. {
        let candidate = format!("{base} ({n})");
        if !batch.db.contact_name_taken(&candidate)? {
            return Ok(candidate);
        }
    }
    Ok(base)
}
