//! Forgetting what has outlived its use: expired invites, old seen-envelope
//! ids (and, with them, anything a stranger could make the profile grow by).

use super::{Client, ClientResult};

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

/// What one [`Client::housekeeping`] pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Housekeeping {
    /// Invites past their expiry.
    pub invites: usize,
    /// Seen-envelope ids older than [`SEEN_ENVELOPE_RETENTION_MS`].
    pub seen_envelopes: usize,
}

impl Client {
    /// Drops what nobody can use any more, in one transaction: invites past
    /// their expiry (see [`Client::expire_invites`]) and seen-envelope ids
    /// older than [`SEEN_ENVELOPE_RETENTION_MS`]. `now_ms` is the caller's
    /// clock; [`crate::net::Syncer::sync`] runs this every round.
    pub fn housekeeping(&mut self, now_ms: u64) -> ClientResult<Housekeeping> {
        Ok(self.store_mut().write(|db| {
            Ok::<_, crate::store::StoreError>(Housekeeping {
                invites: db.remove_expired_invites(now_ms / 1000, now_ms)?,
                seen_envelopes: db.prune_seen(now_ms.saturating_sub(SEEN_ENVELOPE_RETENTION_MS))?,
            })
        })?)
    }
}
