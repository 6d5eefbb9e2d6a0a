//! Forgetting what has outlived its use: expired invites, old seen-envelope
//! ids (and, with them, anything a stranger could make the profile grow by),
//! skipped message keys past their 30 days, old mailboxes of moves no
//! confirmation came for, and the send keys of contacts' old mailboxes.

use super::sessions::{persist, session_mut};
use super::{Client, ClientResult};
use crate::store::EventKind;

/// How long the id of a processed envelope is remembered, so that a relay's
/// redelivery of it is acked and not processed again: 30 days.
///
/// A relay keeps an unacknowledged envelope at most its `--message-ttl`
/// (default 21 days, PROTOCOL.md §18.4) after storing it, and we record an id
/// only after the relay stored and delivered it, so after 21 days no relay
/// with the default settings can deliver it again; 30 days leaves room for
/// relays configured longer and for clock differences. Older ids are
/// deleted, so the table is bounded by what arrives in 30 days. A replay of
/// an older envelope is still refused by the ratchet (its key is gone: §9.4).
pub const SEEN_ENVELOPE_RETENTION_MS: u64 = 30 * 24 * 3600 * 1000;

/// How long an old mailbox is still read after we moved (PROTOCOL.md §10.4)
/// when the contact never confirms the move: 30 days, like the longest a
/// relay keeps an envelope for it (with room for longer relay settings).
pub const MOVE_CONFIRMATION_WAIT_MS: u64 = 30 * 24 * 3600 * 1000;

/// How long an old mailbox is still read after the contact confirmed the
/// move: what the relay still held for it arrives within seconds of being
/// online; ten minutes leaves room for a slow start.
pub const MOVE_GRACE_MS: u64 = 10 * 60 * 1000;

/// What one [`Client::housekeeping`] pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Housekeeping {
    /// Invites past their expiry.
    pub invites: usize,
    /// Seen-envelope ids older than [`SEEN_ENVELOPE_RETENTION_MS`].
    pub seen_envelopes: usize,
    /// Skipped message keys older than [`SKIPPED_KEY_TTL_MS`](cairn_protocol::ratchet::SKIPPED_KEY_TTL_MS), over all conversations.
    pub skipped_keys: usize,
    /// Moves ended: old mailboxes retired after a confirmation and
    /// [`MOVE_GRACE_MS`], or after [`MOVE_CONFIRMATION_WAIT_MS`] without one.
    pub moves: usize,
}

impl Client {
    /// Drops what nobody can use any more, in one transaction: invites past
    /// their expiry (see [`Client::expire_invites`]), seen-envelope ids
    /// older than [`SEEN_ENVELOPE_RETENTION_MS`], and skipped message keys
    /// older than [`SKIPPED_KEY_TTL_MS`](cairn_protocol::ratchet::SKIPPED_KEY_TTL_MS) in every conversation (also those
    /// that receive nothing, where decrypting would never discard them).
    /// `now_ms` is the caller's clock; the messenger runs this every minute.
    pub fn housekeeping(&mut self, now_ms: u64) -> ClientResult<Housekeeping> {
        self.write_with_sessions(|db, _, sessions| {
            let mut changed = Vec::new();
            let mut done = Housekeeping {
                invites: db.remove_expired_invites(now_ms / 1000, now_ms)?,
                seen_envelopes: db.prune_seen(now_ms.saturating_sub(SEEN_ENVELOPE_RETENTION_MS))?,
                skipped_keys: 0,
                moves: 0,
            };
            let ended = db.finish_moves_out(
                now_ms.saturating_sub(MOVE_GRACE_MS),
                now_ms.saturating_sub(MOVE_CONFIRMATION_WAIT_MS),
                now_ms,
            )?;
            done.moves = ended.len();
            for id in ended {
                let contact = db.contact(id)?;
                let session = session_mut(sessions, db, &contact)?;
                session.forget_old_mailbox();
                // Gaps were not reported while messages came through two
                // mailboxes: what is still missing now is.
                let missing = session.missing_counters();
                if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
                    let detail = if first == last {
                        format!("message {first} is missing")
                    } else {
                        format!(
                            "{} messages between {first} and {last} are missing",
                            missing.len()
                        )
                    };
                    db.add_event(Some(id), EventKind::Gap, &detail, now_ms)?;
                }
                changed.push(id);
            }
            for contact in db.contacts()? {
                let discarded = session_mut(sessions, db, &contact)?.expire_skipped_keys(now_ms);
                if discarded > 0 {
                    done.skipped_keys += discarded;
                    changed.push(contact.id);
                }
            }
            persist(sessions, db, &changed, now_ms)?;
            // Keys of contacts' old mailboxes, once nothing is owed there.
            db.prune_send_keys()?;
            Ok(done)
        })
    }
}
