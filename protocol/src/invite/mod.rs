//! One-time contact invitations, shared out of band as a `cairn:` link or QR code.
//!
//! Binary layout, version 1 (PROTOCOL.md, "Invite"):
//! `version u8 ‖ relay address ‖ mailbox id (32) ‖ identity (64) ‖ invite X25519 key (32) ‖
//! ML-KEM-768 encapsulation key (1184) ‖ expires_at u64 (Unix seconds) ‖ signature (64)`,
//! the signature by the inviter's Ed25519 key over `"Cairn v1 invite" ‖ everything before it`.
//! Full text form: `cairn:` followed by the unpadded base64url of those bytes (1,922
//! characters with a 16-byte TLS host, at most 2,238: one QR code, but of version 37–40).
//! What people exchange is the short link of [`link`] (§7.1): 120 characters, QR version 7,
//! which fetches these bytes, sealed, from the inviter's relay.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ml_kem::{DecapsulationKey, EncapsulationKey, KeyExport, MlKem768, Seed, TryKeyInit};
use rand_core::CryptoRng;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::sha256;
use crate::envelope::MailboxId;
use crate::identity::{Identity, IdentityError, PublicIdentity};
use crate::labels;
use crate::relay_address::{AddressError, RelayAddress};
use crate::wire::{DecodeError, Reader, Writer};

pub mod link;
pub use link::{InviteLink, InviteText, LINK_FORM, LinkKeys};

/// Invite format version.
pub const INVITE_VERSION: u8 = 1;
/// ML-KEM-768 encapsulation key length.
pub const KEM_PUBLIC_LEN: usize = 1184;
/// URI scheme prefix.
pub const URI_PREFIX: &str = "cairn:";
/// Longest invite text accepted (a generous bound over the real 1,900–2,238 characters).
pub const MAX_URI_LEN: usize = 4096;

/// Why an invite was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InviteError {
    /// Not a `cairn:` link, or not base64url.
    #[error("not a Cairn invite link (expected cairn:…)")]
    NotAnInvite,
    /// Version byte unknown to this client.
    #[error("invite version {0} is not supported by this version of Cairn")]
    UnknownVersion(u8),
    /// The inviter's signature does not verify: altered or forged.
    #[error("invite signature is invalid (altered or forged)")]
    BadSignature,
    /// Past its expiry.
    #[error("invite expired at {expired_at} (now {now}); ask for a new one")]
    Expired {
        /// Expiry, Unix seconds.
        expired_at: u64,
        /// The time it was checked, Unix seconds.
        now: u64,
    },
    /// The sealed invite fetched for a short link does not open with the
    /// link's key or does not hash to it: not the invite the link names.
    #[error("the invite stored at the relay does not match this link (altered or replaced)")]
    SealBroken,
    /// The ML-KEM key fails the FIPS 203 §7.2 encapsulation key check (a coefficient ≥ q).
    #[error("invite post-quantum key is invalid")]
    BadKemKey,
    /// Invalid identity keys.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Invalid relay address.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// Structural problem (truncated, trailing bytes, …).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// A verified invitation (public data only).
#[derive(Clone)]
pub struct Invite {
    relay: RelayAddress,
    mailbox: MailboxId,
    identity: PublicIdentity,
    ephemeral: [u8; 32],
    kem: EncapsulationKey<MlKem768>,
    expires_at: u64,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invite")
            .field("relay", &self.relay)
            .field("identity", &self.identity)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The inviter's secret half of an invite, kept until the handshake arrives.
pub struct PendingInvite {
    invite: Invite,
    ephemeral: StaticSecret,
    kem_seed: Zeroizing<[u8; 64]>,
}

impl std::fmt::Debug for PendingInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingInvite")
            .field("invite", &self.invite)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

impl Invite {
    /// Creates an invite for `mailbox` (already created on `relay`), valid until `expires_at`.
    pub fn create<R: CryptoRng + ?Sized>(
        identity: &Identity,
        relay: RelayAddress,
        mailbox: MailboxId,
        expires_at: u64,
        rng: &mut R,
    ) -> (Invite, PendingInvite) {
        let ephemeral = StaticSecret::random_from_rng(rng);
        let mut kem_seed = Zeroizing::new([0u8; 64]);
        rng.fill_bytes(kem_seed.as_mut());
        let dk = DecapsulationKey::<MlKem768>::from_seed(Seed::from(*kem_seed));
        let kem = dk.encapsulation_key().clone();
        let mut w = Writer::with_capacity(1500);
        w.u8(INVITE_VERSION);
        relay.encode(&mut w);
        w.put(&mailbox.0)
            .put(&identity.public().to_bytes())
            .put(PublicKey::from(&ephemeral).as_bytes())
            .put(&kem.to_bytes())
            .u64(expires_at);
        let signature = identity.sign(&signed_bytes(w.as_slice()));
        w.put(&signature);
        let invite = Invite {
            relay,
            mailbox,
            identity: identity.public(),
            ephemeral: PublicKey::from(&ephemeral).to_bytes(),
            kem,
            expires_at,
            bytes: w.into_vec(),
        };
        let pending = PendingInvite {
            invite: invite.clone(),
            ephemeral,
            kem_seed,
        };
        (invite, pending)
    }

