//! `PendingInvite::from_bytes` (the inviter's stored secret half). Mode byte (`% 2`):
//! 0. raw bytes;
//! 1. `invite fields ‖ X25519 secret (32) ‖ ML-KEM seed (64)`, assembled by the harness
//!    into storage bytes whose invite verifies and whose secret matches its public key,
//!    so arbitrary secrets and seeds reach the round trip.
//!
//! Never panics; accepted bytes round-trip: `to_bytes()` is byte-identical to the input,
//! and decoding that again gives the same invite and the same bytes.
#![no_main]

use cairn_fuzz::resign_pending;
use cairn_protocol::invite::PendingInvite;
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    let Ok(p) = PendingInvite::from_bytes(bytes) else {
        return;
    };
    let out = p.to_bytes();
    assert_eq!(&out[..], bytes, "pending invite re-encodes differently");
    let q = PendingInvite::from_bytes(&out).expect("re-encoded pending invite must decode");
    assert_eq!(q.invite().as_bytes(), p.invite().as_bytes());
    assert_eq!(&q.to_bytes()[..], &out[..]);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => check(rest),
        _ => {
            if let Some(bytes) = resign_pending(rest) {
                check(&bytes);
            }
        }
    }
});
