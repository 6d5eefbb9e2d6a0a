//! Long-term identity: one 32-byte seed from which both keys are derived.
//!
//! `ed25519_seed = HKDF-SHA256(salt=∅, ikm=seed, info="Cairn v1 identity ed25519")`,
//! `x25519_secret = HKDF-SHA256(salt=∅, ikm=seed, info="Cairn v1 identity x25519")`.
//! Derivation (rather than a signature binding) keeps backup to one secret; every
//! place a public identity travels, it travels under an Ed25519 signature that
//! covers both public keys, so a peer never accepts an X25519 key the Ed25519
//! key did not vouch for.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::hkdf;
use crate::labels;

/// Why a public identity or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// The Ed25519 public key is not a valid (or is a weak, small-order) point.
    #[error("invalid Ed25519 public key")]
    BadSigningKey,
    /// The X25519 public key is all zeros or otherwise low-order.
    #[error("invalid X25519 public key")]
    BadAgreementKey,
    /// The signature does not verify under this identity.
    #[error("signature does not verify")]
    BadSignature,
}

/// A person's long-term secret identity. Zeroized on drop; `Debug` prints only the public part.
pub struct Identity {
    seed: Zeroizing<[u8; 32]>,
    signing: SigningKey,
    agreement: StaticSecret,
    public: PublicIdentity,
}

impl Identity {
    /// Creates a fresh identity from the caller's CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(*seed)
    }

    /// Rebuilds the identity from its seed (as stored in the encrypted profile).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let seed = Zeroizing::new(seed);
        let ed_seed = hkdf::<32>(None, seed.as_ref(), labels::IDENTITY_ED25519);
        let x_secret = hkdf::<32>(None, seed.as_ref(), labels::IDENTITY_X25519);
        let signing = SigningKey::from_bytes(&ed_seed);
        let agreement = StaticSecret::from(*x_secret);
        let public = PublicIdentity {
            signing: signing.verifying_key().to_bytes(),
            agreement: PublicKey::from(&agreement).to_bytes(),
        };
        Self {
            seed,
            signing,
            agreement,
            public,
        }
    }

    /// The seed to persist. Only ever write it into encrypted storage.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public half, safe to share.
    pub fn public(&self) -> PublicIdentity {
        self.public
    }

    /// Ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub(crate) fn agreement(&self) -> &StaticSecret {
        &self.agreement
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Public identity: Ed25519 verification key and X25519 agreement key.
#[derive(Clone, Copy, Eq)]
pub struct PublicIdentity {
    signing: [u8; 32],
    agreement: [u8; 32],
}

impl PartialEq for PublicIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes().ct_eq(&other.to_bytes()).into()
    }
}

impl std::hash::Hash for PublicIdentity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl PublicIdentity {
    /// Length of [`PublicIdentity::to_bytes`].
    pub const LEN: usize = 64;

    /// `ed25519_public (32) || x25519_public (32)`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.signing);
        out[32..].copy_from_slice(&self.agreement);
        out
    }

    /// Parses and validates both keys (rejects weak Ed25519 points and low-order X25519 keys).
    pub fn from_bytes(bytes: &[u8; 64]) -> Result<Self, IdentityError> {
        let mut signing = [0u8; 32];
        let mut agreement = [0u8; 32];
        signing.copy_from_slice(&bytes[..32]);
        agreement.copy_from_slice(&bytes[32..]);
        check_ed25519_public(&signing)?;
        if agreement == [0u8; 32] {
            return Err(IdentityError::BadAgreementKey);
        }
        Ok(Self { signing, agreement })
    }

    /// The Ed25519 public key bytes.
    pub fn signing_key(&self) -> &[u8; 32] {
        &self.signing
    }

    /// The X25519 public key bytes.
    pub fn agreement_key(&self) -> &[u8; 32] {
        &self.agreement
    }

    /// Strict Ed25519 verification (rejects malleable and small-order signatures).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), IdentityError> {
        self.verifier()?.verify(message, signature)
    }

    /// A verifier with the public key decompressed once, for verifying many messages.
    pub fn verifier(&self) -> Result<Verifier, IdentityError> {
        VerifyingKey::from_bytes(&self.signing)
            .map(Verifier)
            .map_err(|_| IdentityError::BadSigningKey)
    }
}

