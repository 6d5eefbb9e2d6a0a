//! The short invite link (PROTOCOL.md §7.1): the invite itself waits, sealed,
//! at the inviter's relay, and the link carries only the relay address and a
//! 32-byte secret that finds, opens and checks it.
//!
//! A full invite is 1,421 + *h* bytes, almost all of it the ML-KEM-768 key, so
//! its QR code is version 37 to 40 (up to 177 × 177 modules): hard to scan
//! from a screen.
//! The link is 69 + *h* bytes (120 characters for a 16-byte host, QR version
//! 7). The secret is a hash of the invite bytes, so it commits to them: the
//! relay, which never sees the secret, can neither read the sealed invite nor
//! replace it, and nobody holding the link can replace it either (that would
//! need a second preimage). The construction is a content-hash key, as in
//! Freenet's CHK and Tahoe-LAFS's immutable capabilities, composed of SHA-256,
//! HKDF-SHA256 and ChaCha20-Poly1305 as everywhere else in Cairn.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Invite, InviteError, MAX_URI_LEN, URI_PREFIX};
use crate::crypto::{hkdf, open, seal, sha256};
use crate::envelope::{BodyKind, Envelope, HEADER_LEN, MailboxId, MessageId, write_header};
use crate::labels;
use crate::padding::{bucket_for, pad_in_place, unpadded_len};
use crate::relay_address::RelayAddress;
use crate::wire::{DecodeError, Reader, Writer};

/// First byte of a link's binary form (a full invite starts with its version, 1).
pub const LINK_FORM: u8 = 2;

/// AEAD tag length of the sealed invite.
const TAG_LEN: usize = 16;

/// A short invite link: where the sealed invite waits, and the secret that opens it.
#[derive(Clone)]
pub struct InviteLink {
    relay: RelayAddress,
    secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for InviteLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteLink")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

/// What the link secret derives (§7.1): the mailbox the sealed invite waits
/// in, the seed of the Ed25519 key that subscribes to it (and deletes it), and
/// the key that seals it.
pub struct LinkKeys {
    /// The link mailbox at the inviter's relay.
    pub mailbox: MailboxId,
    /// Seed of the link mailbox's auth key. Secret (anyone with it reads the invite).
    pub auth_seed: Zeroizing<[u8; 32]>,
    seal_key: Zeroizing<[u8; 32]>,
}

/// What the text of a `cairn:` invite holds.
#[derive(Debug, Clone)]
pub enum InviteText {
    /// A full invite (§7): everything needed to accept it.
    Full(Invite),
    /// A short link (§7.1): fetch and open the sealed invite first.
    Link(InviteLink),
}

impl InviteText {
    /// Parses a `cairn:` text (surrounding whitespace ignored). A full
    /// invite is verified at `now` (Unix seconds); a link is only decoded:
    /// its invite is checked once fetched ([`InviteLink::open`]).
    pub fn parse(text: &str, now: u64) -> Result<Self, InviteError> {
        let text = text.trim();
        if text.len() > MAX_URI_LEN {
            return Err(InviteError::NotAnInvite);
        }
        let bytes = text
            .strip_prefix(URI_PREFIX)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .ok_or(InviteError::NotAnInvite)?;
        match bytes.first() {
            Some(&LINK_FORM) => InviteLink::from_bytes(&bytes).map(Self::Link),
            _ => Invite::from_bytes(&bytes, now).map(Self::Full),
        }
    }
}

impl InviteLink {
    /// The link to `invite`: its relay, and `SHA-256("Cairn v1 invite link" ‖ invite bytes)`.
    pub fn of(invite: &Invite) -> Self {
        Self {
            relay: invite.relay().clone(),
            secret: Zeroizing::new(sha256(&[labels::INVITE_LINK, invite.as_bytes()])),
        }
    }

    /// The relay where the sealed invite waits (the invite's own relay).
    pub fn relay(&self) -> &RelayAddress {
        &self.relay
    }

