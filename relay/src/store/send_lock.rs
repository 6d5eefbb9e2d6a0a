//! The send lock a locked mailbox is stored with, and the one check every
//! backend makes before it stores an envelope (PROTOCOL.md §18.3).
//!
//! The relay keeps only SHA-256 of the send key (the *lock*), never the
//! key: a copy of its database opens no mailbox. A `SendLocked` request is
//! hashed once when it arrives; stores and the hub then compare hashes, in
//! constant time so response timing says nothing about the stored lock.

use cairn_protocol::frames::{SEND_KEY_LEN, send_lock};
use subtle::ConstantTimeEq;

/// SHA-256 of a send key: stored with a locked mailbox, or computed from
/// the key a `SendLocked` presents.
#[derive(Clone, Copy)]
pub struct SendLock(pub [u8; SEND_KEY_LEN]);

impl SendLock {
    /// The lock `send_key` opens.
    pub fn of_key(send_key: &[u8; SEND_KEY_LEN]) -> Self {
        Self(send_lock(send_key))
    }
}

impl PartialEq for SendLock {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SendLock {}

impl std::fmt::Debug for SendLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendLock(..)")
    }
}

/// May a sender who presented `sent_with` (`None`: a plain `Send`) store
/// into a mailbox locked with `lock` (`None`: an open mailbox)? Open
/// mailboxes take everything, a presented key included (it is ignored).
pub fn admits(lock: Option<&SendLock>, sent_with: Option<&SendLock>) -> bool {
    match (lock, sent_with) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(lock), Some(sent)) => lock == sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_takes_all_locked_takes_only_its_key() {
        let lock = SendLock::of_key(&[1; 32]);
        let right = SendLock::of_key(&[1; 32]);
        let wrong = SendLock::of_key(&[2; 32]);
        assert!(admits(None, None));
        assert!(admits(None, Some(&wrong)), "open: a key is ignored");
        assert!(admits(Some(&lock), Some(&right)));
        assert!(!admits(Some(&lock), Some(&wrong)));
        assert!(!admits(Some(&lock), None), "plain Send to a locked mailbox");
    }
}
