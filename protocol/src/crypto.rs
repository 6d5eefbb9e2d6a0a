//! Thin wrappers over the RustCrypto / dalek primitives, with Cairn's error type.
//!
//! No primitive is implemented here: only composition (HKDF-SHA256,
//! HMAC-SHA256, ChaCha20-Poly1305, XChaCha20-Poly1305, X25519).

use chacha20poly1305::aead::{AeadInOut, KeyInit, Nonce};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// A cryptographic check failed; deliberately carries no detail an attacker could use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// AEAD tag did not verify: wrong key or tampered bytes.
    #[error("authentication failed")]
    Aead,
    /// X25519 output was all zeros: the peer sent a low-order point.
    #[error("non-contributory Diffie-Hellman (low-order public key)")]
    NonContributory,
}

/// HKDF-SHA256 extract-and-expand into `N` bytes. Every use has N ≤ 255·32.
pub fn hkdf<const N: usize>(salt: Option<&[u8]>, ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    // Infallible for N <= 8160, which every caller respects (compile-time constants).
    let _ = Hkdf::<Sha256>::new(salt, ikm).expand(info, out.as_mut());
    out
}

/// HMAC-SHA256(key, data).
pub fn hmac(key: &[u8; 32], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = match <Hmac<Sha256>>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; unreachable.
        Err(_) => return Zeroizing::new([0u8; 32]),
    };
    mac.update(data);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Encrypts (`seal`) or decrypts `buf` in place with any of the ChaCha20-Poly1305 family.
fn in_place<C: KeyInit + AeadInOut>(
    key: &[u8; 32],
    nonce: &Nonce<C>,
    ad: &[u8],
    buf: &mut Vec<u8>,
    seal: bool,
) -> Result<(), CryptoError> {
    let cipher = C::new_from_slice(key).map_err(|_| CryptoError::Aead)?;
    let result = if seal {
        cipher.encrypt_in_place(nonce, ad, buf)
    } else {
        cipher.decrypt_in_place(nonce, ad, buf)
    };
    result.map_err(|_| CryptoError::Aead)
}

/// ChaCha20-Poly1305 encrypt in place, appending the 16-byte tag.
pub fn seal(
    key: &[u8; 32],
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    in_place::<ChaCha20Poly1305>(key, nonce.into(), ad, buf, true)
}

/// ChaCha20-Poly1305 decrypt in place, removing the tag.
pub fn open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    ad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    in_place::<ChaCha20Poly1305>(key, nonce.into(), ad, buf, false)
}

/// XChaCha20-Poly1305 encrypt in place (random 24-byte nonces are safe under one key).
pub fn xseal(
    key: &[u8; 32],
    nonce: &[u8; 24],
    ad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    in_place::<XChaCha20Poly1305>(key, nonce.into(), ad, buf, true)
}

/// XChaCha20-Poly1305 decrypt in place.
pub fn xopen(
    key: &[u8; 32],
    nonce: &[u8; 24],
    ad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    in_place::<XChaCha20Poly1305>(key, nonce.into(), ad, buf, false)
}

/// X25519, refusing all-zero (non-contributory) outputs.
pub fn dh(secret: &StaticSecret, public: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let shared = secret.diffie_hellman(&PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(CryptoError::NonContributory);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aead_round_trip_and_tamper() {
        let mut buf = b"hello".to_vec();
        seal(&[1; 32], &[2; 12], b"ad", &mut buf).unwrap();
        let mut bad = buf.clone();
        bad[0] ^= 1;
        assert_eq!(
            open(&[1; 32], &[2; 12], b"ad", &mut bad),
            Err(CryptoError::Aead)
        );
        let mut wrong_ad = buf.clone();
        assert_eq!(
            open(&[1; 32], &[2; 12], b"ax", &mut wrong_ad),
            Err(CryptoError::Aead)
        );
        open(&[1; 32], &[2; 12], b"ad", &mut buf).unwrap();
        assert_eq!(buf, b"hello");
    }

    #[test]
    fn low_order_point_rejected() {
        let s = StaticSecret::from([9u8; 32]);
        assert_eq!(dh(&s, &[0u8; 32]), Err(CryptoError::NonContributory));
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(dh(&s, &one), Err(CryptoError::NonContributory));
    }
}
