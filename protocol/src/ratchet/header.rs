//! The ratchet header and its encryption, so the relay never sees ratchet keys or counters.
//!
//! Plain header (40 bytes): `ratchet_public (32) ‖ previous_chain_length u32 ‖ message_number u32`.
//! Encrypted header (80 bytes): `nonce (24) ‖ XChaCha20-Poly1305(HK, nonce, ad, plain header)`
//! with `ad = envelope header ‖ sealed body` (PROTOCOL.md §9.3): the header authenticates
//! the exact body it travels with, so a header that opens vouches that its body was
//! sealed by a holder of the header key — never altered by the relay.

use rand_core::CryptoRng;

use crate::crypto::{CryptoError, xopen, xseal};
use crate::wire::Reader;

/// Plain header length.
pub(super) const HEADER_LEN: usize = 40;
/// Encrypted header length on the wire.
pub const ENCRYPTED_HEADER_LEN: usize = 24 + HEADER_LEN + 16;

/// What a ratchet message says about its place in the ratchet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Sender's current ratchet public key.
    pub dh: [u8; 32],
    /// Number of messages in the sender's previous sending chain.
    pub pn: u32,
    /// This message's number in the current sending chain.
    pub n: u32,
}

impl Header {
    /// The 40 plain bytes (also part of the body's associated data).
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..32].copy_from_slice(&self.dh);
        out[32..36].copy_from_slice(&self.pn.to_be_bytes());
        out[36..].copy_from_slice(&self.n.to_be_bytes());
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        let h = Header {
            dh: r.array().ok()?,
            pn: r.u32().ok()?,
            n: r.u32().ok()?,
        };
        r.finish().ok()?;
        Some(h)
    }

    /// Encrypts under header key `hk` with a fresh random nonce.
    pub(crate) fn seal<R: CryptoRng + ?Sized>(
        self,
        hk: &[u8; 32],
        ad: &[u8],
        rng: &mut R,
    ) -> Result<[u8; ENCRYPTED_HEADER_LEN], CryptoError> {
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut nonce);
        let mut buf = Vec::with_capacity(HEADER_LEN + 16);
        buf.extend_from_slice(&self.to_bytes());
        xseal(hk, &nonce, ad, &mut buf)?;
        let mut out = [0u8; ENCRYPTED_HEADER_LEN];
        out[..24].copy_from_slice(&nonce);
        out[24..].copy_from_slice(&buf);
        Ok(out)
    }

    /// Tries to decrypt with `hk`; `None` means "not this key" (or tampered).
    pub(crate) fn open(
        hk: &[u8; 32],
        ad: &[u8],
        sealed: &[u8; ENCRYPTED_HEADER_LEN],
    ) -> Option<Self> {
        let mut nonce = [0u8; 24];
        nonce.copy_from_slice(&sealed[..24]);
        let mut buf = sealed[24..].to_vec();
        xopen(hk, &nonce, ad, &mut buf).ok()?;
        Self::from_bytes(&buf)
    }
}
