//! Message keys kept for messages that have not arrived yet (out-of-order delivery).
//!
//! Two caps (PROTOCOL.md, "Limits"): a single header may skip at most
//! [`MAX_SKIP`] keys, and at most [`MAX_STORED_KEYS`] are kept per conversation
//! (oldest evicted first). A key is deleted the moment it is used.

use std::collections::VecDeque;

use super::kdf::Key;

/// Largest jump in message numbers one message may cause.
pub const MAX_SKIP: u32 = 2000;
/// Most skipped keys kept per conversation.
pub const MAX_STORED_KEYS: usize = 2000;

/// One stored key, indexed by the header key of its chain and its number.
#[derive(Clone)]
pub(crate) struct SkippedKey {
    pub header_key: Key,
    pub n: u32,
    pub message_key: Key,
}

/// FIFO store of skipped message keys.
#[derive(Clone, Default)]
pub(crate) struct SkippedKeys {
    keys: VecDeque<SkippedKey>,
}

impl SkippedKeys {
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &SkippedKey> {
        self.keys.iter()
    }

    /// Distinct header keys currently in the store (in practice one or two).
    pub(super) fn header_keys(&self) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        for k in &self.keys {
            if !out.iter().any(|h| h.as_ref() == k.header_key.as_ref()) {
                out.push(k.header_key.clone());
            }
        }
        out
    }

    /// Position of the key for (`header_key`, `n`), if stored.
    pub(super) fn find(&self, header_key: &[u8; 32], n: u32) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.n == n && k.header_key.as_ref() == header_key)
    }

    pub(super) fn get(&self, index: usize) -> Option<&SkippedKey> {
        self.keys.get(index)
    }

    pub(super) fn remove(&mut self, index: usize) {
        self.keys.remove(index);
    }

    /// Adds keys, evicting the oldest beyond [`MAX_STORED_KEYS`].
    pub(super) fn extend(&mut self, new: Vec<SkippedKey>) {
        self.keys.extend(new);
        while self.keys.len() > MAX_STORED_KEYS {
            self.keys.pop_front();
        }
    }

    pub(super) fn push(&mut self, key: SkippedKey) {
        self.extend(vec![key]);
    }
}