/// Checks an Ed25519 public key by the rules of PROTOCOL.md §4: the 32 bytes are the
/// *canonical* encoding of a curve point (decoding and re-encoding gives the same bytes:
/// y < p, and no sign bit on x = 0) and the point is not of small order. Used for
/// identity keys and, by the relay, for mailbox auth keys.
pub fn check_ed25519_public(bytes: &[u8; 32]) -> Result<(), IdentityError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| IdentityError::BadSigningKey)?;
    // ed25519-dalek reduces y modulo p when decoding, so `ff…ff` (y = p + 18) decodes.
    if key.is_weak() || key.to_edwards().compress().to_bytes() != *bytes {
        return Err(IdentityError::BadSigningKey);
    }
    Ok(())
}

/// A parsed Ed25519 public key: point decompression costs ≈ 10 µs, so sessions keep one.
#[derive(Clone, Copy, Debug)]
pub struct Verifier(VerifyingKey);

impl Verifier {
    /// Strict Ed25519 verification (rejects malleable and small-order signatures).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), IdentityError> {
        self.0
            .verify_strict(message, &Signature::from_bytes(signature))
            .map_err(|_| IdentityError::BadSignature)
    }
}

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: String = self
            .signing
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        write!(f, "PublicIdentity({hex}…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_from_seed_and_signatures_verify() {
        let a = Identity::from_seed([7; 32]);
        let b = Identity::from_seed([7; 32]);
        assert_eq!(a.public(), b.public());
        let sig = a.sign(b"hi");
        a.public().verify(b"hi", &sig).unwrap();
        assert_eq!(
            a.public().verify(b"ho", &sig),
            Err(IdentityError::BadSignature)
        );
        let round = PublicIdentity::from_bytes(&a.public().to_bytes()).unwrap();
        assert_eq!(round, a.public());
    }

    #[test]
    fn debug_redacts_secret() {
        let a = Identity::from_seed([7; 32]);
        let s = format!("{a:?}");
        assert!(s.contains("redacted"));
        assert!(!s.contains("0707"));
    }

    #[test]
    fn rejects_bad_public_keys() {
        let mut bytes = Identity::from_seed([1; 32]).public().to_bytes();
        bytes[32..].fill(0);
        assert_eq!(
            PublicIdentity::from_bytes(&bytes),
            Err(IdentityError::BadAgreementKey)
        );
        let mut bytes = Identity::from_seed([1; 32]).public().to_bytes();
        bytes[..32].fill(0); // identity point: weak
        assert_eq!(
            PublicIdentity::from_bytes(&bytes),
            Err(IdentityError::BadSigningKey)
        );
        // A non-canonical encoding: y = 2^255 - 1 = p + 18, which the decoder reduces.
        let mut bytes = Identity::from_seed([1; 32]).public().to_bytes();
        bytes[..32].fill(0xff);
        assert!(VerifyingKey::from_bytes(&[0xff; 32]).is_ok_and(|k| !k.is_weak()));
        assert_eq!(
            PublicIdentity::from_bytes(&bytes),
            Err(IdentityError::BadSigningKey)
        );
    }

    #[test]
    fn ed25519_keys_must_be_canonical_and_not_small_order() {
        check_ed25519_public(Identity::from_seed([1; 32]).public().signing_key()).unwrap();
        // y = 18 with the sign bit: canonically encoded it is a valid key...
        let mut canonical = [0u8; 32];
        canonical[0] = 18;
        canonical[31] = 0x80;
        check_ed25519_public(&canonical).unwrap();
        // ...but the same point as y = p + 18 is refused.
        assert_eq!(
            check_ed25519_public(&[0xff; 32]),
            Err(IdentityError::BadSigningKey)
        );
        // Small order: the identity point (y = 1), and y = 1 written as p + 1.
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(check_ed25519_public(&one).is_err());
        let mut p_plus_one = [0xffu8; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        assert!(check_ed25519_public(&p_plus_one).is_err());
    }
}
