//! `Session::from_bytes` (local session state from the encrypted store).
//!
//! Never panics. Accepted state re-encodes byte-identically to the input (the encoding is
//! canonical: integrity maps and sets must be in ascending order), and decoding that
//! again gives the same bytes. A state
//! that decodes is then *used* — one fixture envelope is decrypted against it (an error
//! must leave it unchanged) and it encrypts one message — because a decodable but
//! inconsistent stored state must not crash the client either.
#![no_main]

use cairn_fuzz::fixtures;
use cairn_protocol::content::Content;
use cairn_protocol::envelope::Envelope;
use cairn_protocol::session::Session;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = Session::from_bytes(data) else {
        return;
    };
    let out = s.to_bytes();
    assert_eq!(&out[..], data, "non-canonical session state accepted");
    let s2 = Session::from_bytes(&out).expect("re-encoded session state must decode");
    assert_eq!(&s2.to_bytes()[..], &out[..], "session state encoding is not a fixpoint");

    let _ = s.safety_number();
    let _ = s.missing_counters();
    let _ = s.stored_skipped_keys();
    let _ = s.pending_peer_identity();

    let f = fixtures();
    // One fixture envelope per input (chosen by length, so it is stable under
    // mutations of the content) keeps the target fast enough to explore.
    let env = Envelope::parse(&f.to_bob[data.len() % f.to_bob.len()]).unwrap();
    let mut t = Session::from_bytes(&out).unwrap();
    if t.decrypt(&env, 0).is_err() {
        assert_eq!(&t.to_bytes()[..], &out[..], "failed decrypt changed the state");
    }
    let me = [&f.alice, &f.bob, &f.alice2]
        .into_iter()
        .find(|i| i.public() == s.my_identity());
    if let Some(me) = me {
        let mut t = Session::from_bytes(&out).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(0);
        let _ = t.encrypt(me, &Content::Text("x".into()), 0, &mut rng);
        let mut t = Session::from_bytes(&out).unwrap();
        let _ = t.accept_pending_identity();
        let _ = t.to_bytes();
    }
});
