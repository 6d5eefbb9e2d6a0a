//! The three ratchet KDFs (Signal's Double Ratchet, header-encryption variant).
//!
//! - root step: `HKDF-SHA256(salt=RK, ikm=DH, info="Cairn v1 root", 96)` → `RK' ‖ CK ‖ NHK`
//! - chain step: `MK = HMAC-SHA256(CK, 0x01)`, `CK' = HMAC-SHA256(CK, 0x02)`
//! - message key: `HKDF-SHA256(salt=∅, ikm=MK, info="Cairn v1 message key", 32)` → the
//!   XChaCha20-Poly1305 key of the body; its nonce is drawn at random per encryption, so
//!   even a message key used twice (a restored backup, a copied profile) never repeats a
//!   (key, nonce) pair

use zeroize::Zeroizing;

use crate::crypto::{hkdf, hmac};
use crate::labels;

/// A 32-byte secret that wipes itself.
pub(crate) type Key = Zeroizing<[u8; 32]>;

/// Output of a root step.
pub(crate) struct RootStep {
    pub root: Key,
    pub chain: Key,
    pub next_header: Key,
}

/// `KDF_RK`: mixes a fresh DH output into the root key.
pub(crate) fn root_step(root: &[u8; 32], dh_out: &[u8; 32]) -> RootStep {
    let okm = hkdf::<96>(Some(root), dh_out, labels::ROOT_STEP);
    let mut step = RootStep {
        root: Zeroizing::new([0; 32]),
        chain: Zeroizing::new([0; 32]),
        next_header: Zeroizing::new([0; 32]),
    };
    step.root.copy_from_slice(&okm[..32]);
    step.chain.copy_from_slice(&okm[32..64]);
    step.next_header.copy_from_slice(&okm[64..]);
    step
}

/// `KDF_CK`: returns `(next chain key, message key)`.
pub(crate) fn chain_step(chain: &[u8; 32]) -> (Key, Key) {
    (hmac(chain, &[0x02]), hmac(chain, &[0x01]))
}

/// Expands a message key into the body's XChaCha20-Poly1305 key. The nonce is not
/// derived: it is random per encryption (PROTOCOL.md §9.3).
pub(crate) fn message_key(mk: &[u8; 32]) -> Key {
    hkdf::<32>(None, mk, labels::MESSAGE_KEY)
}
