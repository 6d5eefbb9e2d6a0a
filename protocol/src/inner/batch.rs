//! Batch verification of many inner-message signatures by one sender.
//!
//! Catching up on a backlog verifies thousands of signatures by the same key.
//! Checking them one by one costs one double-scalar multiplication each;
//! ed25519-dalek's `verify_batch` checks the whole batch with one multi-scalar
//! multiplication under 128-bit weights derived from a transcript of the whole
//! batch (deterministic, so this stays sans-IO, and a sender cannot choose
//! signatures after seeing the weights).
//!
//! The batch equation does not check everything `verify_strict` (used for a
//! single message) checks, so those conditions are checked here first for every
//! signature: `s` canonical, `R` a canonical encoding of a point, neither `R`
//! nor `A` of small order. For signatures made by the key holder in the usual
//! way a batch then passes exactly when every signature passes `verify_strict`,
//! except with probability about 2⁻¹²⁸. The one theoretical difference: a key
//! holder who deliberately puts a small-order component into `R` may get such
//! a signature accepted by the batch that `verify_strict` would refuse. That
//! gives a forger nothing — only the private key's holder can make it, over a
//! message it could sign anyway — and no second message verifies under the
//! same signature, which is what the integrity hash relies on
//! (docs/PROTOCOL.md §10–11).
//!
//! A failed batch says only "at least one is bad": callers fall back to
//! verifying one by one (see `Session::decrypt_batch`).

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, VerifyingKey};

use super::SignedInner;
use crate::identity::{IdentityError, PublicIdentity};

/// Verifies that every message in `items` was signed by `sender` (see the module docs).
///
/// An empty batch verifies. Errors say only that some signature is invalid.
pub fn verify_batch(sender: &PublicIdentity, items: &[&SignedInner]) -> Result<(), IdentityError> {
    if items.is_empty() {
        return Ok(());
    }
    let key =
        VerifyingKey::from_bytes(sender.signing_key()).map_err(|_| IdentityError::BadSigningKey)?;
    if key.is_weak() {
        return Err(IdentityError::BadSigningKey);
    }
    let mut messages: Vec<&[u8]> = Vec::with_capacity(items.len());
    let mut signatures: Vec<Signature> = Vec::with_capacity(items.len());
    for item in items {
        strict_conditions(&item.signature)?;
        messages.push(&item.signed);
        signatures.push(Signature::from_bytes(&item.signature));
    }
    let keys = vec![key; items.len()];
    ed25519_dalek::verify_batch(&messages, &signatures, &keys)
        .map_err(|_| IdentityError::BadSignature)
}

/// The per-signature conditions of `verify_strict` that the batch equation skips.
fn strict_conditions(signature: &[u8; 64]) -> Result<(), IdentityError> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    if Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).is_none()
        || !canonical_point_encoding(&r_bytes)
    {
        return Err(IdentityError::BadSignature);
    }
    match CompressedEdwardsY(r_bytes).decompress() {
        Some(r) if !r.is_small_order() => Ok(()),
        _ => Err(IdentityError::BadSignature),
    }
}

