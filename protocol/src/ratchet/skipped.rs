//! Message keys kept for messages that have not arrived yet (out-of-order
//! delivery), and a record of the ones given up on.
//!
//! The limits (PROTOCOL.md §9.7, §16), all per conversation:
//! - one message may make the receiver derive and store at most [`MAX_SKIP`]
//!   keys in total — the rest of the previous receiving chain *plus* the
//!   start of the new one;
//! - at most [`MAX_STORED_KEYS`] keys are stored, counted together over every
//!   chain; beyond that the oldest are discarded first;
//! - a key is discarded [`SKIPPED_KEY_TTL_MS`] after it was stored.
//!
//! A key is deleted the moment it is used. A discarded key (evicted or
//! expired) leaves a small record — its chain's header key, its number and
//! the sender's counter of the message it was for, never the key — so that
//! the message, should it still arrive, is reported as lost
//! ([`super::RatchetError::KeyDiscarded`]) rather than mistaken for a
//! replay. At most [`MAX_DISCARDED_RANGES`] runs of consecutive numbers are
//! recorded; older records are forgotten.

use std::collections::VecDeque;

use super::kdf::Key;

/// Most keys one message may cause to be derived and stored, over both chains.
pub const MAX_SKIP: u32 = 2000;
/// Most skipped keys stored per conversation, over all chains.
pub const MAX_STORED_KEYS: usize = 2000;
/// How long a skipped key is kept: 30 days.
pub const SKIPPED_KEY_TTL_MS: u64 = 30 * 24 * 3600 * 1000;
/// Most runs of discarded key numbers remembered per conversation.
pub const MAX_DISCARDED_RANGES: usize = 64;
/// "Not known": a counter that could not be worked out, or the storage time
/// of a key written by the version-1 encoding (its 30 days start when the
/// state is next used).
pub(crate) const UNKNOWN: u64 = u64::MAX;

/// One stored key, indexed by the header key of its chain and its number.
#[derive(Clone)]
pub(crate) struct SkippedKey {
    pub header_key: Key,
    pub n: u32,
    pub message_key: Key,
    /// The sender's counter (§10.1) of the message this key opens, or [`UNKNOWN`].
    pub counter: u64,
    /// When it was stored (ms), or [`UNKNOWN`].
    pub stored_at_ms: u64,
}

impl SkippedKey {
    fn expired(&self, now_ms: u64) -> bool {
        self.stored_at_ms != UNKNOWN
            && now_ms >= self.stored_at_ms.saturating_add(SKIPPED_KEY_TTL_MS)
    }
}

/// Consecutive numbers `first_n ..= last_n` of one chain whose keys were discarded.
#[derive(Clone)]
pub(crate) struct DiscardedRange {
    pub header_key: Key,
    pub first_n: u32,
    pub last_n: u32,
    /// Counter of the message `first_n` would have opened, or [`UNKNOWN`].
    pub first_counter: u64,
}

impl DiscardedRange {
    fn counter_of(&self, n: u32) -> u64 {
        if self.first_counter == UNKNOWN {
            return UNKNOWN;
        }
        self.first_counter
            .checked_add(u64::from(n - self.first_n))
            .unwrap_or(UNKNOWN)
    }
}

/// What the store says about the key for (header key, n).
pub(crate) enum Lookup<'a> {
    /// Stored and usable.
    Found(usize, &'a SkippedKey),
    /// It was discarded (evicted or expired): the message cannot be read.
    /// Carries the sender's counter, or [`UNKNOWN`].
    Discarded(u64),
    /// Never stored, or used already.
    Missing,
}

/// FIFO store of skipped message keys, with the record of discarded ones.
#[derive(Clone, Default)]
pub(crate) struct SkippedKeys {
    keys: VecDeque<SkippedKey>,
    discarded: VecDeque<DiscardedRange>,
}

impl SkippedKeys {
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &SkippedKey> {
        self.keys.iter()
    }

    pub(super) fn discarded(&self) -> impl Iterator<Item = &DiscardedRange> {
        self.discarded.iter()
    }

    /// Distinct header keys of stored keys and discarded records (in practice a few).
    pub(super) fn header_keys(&self) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        let all = self
            .keys
            .iter()
            .map(|k| &k.header_key)
            .chain(self.discarded.iter().map(|d| &d.header_key));
        for hk in all {
            if !out.iter().any(|h| h.as_ref() == hk.as_ref()) {
                out.push(hk.clone());
            }
        }
        out
    }

    /// The key for (`header_key`, `n`) at `now_ms`: an expired key counts as discarded.
    pub(super) fn lookup(&self, header_key: &[u8; 32], n: u32, now_ms: u64) -> Lookup<'_> {
        if let Some((i, k)) = self
            .keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.n == n && k.header_key.as_ref() == header_key)
        {
            if k.expired(now_ms) {
                return Lookup::Discarded(k.counter);
            }
            return Lookup::Found(i, k);
        }
        match self
            .discarded
            .iter()
            .find(|d| d.header_key.as_ref() == header_key && (d.first_n..=d.last_n).contains(&n))
        {
            Some(d) => Lookup::Discarded(d.counter_of(n)),
            None => Lookup::Missing,
        }
    }

    pub(super) fn remove(&mut self, index: usize) {
        self.keys.remove(index);
    }

    /// Adds keys, then discards the oldest beyond [`MAX_STORED_KEYS`].
    pub(super) fn extend(&mut self, new: impl IntoIterator<Item = SkippedKey>) {
        self.keys.extend(new);
        while self.keys.len() > MAX_STORED_KEYS {
            if let Some(old) = self.keys.pop_front() {
                self.record_discarded(&old);
            }
        }
    }

    /// Starts the clock of keys read from the version-1 encoding, then
    /// discards every key stored [`SKIPPED_KEY_TTL_MS`] or more before
    /// `now_ms`. Returns how many were discarded.
    pub(super) fn expire(&mut self, now_ms: u64) -> usize {
        for k in &mut self.keys {
            if k.stored_at_ms == UNKNOWN {
                k.stored_at_ms = now_ms;
            }
        }
        let before = self.keys.len();
        let mut kept = VecDeque::with_capacity(before);
        for k in std::mem::take(&mut self.keys) {
            if k.expired(now_ms) {
                self.record_discarded(&k);
            } else {
                kept.push_back(k);
            }
        }
        self.keys = kept;
        before - self.keys.len()
    }

    /// Records a discarded key (never the key itself), extending the newest
    /// run of its chain when the numbers are consecutive.
    fn record_discarded(&mut self, key: &SkippedKey) {
        if let Some(last) = self.discarded.back_mut()
            && last.header_key.as_ref() == key.header_key.as_ref()
            && last.last_n.checked_add(1) == Some(key.n)
        {
            last.last_n = key.n;
            return;
        }
        self.push_discarded(DiscardedRange {
            header_key: key.header_key.clone(),
            first_n: key.n,
            last_n: key.n,
            first_counter: key.counter,
        });
    }

    /// Appends a record, forgetting the oldest beyond [`MAX_DISCARDED_RANGES`].
    pub(super) fn push_discarded(&mut self, range: DiscardedRange) {
        self.discarded.push_back(range);
        while self.discarded.len() > MAX_DISCARDED_RANGES {
            self.discarded.pop_front();
        }
    }

    /// Appends a key read from storage (no eviction: the decoder checks the count).
    pub(super) fn push_stored(&mut self, key: SkippedKey) {
        self.keys.push_back(key);
    }
}