    /// Parses and verifies binary invite bytes, refusing it if expired at `now` (Unix seconds).
    pub fn from_bytes(bytes: &[u8], now: u64) -> Result<Self, InviteError> {
        let invite = Self::decode_unchecked_expiry(bytes)?;
        if now > invite.expires_at {
            return Err(InviteError::Expired {
                expired_at: invite.expires_at,
                now,
            });
        }
        Ok(invite)
    }

    /// Parses and verifies the signature but not the expiry (for stored pending invites).
    fn decode_unchecked_expiry(bytes: &[u8]) -> Result<Self, InviteError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != INVITE_VERSION {
            return Err(InviteError::UnknownVersion(version));
        }
        let relay = RelayAddress::decode(&mut r)?;
        let mailbox = MailboxId(r.array()?);
        let identity = PublicIdentity::from_bytes(&r.array()?)?;
        let ephemeral: [u8; 32] = r.array()?;
        let kem_bytes = r.take(KEM_PUBLIC_LEN)?;
        let expires_at = r.u64()?;
        let signed_len = bytes.len() - r.remaining();
        let signature: [u8; 64] = r.array()?;
        r.finish()?;
        identity
            .verify(&signed_bytes(&bytes[..signed_len]), &signature)
            .map_err(|_| InviteError::BadSignature)?;
        // ml-kem performs both checks of FIPS 203 §7.2: the type check (1,184 bytes) and
        // the modulus check (ByteEncode12(ByteDecode12(ek[0:1152])) == ek[0:1152]).
        let kem = EncapsulationKey::<MlKem768>::new_from_slice(kem_bytes)
            .map_err(|_| InviteError::BadKemKey)?;
        if ephemeral == [0u8; 32] {
            return Err(IdentityError::BadAgreementKey.into());
        }
        Ok(Self {
            relay,
            mailbox,
            identity,
            ephemeral,
            kem,
            expires_at,
            bytes: bytes.to_vec(),
        })
    }

    /// The `cairn:` link.
    pub fn to_uri(&self) -> String {
        format!("{URI_PREFIX}{}", URL_SAFE_NO_PAD.encode(&self.bytes))
    }

    /// Parses a `cairn:` link (surrounding whitespace ignored) and verifies it at `now`.
    pub fn from_uri(text: &str, now: u64) -> Result<Self, InviteError> {
        let text = text.trim();
        if text.len() > MAX_URI_LEN {
            return Err(InviteError::NotAnInvite);
        }
        let b64 = text
            .strip_prefix(URI_PREFIX)
            .ok_or(InviteError::NotAnInvite)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| InviteError::NotAnInvite)?;
        Self::from_bytes(&bytes, now)
    }

    /// Signed binary form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The inviter's relay.
    pub fn relay(&self) -> &RelayAddress {
        &self.relay
    }

    /// The mailbox the handshake goes to.
    pub fn mailbox(&self) -> MailboxId {
        self.mailbox
    }

    /// The inviter's identity.
    pub fn identity(&self) -> PublicIdentity {
        self.identity
    }

    /// Expiry, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Stable id: `SHA-256("Cairn v1 invite id" ‖ invite X25519 key)`. Clients refuse to accept an id twice.
    pub fn id(&self) -> [u8; 32] {
        sha256(&[labels::INVITE_ID, &self.ephemeral])
    }

    pub(crate) fn ephemeral(&self) -> &[u8; 32] {
        &self.ephemeral
    }

    pub(crate) fn kem(&self) -> &EncapsulationKey<MlKem768> {
        &self.kem
    }
}

impl PendingInvite {
    /// The public invite.
    pub fn invite(&self) -> &Invite {
        &self.invite
    }

    pub(crate) fn ephemeral_secret(&self) -> &StaticSecret {
        &self.ephemeral
    }

    pub(crate) fn kem_secret(&self) -> DecapsulationKey<MlKem768> {
        DecapsulationKey::<MlKem768>::from_seed(Seed::from(*self.kem_seed))
    }

    /// Local encoding for the encrypted store: `version u8 ‖ invite (u16 len) ‖ X25519 secret ‖ ML-KEM seed (64)`.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::with_capacity(self.invite.bytes.len() + 3 + 96);
        w.u8(INVITE_VERSION)
            .bytes_u16(&self.invite.bytes)
            .put(self.ephemeral.as_bytes())
            .put(self.kem_seed.as_ref());
        Zeroizing::new(w.into_vec())
    }

    /// Reads what [`PendingInvite::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InviteError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != INVITE_VERSION {
            return Err(InviteError::UnknownVersion(version));
        }
        let invite = Invite::decode_unchecked_expiry(r.bytes_u16("invite", 4096)?)?;
        let ephemeral = StaticSecret::from(*Zeroizing::new(r.array::<32>()?));
        let kem_seed = Zeroizing::new(r.array::<64>()?);
        r.finish()?;
        if PublicKey::from(&ephemeral).to_bytes() != invite.ephemeral {
            return Err(DecodeError::Invalid("pending invite secret").into());
        }
        Ok(Self {
            invite,
            ephemeral,
            kem_seed,
        })
    }
}

