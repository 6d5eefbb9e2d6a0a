//! `Session::decrypt` against a fixed established session (Bob's, built once by the real
//! handshake; cloned per input through `to_bytes`/`from_bytes`). Mode byte (`% 3`):
//! 0. arbitrary envelope bytes against Bob's session (bytes that do not parse as an
//!    envelope are wrapped into a valid header for Bob's mailbox, body cut or zero-filled
//!    to a bucket, so the ratchet sees them);
//! 1. structured: Alice's real session encrypts fuzzer-chosen content with fuzzer-chosen
//!    integrity-chain fields (counter, previous hash, ack) and clock, optionally with one
//!    byte of the envelope XOR-ed, so the whole authenticated path — padding, inner
//!    decoding, signature, key update, integrity events — sees arbitrary values;
//! 2. like 0, against Bob's session holding a pending (announced) peer key.
//!
//! Always: no panic, and after an `Err` the session bytes equal those before. Mode 1
//! also: an untouched message from the real peer is accepted with exactly that content,
//! counter and clock (unless it is a key update not signed for this conversation), and
//! any flipped byte is rejected.
#![no_main]

use cairn_fuzz::{Input, fixtures, integrity_bytes, integrity_offset, wrap_envelope};
use cairn_protocol::content::Content;
use cairn_protocol::envelope::{BodyKind, Envelope};
use cairn_protocol::session::Session;
use cairn_protocol::wire::Reader;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Decrypts `env` with a fresh copy of `state`; on error the state must be untouched.
fn decrypt(state: &[u8], env: &[u8]) -> Option<Result<cairn_protocol::session::Received, ()>> {
    let env = Envelope::parse(env).ok()?;
    let mut s = Session::from_bytes(state).unwrap();
    match s.decrypt(&env, 0) {
        Ok(r) => Some(Ok(r)),
        Err(_) => {
            assert_eq!(&s.to_bytes()[..], state, "failed decrypt changed the session");
            Some(Err(()))
        }
    }
}

fn raw(state: &[u8], rest: &[u8]) {
    if Envelope::parse(rest).is_ok() {
        decrypt(state, rest);
    } else {
        let mailbox = Session::from_bytes(state).unwrap().my_mailbox();
        let id: [u8; 16] = Input(rest).array();
        decrypt(state, &wrap_envelope(&mailbox, id, BodyKind::Ratchet, rest));
    }
}

fn structured(rest: &[u8]) {
    let f = fixtures();
    let mut input = Input(rest);
    let flags = input.u8();
    let next_send = input.u64();
    let last_sent: [u8; 32] = input.array();
    let ack = (input.u64(), input.array::<32>());
    let now_ms = input.u64();
    let flip_pos = usize::from(u16::from_be_bytes(input.array()));
    let flip_mask = input.u8();
    let body = input.rest();
    let mut r = Reader::new(body);
    let content = match Content::decode(&mut r) {
        Ok(c) => c,
        Err(_) => Content::Text(String::from_utf8_lossy(body).into_owned()),
    };
    let off = integrity_offset(&f.alice_session).unwrap();
    let mut sender = f.alice_session[..off].to_vec();
    sender.extend_from_slice(&integrity_bytes(next_send, last_sent, (flags & 1 == 1).then_some(ack)));
    let mut alice = Session::from_bytes(&sender).expect("sender state");
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let Ok(out) = alice.encrypt(&f.alice, &content, now_ms, &mut rng) else {
        return;
    };
    let mut env = out.envelope;
    if flip_mask != 0 {
        let i = flip_pos % env.len();
        env[i] ^= flip_mask;
    }
    let result = decrypt(&f.bob_session, &env);
    if flip_mask != 0 {
        assert!(!matches!(result, Some(Ok(_))), "tampered envelope accepted");
        return;
    }
    let result = result.expect("a real envelope must parse");
    if matches!(content, Content::KeyUpdate(_)) {
        return;
    }
    let got = result.expect("a genuine message from the peer was refused");
    assert_eq!(got.content, content);
    assert_eq!(got.counter, next_send);
    assert_eq!(got.sent_at_ms, now_ms);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixtures();
    match mode % 3 {
        0 => raw(&f.bob_session, rest),
        1 => structured(rest),
        _ => raw(&f.bob_session_pending_key, rest),
    }
});
