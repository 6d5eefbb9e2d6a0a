//! `RelayAddress`. Mode byte (`% 2`):
//! 0. `FromStr` on arbitrary UTF-8;
//! 1. binary `RelayAddress::decode` through `wire::Reader` (as inside invites).
//!
//! Never panics. Text: `Display` output parses back to an equal address and is a
//! fixpoint. Binary: `encode` reproduces exactly the bytes `decode` consumed. Both: the
//! other form round-trips too, and `RelayAddress::new` accepts the decoded parts.
#![no_main]

use cairn_protocol::relay_address::RelayAddress;
use cairn_protocol::wire::{Reader, Writer};
use libfuzzer_sys::fuzz_target;

fn check(a: &RelayAddress) {
    let s = a.to_string();
    let b: RelayAddress = s.parse().expect("Display output must parse");
    assert_eq!(&b, a);
    assert_eq!(b.to_string(), s);
    let mut w = Writer::default();
    a.encode(&mut w);
    let bytes = w.into_vec();
    let mut r = Reader::new(&bytes);
    let c = RelayAddress::decode(&mut r).expect("encode output must decode");
    r.finish().expect("decode must consume the whole encoding");
    assert_eq!(&c, a);
    let _ = a.websocket_url();
    assert_eq!(
        &RelayAddress::new(a.host(), a.port(), a.transport()).expect("parts must be valid"),
        a
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(a) = text.parse::<RelayAddress>() {
                check(&a);
            }
        }
        _ => {
            let mut r = Reader::new(rest);
            if let Ok(a) = RelayAddress::decode(&mut r) {
                let used = rest.len() - r.remaining();
                let mut w = Writer::default();
                a.encode(&mut w);
                assert_eq!(w.as_slice(), &rest[..used], "binary address re-encodes differently");
                check(&a);
            }
        }
    }
});