fn signed_bytes(fields: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(labels::INVITE_SIGNATURE.len() + fields.len());
    v.extend_from_slice(labels::INVITE_SIGNATURE);
    v.extend_from_slice(fields);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay_address::{MAX_HOST_LEN, Transport};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn make() -> (Invite, PendingInvite) {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let id = Identity::from_seed([3; 32]);
        let relay =
            RelayAddress::new("relay.example", 7447, Transport::Tls { pin: [9; 32] }).unwrap();
        Invite::create(&id, relay, MailboxId([4; 32]), 1_000, &mut rng)
    }

    #[test]
    fn uri_round_trip_fits_a_qr_code() {
        let (invite, pending) = make();
        let uri = invite.to_uri();
        assert!(
            uri.len() < 2331,
            "QR version 40-M byte capacity: {}",
            uri.len()
        );
        let parsed = Invite::from_uri(&uri, 999).unwrap();
        assert_eq!(parsed.as_bytes(), invite.as_bytes());
        assert_eq!(parsed.id(), invite.id());
        let restored = PendingInvite::from_bytes(&pending.to_bytes()).unwrap();
        assert_eq!(restored.invite().as_bytes(), invite.as_bytes());
    }

    /// Re-signs `bytes` (an invite by identity `[3; 32]`) after `edit` changed its fields.
    fn resigned(bytes: &[u8], edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut b = bytes.to_vec();
        let fields = b.len() - 64;
        edit(&mut b[..fields]);
        let signature = Identity::from_seed([3; 32]).sign(&signed_bytes(&b[..fields]));
        b[fields..].copy_from_slice(&signature);
        b
    }

    #[test]
    fn kem_key_failing_the_fips_203_modulus_check_is_refused() {
        let (invite, _) = make();
        let kem_start = invite.as_bytes().len() - 64 - 8 - KEM_PUBLIC_LEN;
        // Re-signing alone changes nothing.
        let same = resigned(invite.as_bytes(), |_| {});
        assert!(Invite::from_bytes(&same, 0).is_ok());
        // ByteEncode12 packs two 12-bit coefficients into 3 bytes, little-endian: make the
        // first one 0xFFF = 4095, not below q = 3329. Correctly signed, but not a key.
        let bad = resigned(invite.as_bytes(), |b| {
            b[kem_start] = 0xFF;
            b[kem_start + 1] |= 0x0F;
        });
        assert_eq!(
            Invite::from_bytes(&bad, 0).unwrap_err(),
            InviteError::BadKemKey
        );
        // 3328 = q - 1 is the largest coefficient that passes.
        let edge = resigned(invite.as_bytes(), |b| {
            b[kem_start] = 0x00;
            b[kem_start + 1] = (b[kem_start + 1] & 0xF0) | 0x0D;
        });
        assert!(Invite::from_bytes(&edge, 0).is_ok());
    }

    #[test]
    fn text_length_as_the_spec_states() {
        // PROTOCOL.md §7: 1,421 + h bytes with a TLS host of h bytes, 6 + ⌈4 (1,421 + h) / 3⌉
        // characters of text: 1,922 for 16 bytes, 1,924 for 17, 2,238 for 253.
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let id = Identity::from_seed([3; 32]);
        for (host_len, text_len) in [(16, 1922), (17, 1924), (MAX_HOST_LEN, 2238)] {
            let host = "h".repeat(host_len);
            let relay = RelayAddress::new(&host, 7447, Transport::Tls { pin: [9; 32] }).unwrap();
            let (invite, _) = Invite::create(&id, relay, MailboxId([4; 32]), 1_000, &mut rng);
            assert_eq!(invite.as_bytes().len(), 1421 + host_len);
            assert_eq!(invite.to_uri().len(), text_len, "host of {host_len} bytes");
            assert!(text_len <= 2331, "QR version 40-M byte capacity");
        }
    }

    #[test]
    fn rejects_expired_tampered_trailing_unknown() {
        let (invite, _) = make();
        assert_eq!(
            Invite::from_bytes(invite.as_bytes(), 1_001).unwrap_err(),
            InviteError::Expired {
                expired_at: 1_000,
                now: 1_001
            }
        );
        let mut b = invite.as_bytes().to_vec();
        let last = b.len() - 70;
        b[last] ^= 1; // inside expires_at
        assert_eq!(
            Invite::from_bytes(&b, 0).unwrap_err(),
            InviteError::BadSignature
        );
        let mut b = invite.as_bytes().to_vec();
        b.push(0);
        assert_eq!(
            Invite::from_bytes(&b, 0).unwrap_err(),
            InviteError::Decode(DecodeError::TrailingBytes(1))
        );
        let mut b = invite.as_bytes().to_vec();
        b[0] = 2;
        assert_eq!(
            Invite::from_bytes(&b, 0).unwrap_err(),
            InviteError::UnknownVersion(2)
        );
        assert_eq!(
            Invite::from_uri("https://x", 0).unwrap_err(),
            InviteError::NotAnInvite
        );
    }
}
