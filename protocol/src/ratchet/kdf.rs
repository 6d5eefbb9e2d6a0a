//! The three ratchet KDFs (Signal's Double Ratchet, header-encryption variant).
//!
//! - root step: `HKDF-SHA256(salt=RK, ikm=DH, info="Cairn v1 root", 96)` → `RK' ‖ CK ‖ NHK`
//! - chain step: `MK = HMAC-SHA256(CK, 0x01)`, `CK' = HMAC-SHA256(CK, 0x02)`
//! - message keys: `HKDF-SHA256(salt=∅, ikm=MK, info="Cairn v1 message keys", 44)` → `key ‖ nonce`

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

/// Expands a message key into the ChaCha20-Poly1305 key and nonce (each message key is used once).
pub(crate) fn message_keys(mk: &[u8; 32]) -> (Key, [u8; 12]) {
    let okm = hkdf::<44>(None, mk, labels::MESSAGE_KEYS);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&okm[..32]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&okm[32..]);
    (key, nonce)
}
