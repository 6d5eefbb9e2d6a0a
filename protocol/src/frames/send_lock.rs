//! Send keys and send locks (PROTOCOL.md §18.3): who may send to a locked mailbox.
//!
//! A mailbox id alone lets anyone who learns it fill the mailbox. A locked
//! mailbox is created with a *send lock*, SHA-256 of a 32-byte *send key*
//! that only the contact holds; each `SendLocked` carries the key, and the
//! relay hashes it and compares with the lock. The relay stores only the
//! lock, so its database never holds what opens the mailbox.

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Size of a send key and of a send lock.
pub const SEND_KEY_LEN: usize = 32;

/// The secret that opens a locked mailbox. Zeroized on drop; `Debug` hides it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SendKey([u8; SEND_KEY_LEN]);

impl SendKey {
    /// A fresh random key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut key = [0u8; SEND_KEY_LEN];
        rng.fill_bytes(&mut key);
        let out = Self(key);
        key.zeroize();
        out
    }

    /// Wraps key bytes (e.g. read back from the client's encrypted store).
    pub fn from_bytes(bytes: [u8; SEND_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key bytes, as a `SendLocked` frame carries them.
    pub fn as_bytes(&self) -> &[u8; SEND_KEY_LEN] {
        &self.0
    }

    /// The lock this key opens: what `CreateLockedMailbox` registers.
    pub fn lock(&self) -> [u8; SEND_KEY_LEN] {
        send_lock(&self.0)
    }
}

impl std::fmt::Debug for SendKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendKey(..)")
    }
}

impl PartialEq for SendKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SendKey {}

/// SHA-256 of a send key: the lock a relay stores and compares against.
pub fn send_lock(send_key: &[u8; SEND_KEY_LEN]) -> [u8; SEND_KEY_LEN] {
    Sha256::digest(send_key).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_sha256_of_the_key() {
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            hex::encode(send_lock(&[0; 32])),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        let key = SendKey::from_bytes([7; 32]);
        assert_eq!(key.lock(), send_lock(&[7; 32]));
        assert_eq!(format!("{key:?}"), "SendKey(..)");
    }
}
