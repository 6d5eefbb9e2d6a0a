//! The in-memory session cache.
//!
//! Sessions are decoded once and kept, so a batch of a thousand messages
//! decodes and re-encodes each session once, not a thousand times. The cache
//! is only ever ahead of the database inside a write transaction; if that
//! transaction fails, the caller drops the cache so the next use reloads the
//! committed state.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use cairn_protocol::identity::Identity;
use cairn_protocol::session::Session;

use super::{ClientError, ClientResult};
use crate::store::{Contact, ContactId, Db};

/// Decoded sessions by contact.
pub(crate) type SessionCache = HashMap<ContactId, Session>;

/// The session for `contact`, loading it from `db` on first use.
pub(crate) fn session_mut<'s>(
    cache: &'s mut SessionCache,
    db: &Db<'_>,
    contact: &Contact,
) -> ClientResult<&'s mut Session> {
    match cache.entry(contact.id) {
        Entry::Occupied(e) => Ok(e.into_mut()),
        Entry::Vacant(v) => {
            let bytes = db
                .session(contact.id)?
                .ok_or_else(|| ClientError::NoSession(contact.name.clone()))?;
            Ok(v.insert(Session::from_bytes(&bytes)?))
        }
    }
}

/// Writes the sessions of `contacts` from the cache into the open transaction.
pub(crate) fn persist<'c>(
    cache: &SessionCache,
    db: &Db<'_>,
    contacts: impl IntoIterator<Item = &'c ContactId>,
    now_ms: u64,
) -> ClientResult<()> {
    for id in contacts {
        if let Some(session) = cache.get(id) {
            db.put_session(*id, &session.to_bytes(), now_ms)?;
        }
    }
    Ok(())
}

impl super::Client {
    /// Runs `f` in one write transaction with our identity and the session
    /// cache, the pattern behind every command that advances a ratchet
    /// (send, read receipts, receive, identity rotation). If it fails, the
    /// cache may be ahead of what was committed, so it is dropped and the next
    /// use reloads the committed sessions.
    pub(super) fn write_with_sessions<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>, &Identity, &mut SessionCache) -> ClientResult<T>,
    ) -> ClientResult<T> {
        let super::Client {
            profile,
            identity,
            sessions,
            ..
        } = self;
        let result = profile
            .store_mut()
            .write(|db| f(db, identity, &mut *sessions));
        if result.is_err() {
            self.sessions.clear();
        }
        result
    }
}
