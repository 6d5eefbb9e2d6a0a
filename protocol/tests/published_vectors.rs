//! Published test vectors run through Cairn's own wrappers (not just the upstream crates),
//! so a wrong composition — wrong nonce order, swapped arguments — fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_protocol::crypto::{dh, hkdf, open, seal, xopen, xseal};
use cairn_protocol::identity::{Identity, PublicIdentity};
use x25519_dalek::StaticSecret;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn a32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

/// RFC 7748 §6.1: X25519 Diffie-Hellman between Alice and Bob.
#[test]
fn rfc7748_x25519_dh() {
    let alice = StaticSecret::from(a32(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    ));
    let bob_pub = a32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let bob = StaticSecret::from(a32(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    ));
    let alice_pub = a32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let shared = a32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(*dh(&alice, &bob_pub).unwrap(), shared);
    assert_eq!(*dh(&bob, &alice_pub).unwrap(), shared);
}

/// RFC 7748 §5.2, first vector: scalar multiplication of an arbitrary u-coordinate.
#[test]
fn rfc7748_x25519_scalar_mult() {
    let k = StaticSecret::from(a32(
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    ));
    let u = a32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let out = a32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    assert_eq!(*dh(&k, &u).unwrap(), out);
}

/// RFC 8032 §7.1 tests 1–3: Ed25519 signatures verify through `PublicIdentity::verify`,
/// and any altered signature or message is refused.
#[test]
fn rfc8032_ed25519() {
    let cases = [
        (
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];
    let x25519 = Identity::from_seed([1; 32]).public().to_bytes();
    for (pk, msg, sig) in cases {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&h(pk));
        bytes[32..].copy_from_slice(&x25519[32..]);
        let id = PublicIdentity::from_bytes(&bytes).unwrap();
        let sig: [u8; 64] = h(sig).try_into().unwrap();
        let msg = h(msg);
        id.verify(&msg, &sig).unwrap();
        let mut bad = sig;
        bad[10] ^= 1;
        assert!(id.verify(&msg, &bad).is_err());
        let mut other = msg.clone();
        other.push(0);
        assert!(id.verify(&other, &sig).is_err());
    }
}

/// RFC 8439 §2.8.2: ChaCha20-Poly1305 AEAD through `crypto::seal` / `crypto::open`.
#[test]
fn rfc8439_chacha20_poly1305() {
    let key = a32("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce: [u8; 12] = h("070000004041424344454647").try_into().unwrap();
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let expected = h(concat!(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b",
        "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc",
        "3ff4def08e4b7a9de576d26586cec64b6116",
        "1ae10b594f09e26a7e902ecbd0600691"
    ));
    let mut buf = plaintext.to_vec();
    seal(&key, &nonce, &aad, &mut buf).unwrap();
    assert_eq!(buf, expected);
    open(&key, &nonce, &aad, &mut buf).unwrap();
    assert_eq!(buf, plaintext);
}

/// draft-irtf-cfrg-xchacha-03, the AEAD_XChaCha20_Poly1305 test vector: XChaCha20-Poly1305
/// (header encryption, PROTOCOL.md §1, §9.3) through `crypto::xseal` / `crypto::xopen`.
#[test]
fn xchacha20_poly1305_draft_03() {
    let key = a32("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce: [u8; 24] = h("404142434445464748494a4b4c4d4e4f5051525354555657")
        .try_into()
        .unwrap();
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let expected = h(concat!(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39",
        "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9",
        "21f9664c97637da9768812f615c68b13b52e",
        "c0875924c1c7987947deafd8780acf49"
    ));
    let mut buf = plaintext.to_vec();
    xseal(&key, &nonce, &aad, &mut buf).unwrap();
    assert_eq!(buf, expected);
    xopen(&key, &nonce, &aad, &mut buf).unwrap();
    assert_eq!(buf, plaintext);
}

/// RFC 5869 test case 1: HKDF-SHA256 through `crypto::hkdf`.
#[test]
fn rfc5869_hkdf_sha256() {
    let ikm = [0x0bu8; 22];
    let salt = h("000102030405060708090a0b0c");
    let info = h("f0f1f2f3f4f5f6f7f8f9");
    let okm = hkdf::<42>(Some(&salt), &ikm, &info);
    assert_eq!(
        okm.to_vec(),
        h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    );
}
