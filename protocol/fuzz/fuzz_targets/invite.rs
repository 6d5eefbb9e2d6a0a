//! Invites. Mode byte (`data[0] % 3`):
//! 0. `Invite::from_bytes(rest, 0)` on raw bytes;
//! 1. the same on `rest` taken as invite *fields*, made to verify by the harness (Bob's
//!    identity spliced in, Bob's signature appended), so the fuzzer gets past the signature
//!    check to the ML-KEM key, X25519 key, length and trailing-byte checks;
//! 2. `Invite::from_uri(rest, 0)` on arbitrary UTF-8.
//!
//! Never panics; an accepted invite round-trips: `as_bytes()` equals the input, an
//! independent re-encoding of its public fields equals the input's prefix, and
//! `to_uri()` → `from_uri` → same invite (and equals the trimmed input in mode 2).
#![no_main]

use cairn_fuzz::resign_invite;
use cairn_protocol::invite::{INVITE_VERSION, Invite, KEM_PUBLIC_LEN};
use cairn_protocol::wire::Writer;
use libfuzzer_sys::fuzz_target;

fn same(a: &Invite, b: &Invite) {
    assert_eq!(a.as_bytes(), b.as_bytes());
    assert_eq!(a.relay(), b.relay());
    assert_eq!(a.mailbox(), b.mailbox());
    assert_eq!(a.identity(), b.identity());
    assert_eq!(a.expires_at(), b.expires_at());
    assert_eq!(a.id(), b.id());
}

fn check_bytes(bytes: &[u8]) {
    let Ok(inv) = Invite::from_bytes(bytes, 0) else {
        return;
    };
    assert_eq!(inv.as_bytes(), bytes, "as_bytes differs from the decoded input");
    let mut w = Writer::default();
    w.u8(INVITE_VERSION);
    inv.relay().encode(&mut w);
    w.put(&inv.mailbox().0).put(&inv.identity().to_bytes());
    let prefix = w.into_vec();
    assert_eq!(&bytes[..prefix.len()], prefix.as_slice(), "re-encoded fields differ");
    assert_eq!(bytes.len(), prefix.len() + 32 + KEM_PUBLIC_LEN + 8 + 64);
    let exp: [u8; 8] = bytes[bytes.len() - 72..bytes.len() - 64].try_into().unwrap();
    assert_eq!(u64::from_be_bytes(exp), inv.expires_at());
    let again = Invite::from_bytes(inv.as_bytes(), 0).expect("re-decode");
    same(&inv, &again);
    let uri = inv.to_uri();
    let from_uri = Invite::from_uri(&uri, 0).expect("to_uri output must parse");
    same(&inv, &from_uri);
    if let Some(later) = inv.expires_at().checked_add(1) {
        assert!(Invite::from_bytes(bytes, later).is_err(), "expired invite accepted");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check_bytes(rest),
        1 => check_bytes(&resign_invite(rest, None)),
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(inv) = Invite::from_uri(text, 0) {
                assert_eq!(inv.to_uri(), text.trim(), "non-canonical invite link accepted");
                check_bytes(inv.as_bytes());
            }
        }
    }
});