    /// `HKDF-SHA256(ikm = secret, no salt, info = "Cairn v1 invite link keys", 96)`
    /// split as link mailbox id ‖ auth seed ‖ seal key.
    pub fn keys(&self) -> LinkKeys {
        let okm = hkdf::<96>(None, self.secret.as_ref(), labels::INVITE_LINK_KEYS);
        let part = |i: usize| -> [u8; 32] {
            let mut out = [0u8; 32];
            out.copy_from_slice(&okm[32 * i..32 * (i + 1)]);
            out
        };
        LinkKeys {
            mailbox: MailboxId(part(0)),
            auth_seed: Zeroizing::new(part(1)),
            seal_key: Zeroizing::new(part(2)),
        }
    }

    /// The sealed invite: a kind-3 envelope to the link mailbox, its body
    /// `ChaCha20-Poly1305(seal key, nonce 0, ad = envelope header, pad(invite bytes))`
    /// (the key seals exactly one plaintext, so a fixed nonce is safe). Draws
    /// the 16-byte message id from `rng`.
    pub fn seal<R: CryptoRng + ?Sized>(
        invite: &Invite,
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), InviteError> {
        let link = Self::of(invite);
        let keys = link.keys();
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let bytes = invite.as_bytes();
        // An invite is at most 1,674 bytes (253-byte host): always the 2 KiB bucket.
        let too_large = |_| DecodeError::Invalid("invite too large to seal");
        let bucket = bucket_for(HEADER_LEN + bytes.len() + 1 + TAG_LEN).map_err(too_large)?;
        let mut body = bytes.to_vec();
        pad_in_place(&mut body, bucket - HEADER_LEN - TAG_LEN).map_err(too_large)?;
        let mut envelope = Vec::with_capacity(bucket);
        write_header(
            &mut envelope,
            &keys.mailbox,
            &MessageId(id),
            BodyKind::SealedInvite,
        );
        seal(&keys.seal_key, &[0; 12], &envelope, &mut body)
            .map_err(|_| DecodeError::Invalid("invite could not be sealed"))?;
        envelope.extend_from_slice(&body);
        Ok((link, envelope))
    }

    /// Opens the sealed invite fetched from the link mailbox and checks it:
    /// envelope kind and mailbox, the AEAD, the padding, that the invite hashes
    /// to the link secret (constant time), then the invite itself at `now`
    /// (signature, expiry, keys: §7).
    pub fn open(&self, envelope: &[u8], now: u64) -> Result<Invite, InviteError> {
        let keys = self.keys();
        let env = Envelope::parse(envelope).map_err(|_| InviteError::SealBroken)?;
        if env.kind != BodyKind::SealedInvite || env.mailbox != keys.mailbox {
            return Err(InviteError::SealBroken);
        }
        let mut body = env.body.to_vec();
        open(&keys.seal_key, &[0; 12], &envelope[..HEADER_LEN], &mut body)
            .map_err(|_| InviteError::SealBroken)?;
        let len = unpadded_len(&body).map_err(|_| InviteError::SealBroken)?;
        let bytes = &body[..len];
        let hash = sha256(&[labels::INVITE_LINK, bytes]);
        if !bool::from(hash.ct_eq(self.secret.as_ref())) {
            return Err(InviteError::SealBroken);
        }
        Invite::from_bytes(bytes, now)
    }

    /// Binary form: `form u8 = 2 ‖ relay address (§6) ‖ secret (32)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64 + 32);
        w.u8(LINK_FORM);
        self.relay.encode(&mut w);
        w.put(self.secret.as_ref());
        w.into_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, InviteError> {
        let mut r = Reader::new(bytes);
        let form = r.u8()?;
        if form != LINK_FORM {
            return Err(InviteError::UnknownVersion(form));
        }
        let relay = RelayAddress::decode(&mut r)?;
        let secret = Zeroizing::new(r.array::<32>()?);
        r.finish()?;
        Ok(Self { relay, secret })
    }

    /// The `cairn:` text: `cairn:` ‖ unpadded base64url of [`InviteLink::to_bytes`].
    pub fn to_uri(&self) -> String {
        format!("{URI_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }
}

#[cfg(test)]
mod tests;
