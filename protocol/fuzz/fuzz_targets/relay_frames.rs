//! Client ↔ relay frames (`protocol::relay`). Mode byte (`% 2`):
//! 0. `ClientRequest::decode`; 1. `RelayFrame::decode`.
//!
//! Never panics (also `FrameError::code` and `peek_request_id` on refused frames);
//! accepted frames re-encode byte-identically, decode again to an equal value, and
//! `peek_request_id` agrees with the decoded request id.
#![no_main]

use cairn_protocol::frames::{ClientRequest, ErrorCode, RelayFrame, peek_request_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let peeked = peek_request_id(rest);
    if mode % 2 == 0 {
        match ClientRequest::decode(rest) {
            Ok(req) => {
                let enc = req.encode();
                assert_eq!(enc.as_slice(), rest, "client frame re-encodes differently");
                assert_eq!(ClientRequest::decode(&enc).expect("re-decode"), req);
                assert_eq!(peeked, req.request_id);
            }
            Err(e) => {
                let _ = e.code();
                let _ = e.to_string();
            }
        }
    } else {
        match RelayFrame::decode(rest) {
            Ok((id, frame)) => {
                let enc = frame.encode(id);
                assert_eq!(enc.as_slice(), rest, "relay frame re-encodes differently");
                assert_eq!(RelayFrame::decode(&enc).expect("re-decode"), (id, frame));
                assert_eq!(peeked, id);
                if let RelayFrame::Error { code, .. } = frame {
                    assert_eq!(ErrorCode::from_u16(code.as_u16()), code);
                    let _ = code.to_string();
                }
            }
            Err(e) => {
                let _ = e.code();
                let _ = e.to_string();
            }
        }
    }
});
