//! Restoring a backup: every session renews before the profile sends anything.
//!
//! A backup holds the ratchet states as they were when it was made; the
//! original device may have sent from those chain positions since. So the
//! restore renews every session — a fresh DH step and the signed notice
//! *session restored* (PROTOCOL.md §2, §9.3, §10.2, §11) — sealed into the
//! outbox in the same transaction, before the directory becomes a profile
//! ([`crate::profile::Profile::import_with`]). Anything sent later follows
//! the notice in the new chain.

use cairn_protocol::session::Session;

use super::ClientResult;
use super::send::queue_sealed;
use crate::store::Store;

/// Renews every session of a restored database and queues each notice;
/// returns how many sessions were renewed. One transaction: all or nothing.
pub(super) fn renew_sessions(store: &mut Store, now_ms: u64) -> ClientResult<usize> {
    store.write(|db| {
        let identity = super::stored_identity(db)?;
        let mut renewed = 0;
        for contact in db.contacts()? {
            let Some(bytes) = db.session(contact.id)? else {
                continue;
            };
            let mut session = Session::from_bytes(&bytes)?;
            let notice = session.renew_after_restore(&identity, now_ms, &mut rand::rng())?;
            queue_sealed(db, &contact, &notice, None, now_ms)?;
            db.put_session(contact.id, &session.to_bytes(), now_ms)?;
            renewed += 1;
        }
        Ok(renewed)
    })
}
