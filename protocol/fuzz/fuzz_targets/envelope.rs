//! `Envelope::parse` on arbitrary bytes: never panics; a parsed envelope rebuilt with
//! `write_header` + body is byte-identical to the input and parses to the same value.
#![no_main]

use cairn_protocol::envelope::{Envelope, write_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(e) = Envelope::parse(data) else {
        return;
    };
    let mut out = Vec::with_capacity(data.len());
    write_header(&mut out, &e.mailbox, &e.id, e.kind);
    assert_eq!(out.as_slice(), e.header, "header slice differs from re-encoded header");
    out.extend_from_slice(e.body);
    assert_eq!(out.as_slice(), data, "re-encoded envelope differs");
    let again = Envelope::parse(&out).expect("re-encoded envelope must parse");
    assert_eq!(again, e);
});
