//! Handshake failure modes: replay, tampering, expiry, wrong identity.

mod common;

use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::frames::SendKey;
use cairn_protocol::handshake::{AcceptorReply, HandshakeError, accept_invite};
use cairn_protocol::identity::Identity;
use cairn_protocol::invite::{Invite, PendingInvite};
use common::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn setup() -> (Identity, Identity, Invite, PendingInvite, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let alice = Identity::generate(&mut rng);
    let bob = Identity::generate(&mut rng);
    let (invite, pending) = Invite::create(&bob, relay(1), MailboxId([1; 32]), NOW + 60, &mut rng);
    (alice, bob, invite, pending, rng)
}

fn reply() -> AcceptorReply {
    AcceptorReply {
        relay: relay(2),
        mailbox: MailboxId([2; 32]),
        send_key: SendKey::from_bytes([0x5E; 32]),
        name: "Alice".into(),
    }
}

#[test]
fn handshake_lands_in_a_2k_bucket_and_hides_the_acceptor() {
    let (alice, _bob, invite, _pending, mut rng) = setup();
    let acc = accept_invite(&invite, &alice, reply(), NOW, &mut rng).unwrap();
    assert_eq!(acc.envelope.len(), 2048);
    let needle = &alice.public().to_bytes()[..16];
    assert!(
        !acc.envelope.windows(16).any(|w| w == needle),
        "identity visible to relay"
    );
    assert!(
        !acc.envelope.windows(5).any(|w| w == b"Alice"),
        "name visible to relay"
    );
}

#[test]
fn tampered_handshake_is_rejected() {
    let (alice, bob, invite, pending, mut rng) = setup();
    let acc = accept_invite(&invite, &alice, reply(), NOW, &mut rng).unwrap();
    let bytes = pending.to_bytes();
    for pos in [60usize, 100, 1200, 1500, 2040] {
        let mut bad = acc.envelope.clone();
        bad[pos] ^= 0x20;
        let p = PendingInvite::from_bytes(&bytes).unwrap();
        let env = Envelope::parse(&bad).unwrap();
        assert!(
            p.complete(&bob, &env, NOW).is_err(),
            "tamper at {pos} accepted"
        );
    }
    let p = PendingInvite::from_bytes(&bytes).unwrap();
    p.complete(&bob, &Envelope::parse(&acc.envelope).unwrap(), NOW)
        .unwrap();
}

#[test]
fn expired_and_wrong_identity_refused() {
    let (alice, bob, invite, pending, mut rng) = setup();
    let acc = accept_invite(&invite, &alice, reply(), NOW, &mut rng).unwrap();
    let env = Envelope::parse(&acc.envelope).unwrap();
    let bytes = pending.to_bytes();
    let err = PendingInvite::from_bytes(&bytes)
        .unwrap()
        .complete(&bob, &env, NOW + 61)
        .unwrap_err();
    assert!(matches!(err, HandshakeError::InviteExpired { .. }));
    let err = PendingInvite::from_bytes(&bytes)
        .unwrap()
        .complete(&alice, &env, NOW)
        .unwrap_err();
    assert_eq!(err, HandshakeError::WrongIdentity);
    assert!(Invite::from_uri(&invite.to_uri(), NOW + 61).is_err());
}

#[test]
fn completing_consumes_the_invite_and_each_accept_is_distinct() {
    let (alice, bob, invite, pending, mut rng) = setup();
    let a1 = accept_invite(&invite, &alice, reply(), NOW, &mut rng).unwrap();
    let a2 = accept_invite(&invite, &alice, reply(), NOW, &mut rng).unwrap();
    assert_ne!(a1.envelope, a2.envelope);
    // `complete` takes the pending invite by value: the type system forbids a second completion
    // from the same object; the client deletes the stored copy in the same transaction.
    let done = pending
        .complete(&bob, &Envelope::parse(&a1.envelope).unwrap(), NOW)
        .unwrap();
    assert_eq!(done.mailbox, MailboxId([2; 32]));
    assert_eq!(done.relay, relay(2));
}

#[test]
fn long_name_refused() {
    let (alice, _bob, invite, _pending, mut rng) = setup();
    let mut r = reply();
    r.name = "n".repeat(65);
    assert_eq!(
        accept_invite(&invite, &alice, r, NOW, &mut rng).unwrap_err(),
        HandshakeError::NameTooLong
    );
}
