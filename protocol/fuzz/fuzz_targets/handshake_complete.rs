//! `PendingInvite::complete` for Bob's fixed pending invite (restored from its stored bytes
//! per input, since `complete` consumes it). Mode byte (`% 3`):
//! 0. arbitrary handshake envelope bytes (wrapped into a valid header for the invite's
//!    mailbox and cut/zero-filled to a bucket when they do not parse);
//! 1. a real `accept_invite` by Alice with a fuzzer-chosen reply (relay address, mailbox,
//!    name), optionally with one envelope byte XOR-ed;
//! 2. a handshake sealed by the harness's own acceptor implementation around *arbitrary*
//!    payload fields (optionally given Alice's identity and valid signature), so the
//!    payload parser behind the AEAD sees malformed input that authenticates.
//!
//! Always: no panic. Mode 1 also: an untouched handshake completes with exactly the
//! reply's relay, mailbox, name, clock and Alice's identity, and the two sessions talk;
//! any flipped byte is rejected.
#![no_main]

use std::sync::OnceLock;

use cairn_fuzz::{Input, NOW, fixtures, hand_built_handshake, wrap_envelope};
use cairn_protocol::relay_address::RelayAddress;
use cairn_protocol::content::Content;
use cairn_protocol::envelope::{BodyKind, Envelope, MailboxId};
use cairn_protocol::frames::SendKey;
use cairn_protocol::handshake::{AcceptorReply, Completed, HandshakeError, accept_invite};
use cairn_protocol::invite::{Invite, PendingInvite};
use cairn_protocol::wire::Reader;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn invite() -> &'static Invite {
    static I: OnceLock<Invite> = OnceLock::new();
    I.get_or_init(|| Invite::from_bytes(&fixtures().invite, 0).unwrap())
}

fn complete(env: &[u8]) -> Option<Result<Completed, HandshakeError>> {
    let f = fixtures();
    let env = Envelope::parse(env).ok()?;
    let p = PendingInvite::from_bytes(&f.pending).unwrap();
    Some(p.complete(&f.bob, &env, NOW))
}

fn legit(rest: &[u8]) {
    let f = fixtures();
    let mut input = Input(rest);
    let flip_pos = usize::from(u16::from_be_bytes(input.array()));
    let flip_mask = input.u8();
    let tail = input.rest();
    let mut r = Reader::new(tail);
    let (relay, tail) = match RelayAddress::decode(&mut r) {
        Ok(a) => (a, &tail[tail.len() - r.remaining()..]),
        Err(_) => ("wss://relay2.example:7447/#AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"
            .parse()
            .unwrap(), tail),
    };
    let mut input = Input(tail);
    let mailbox = MailboxId(input.array());
    let send_key: [u8; 32] = input.array();
    let mut name = String::from_utf8_lossy(input.rest()).into_owned();
    let mut cut = name.len().min(64);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    name.truncate(cut);
    let reply = AcceptorReply {
        relay: relay.clone(),
        mailbox,
        send_key: SendKey::from_bytes(send_key),
        name: name.clone(),
    };
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let accepted = accept_invite(invite(), &f.alice, reply, NOW, &mut rng).expect("accept");
    let mut env = accepted.envelope;
    if flip_mask != 0 {
        let i = flip_pos % env.len();
        env[i] ^= flip_mask;
        assert!(!matches!(complete(&env), Some(Ok(_))), "tampered handshake accepted");
        return;
    }
    let done = complete(&env)
        .expect("real handshake envelope must parse")
        .expect("real handshake must complete");
    assert_eq!(done.peer, f.alice.public());
    assert_eq!(done.relay, relay);
    assert_eq!(done.mailbox, mailbox);
    assert_eq!(done.send_key.as_bytes(), &send_key);
    assert_eq!(done.name, name);
    assert_eq!(done.sent_at, NOW);
    let mut a = accepted.session;
    let mut b = done.session;
    assert_eq!(a.conversation_id(), b.conversation_id());
    let msg = Content::Text("hi".into());
    let out = a.encrypt(&f.alice, &msg, 1, &mut rng).expect("encrypt");
    let got = b.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0).expect("decrypt");
    assert_eq!(got.content, msg);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if Envelope::parse(rest).is_ok() {
                let _ = complete(rest);
            } else {
                let env = wrap_envelope(&invite().mailbox(), Input(rest).array(), BodyKind::Handshake, rest);
                let _ = complete(&env);
            }
        }
        1 => legit(rest),
        _ => {
            let Some((&sign, fields)) = rest.split_first() else {
                return;
            };
            let mut rng = ChaCha20Rng::seed_from_u64(0);
            let env = hand_built_handshake(fixtures(), fields, sign & 1 == 1, &mut rng);
            if let Some(Ok(done)) = complete(&env) {
                // With `sign` the harness wrote Alice's identity into the fields.
                if sign & 1 == 1 {
                    assert_eq!(done.peer, fixtures().alice.public());
                } else {
                    assert_eq!(&done.peer.to_bytes()[..], &fields[1..65]);
                }
            }
        }
    }
});
