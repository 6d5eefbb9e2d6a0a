//! Short invite links (PROTOCOL.md §7.1). Mode byte (`data[0] % 3`):
//! 0. `InviteText::parse(rest, 0)` on arbitrary UTF-8;
//! 1. `InviteLink::open(rest, 0)`: arbitrary bytes as the sealed invite of the
//!    link to Bob's fixture invite;
//! 2. Bob's invite sealed for real, then the byte at a fuzzer-chosen offset
//!    XORed with a fuzzer-chosen mask, opened.
//!
//! Never panics; a parsed link is canonical (`to_uri()` = trimmed input); an
//! opened invite is exactly Bob's; in mode 2 only the untouched envelope opens.
#![no_main]

use cairn_fuzz::fixtures;
use cairn_protocol::invite::{Invite, InviteLink, InviteText};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let invite = Invite::from_bytes(&fixtures().invite, 0).expect("fixture invite");
    match mode % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(InviteText::Link(link)) = InviteText::parse(text, 0) {
                assert_eq!(link.to_uri(), text.trim(), "non-canonical link accepted");
            }
        }
        1 => {
            if let Ok(opened) = InviteLink::of(&invite).open(rest, 0) {
                assert_eq!(opened.as_bytes(), invite.as_bytes(), "another invite opened");
            }
        }
        _ => {
            let [hi, lo, mask, ..] = *rest else {
                return;
            };
            let (link, mut sealed) =
                InviteLink::seal(&invite, &mut ChaCha20Rng::seed_from_u64(1)).expect("seal");
            let at = usize::from(u16::from_be_bytes([hi, lo])) % sealed.len();
            sealed[at] ^= mask;
            assert_eq!(link.open(&sealed, 0).is_ok(), mask == 0, "byte {at} ^ {mask}");
        }
    }
});
