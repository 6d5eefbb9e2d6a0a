//! `SignedInner::decode(conversation, bytes)`; input is `conversation (32) ‖ bytes`.
//! Never panics; accepted bytes round-trip (`to_bytes()` identical, re-decode equal), an
//! independent re-encoding of the decoded fields (`Inner::sign`) reproduces the signed
//! fields byte for byte, and the integrity hash is the documented one.
#![no_main]

use std::sync::OnceLock;

use cairn_fuzz::fixtures;
use cairn_protocol::crypto::sha256;
use cairn_protocol::identity::Verifier;
use cairn_protocol::labels;
use cairn_protocol::inner::SignedInner;
use libfuzzer_sys::fuzz_target;

fn alice_verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| fixtures().alice.public().verifier().unwrap())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (conv, bytes) = data.split_at(32);
    let conv: [u8; 32] = conv.try_into().unwrap();
    let Ok(s) = SignedInner::decode(&conv, bytes) else {
        return;
    };
    assert_eq!(s.to_bytes(), bytes, "inner message re-encodes differently");
    let again = SignedInner::decode(&conv, &s.to_bytes()).expect("re-decode");
    assert_eq!(again.inner, s.inner);
    assert_eq!(again.hash, s.hash);
    let (wire, _) = s.inner.sign(&conv, &fixtures().alice);
    let n = bytes.len() - 64;
    assert_eq!(&wire[..wire.len() - 64], &bytes[..n], "independent field encoding differs");
    assert_eq!(s.hash, sha256(&[labels::MESSAGE_HASH, &conv, &bytes[n..]]));
    let _ = s.verify(alice_verifier());
});
