//! `Content::decode` through `wire::Reader`: never panics; decoded content re-encodes to
//! exactly the bytes consumed, decodes again to an equal value, and is within the limits
//! `Content::validate` enforces before sending (what we accept we could also send).
#![no_main]

use cairn_protocol::content::Content;
use cairn_protocol::wire::{Reader, Writer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let Ok(c) = Content::decode(&mut r) else {
        return;
    };
    let used = data.len() - r.remaining();
    let mut w = Writer::default();
    c.encode(&mut w);
    assert_eq!(w.as_slice(), &data[..used], "content re-encodes differently");
    let mut r2 = Reader::new(w.as_slice());
    let c2 = Content::decode(&mut r2).expect("re-encoded content must decode");
    r2.finish().expect("re-encoded content must be consumed exactly");
    assert_eq!(c2, c);
    c.validate().expect("decoded content must be within the send limits");
});