/// True unless the y coordinate (sign bit cleared) is ≥ p = 2²⁵⁵ − 19.
///
/// Decompression reduces y mod p, so `verify_strict`, which compares the
/// re-compressed point with the signature bytes, refuses such encodings; the
/// only other non-canonical encodings (x = 0 with the sign bit set) are of
/// small-order points, refused separately.
fn canonical_point_encoding(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Content;
    use crate::identity::Identity;
    use crate::inner::Inner;

    fn signed(me: &Identity, counter: u64, text: &str) -> SignedInner {
        let conv = [7u8; 32];
        let inner = Inner {
            counter,
            sent_at_ms: counter * 10,
            prev_hash: [0; 32],
            ack_counter: crate::inner::NO_ACK,
            ack_hash: [0; 32],
            content: Content::Text(text.to_owned()),
        };
        let (bytes, _) = inner.sign(&conv, me);
        SignedInner::decode(&conv, &bytes).unwrap()
    }

    fn ident(seed: u8) -> Identity {
        Identity::from_seed([seed; 32])
    }

    #[test]
    fn valid_batches_verify_at_every_size() {
        let me = ident(1);
        let items: Vec<SignedInner> = (0..70)
            .map(|i| signed(&me, i, &"x".repeat(i as usize)))
            .collect();
        for n in [0, 1, 2, 3, 17, 70] {
            let refs: Vec<&SignedInner> = items[..n].iter().collect();
            verify_batch(&me.public(), &refs).unwrap();
        }
    }

    #[test]
    fn one_bad_signature_anywhere_fails_the_batch() {
        let me = ident(1);
        let other = ident(2);
        for bad in [0usize, 5, 9] {
            let mut items: Vec<SignedInner> = (0..10).map(|i| signed(&me, i, "hello")).collect();
            // A valid signature by someone else.
            items[bad] = signed(&other, bad as u64, "hello");
            let refs: Vec<&SignedInner> = items.iter().collect();
            assert!(verify_batch(&me.public(), &refs).is_err());
            // A flipped bit in the signed bytes, the R half and the s half.
            for flip in 0..3 {
                let mut items: Vec<SignedInner> =
                    (0..10).map(|i| signed(&me, i, "hello")).collect();
                match flip {
                    0 => items[bad].signed[40] ^= 1,
                    1 => items[bad].signature[3] ^= 1,
                    _ => items[bad].signature[40] ^= 1,
                }
                let refs: Vec<&SignedInner> = items.iter().collect();
                assert!(
                    verify_batch(&me.public(), &refs).is_err(),
                    "flip {flip} at {bad}"
                );
            }
        }
    }

    #[test]
    fn swapped_signatures_fail() {
        let me = ident(3);
        let mut items: Vec<SignedInner> = (0..4).map(|i| signed(&me, i, "same")).collect();
        let s0 = items[0].signature;
        items[0].signature = items[1].signature;
        items[1].signature = s0;
        let refs: Vec<&SignedInner> = items.iter().collect();
        assert!(verify_batch(&me.public(), &refs).is_err());
    }

    #[test]
    fn non_canonical_s_is_refused_like_verify_strict() {
        let me = ident(4);
        let mut item = signed(&me, 0, "m");
        // s + ℓ: same value mod ℓ, non-canonical encoding.
        let mut s = [0u8; 32];
        s.copy_from_slice(&item.signature[32..]);
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (byte, l) in s.iter_mut().zip(L) {
            let v = *byte as u16 + l as u16 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        item.signature[32..].copy_from_slice(&s);
        assert!(me.public().verify(&item.signed, &item.signature).is_err());
        assert!(verify_batch(&me.public(), &[&item]).is_err());
    }

    #[test]
    fn canonical_encoding_check_matches_recompression() {
        let me = ident(5);
        let item = signed(&me, 0, "m");
        let mut r = [0u8; 32];
        r.copy_from_slice(&item.signature[..32]);
        assert!(canonical_point_encoding(&r));
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!canonical_point_encoding(&p));
        p[0] = 0xec;
        assert!(canonical_point_encoding(&p));
        for first in [0xedu8, 0xee, 0xff] {
            let mut y = [0xffu8; 32];
            y[0] = first;
            for top in [0x7fu8, 0xff] {
                y[31] = top;
                assert!(!canonical_point_encoding(&y));
                if let Some(pt) = CompressedEdwardsY(y).decompress() {
                    assert_ne!(pt.compress().0, y);
                }
            }
        }
    }

    #[test]
    fn small_order_r_is_refused() {
        let me = ident(6);
        let mut item = signed(&me, 0, "m");
        // The identity point (y = 1) is of small order.
        let mut r = [0u8; 32];
        r[0] = 1;
        item.signature[..32].copy_from_slice(&r);
        assert!(verify_batch(&me.public(), &[&item]).is_err());
    }
}
