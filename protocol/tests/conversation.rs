//! Whole conversations between two real sessions: both directions, loss, reordering,
//! replay, tampering, persistence and identity changes.

mod common;

use cairn_protocol::content::Content;
use cairn_protocol::envelope::Envelope;
use cairn_protocol::identity::Identity;
use cairn_protocol::integrity::IntegrityEvent;
use cairn_protocol::ratchet::{MAX_SKIP, RatchetError};
use cairn_protocol::session::{Session, SessionError};
use common::*;

fn text(s: &str) -> Content {
    Content::Text(s.into())
}

#[test]
fn ping_pong_both_directions_with_ratchet_steps() {
    let mut p = pair(1);
    for round in 0..5u64 {
        for i in 0..3 {
            let msg = format!("a{round}-{i}");
            let out =
                p.a.encrypt(&p.alice, &text(&msg), round, &mut p.rng)
                    .unwrap();
            assert_eq!(out.envelope.len(), 1024);
            let got =
                p.b.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
                    .unwrap();
            assert_eq!(got.content, text(&msg));
            assert!(got.events.is_empty(), "{:?}", got.events);
        }
        let msg = format!("b{round}");
        let out = p.b.encrypt(&p.bob, &text(&msg), round, &mut p.rng).unwrap();
        let got =
            p.a.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
                .unwrap();
        assert_eq!(got.content, text(&msg));
        assert!(got.events.is_empty());
    }
    assert_eq!(p.a.safety_number().digits(), p.b.safety_number().digits());
    assert_eq!(p.a.conversation_id(), p.b.conversation_id());
}

#[test]
fn inviter_can_send_first() {
    let mut p = pair(2);
    let out =
        p.b.encrypt(&p.bob, &text("welcome"), 0, &mut p.rng)
            .unwrap();
    let got =
        p.a.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
            .unwrap();
    assert_eq!(got.content, text("welcome"));
}

#[test]
fn out_of_order_and_gap_reporting() {
    let mut p = pair(3);
    let outs: Vec<_> = (0..5)
        .map(|i| {
            p.a.encrypt(&p.alice, &text(&i.to_string()), 0, &mut p.rng)
                .unwrap()
        })
        .collect();
    let recv = |s: &mut cairn_protocol::session::Session, i: usize| {
        s.decrypt(&Envelope::parse(&outs[i].envelope).unwrap(), 0)
            .unwrap()
    };
    assert!(recv(&mut p.b, 0).events.is_empty());
    assert_eq!(
        recv(&mut p.b, 3).events,
        vec![IntegrityEvent::Gap { from: 1, to: 2 }]
    );
    assert_eq!(p.b.stored_skipped_keys(), 2);
    assert_eq!(
        recv(&mut p.b, 1).events,
        vec![IntegrityEvent::LateArrival { counter: 1 }]
    );
    assert_eq!(p.b.stored_skipped_keys(), 1, "used key deleted");
    assert!(recv(&mut p.b, 4).events.is_empty());
    assert_eq!(p.b.missing_counters(), vec![2]);
    // Replaying a delivered envelope is refused by the ratchet as a duplicate.
    let replay =
        p.b.decrypt(&Envelope::parse(&outs[1].envelope).unwrap(), 0)
            .unwrap_err();
    assert!(replay.is_duplicate(), "{replay:?}");
    assert_eq!(
        recv(&mut p.b, 2).events,
        vec![IntegrityEvent::LateArrival { counter: 2 }]
    );
    assert_eq!(p.b.stored_skipped_keys(), 0);
}

#[test]
fn late_message_from_previous_chain_after_ratchet_step() {
    let mut p = pair(4);
    let a0 = p.a.encrypt(&p.alice, &text("a0"), 0, &mut p.rng).unwrap();
    let a1 = p.a.encrypt(&p.alice, &text("a1"), 0, &mut p.rng).unwrap();
    p.b.decrypt(&Envelope::parse(&a1.envelope).unwrap(), 0)
        .unwrap();
    let b0 = p.b.encrypt(&p.bob, &text("b0"), 0, &mut p.rng).unwrap();
    p.a.decrypt(&Envelope::parse(&b0.envelope).unwrap(), 0)
        .unwrap();
    let a2 = p.a.encrypt(&p.alice, &text("a2"), 0, &mut p.rng).unwrap(); // new chain
    p.b.decrypt(&Envelope::parse(&a2.envelope).unwrap(), 0)
        .unwrap();
    let late =
        p.b.decrypt(&Envelope::parse(&a0.envelope).unwrap(), 0)
            .unwrap();
    assert_eq!(late.content, text("a0"));
    assert_eq!(
        late.events,
        vec![IntegrityEvent::LateArrival { counter: 0 }]
    );
}

#[test]
fn too_large_jump_is_refused_without_damage() {
    let mut p = pair(5);
    let mut last = None;
    for _ in 0..=MAX_SKIP + 1 {
        last = Some(p.a.encrypt(&p.alice, &text("x"), 0, &mut p.rng).unwrap());
    }
    let err =
        p.b.decrypt(&Envelope::parse(&last.unwrap().envelope).unwrap(), 0)
            .unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Ratchet(RatchetError::TooManySkipped { .. })
        ),
        "{err:?}"
    );
    assert_eq!(p.b.stored_skipped_keys(), 0);
}

#[test]
fn every_bit_flip_is_rejected_and_state_survives() {
    let mut p = pair(6);
    let out =
        p.a.encrypt(&p.alice, &text("integrity"), 0, &mut p.rng)
            .unwrap();
    let before = p.b.to_bytes();
    for byte in 0..out.envelope.len() {
        for bit in [0u8, 3, 7] {
            let mut bad = out.envelope.clone();
            bad[byte] ^= 1 << bit;
            match Envelope::parse(&bad) {
                Err(_) => {}
                Ok(env) => assert!(
                    p.b.decrypt(&env, 0).is_err(),
                    "flip at {byte}.{bit} accepted"
                ),
            }
        }
    }
    assert_eq!(
        *p.b.to_bytes(),
        *before,
        "rejected messages must not change the session"
    );
    let ok =
        p.b.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
            .unwrap();
    assert_eq!(ok.content, text("integrity"));
}

#[test]
fn persistence_round_trip_mid_conversation() {
    let mut p = pair(7);
    let a0 = p.a.encrypt(&p.alice, &text("0"), 0, &mut p.rng).unwrap();
    let a1 = p.a.encrypt(&p.alice, &text("1"), 0, &mut p.rng).unwrap();
    p.b.decrypt(&Envelope::parse(&a1.envelope).unwrap(), 0)
        .unwrap();
    let mut b = Session::from_bytes(&p.b.to_bytes()).unwrap();
    let mut a = Session::from_bytes(&p.a.to_bytes()).unwrap();
    assert_eq!(*b.to_bytes(), *p.b.to_bytes());
    assert_eq!(
        b.decrypt(&Envelope::parse(&a0.envelope).unwrap(), 0)
            .unwrap()
            .content,
        text("0")
    );
    let reply = b.encrypt(&p.bob, &text("r"), 0, &mut p.rng).unwrap();
    assert_eq!(
        a.decrypt(&Envelope::parse(&reply.envelope).unwrap(), 0)
            .unwrap()
            .content,
        text("r")
    );
    let mut bad = p.b.to_bytes().to_vec();
    bad.push(0);
    assert!(Session::from_bytes(&bad).is_err());
}

#[test]
fn messages_cannot_cross_sessions_or_reflect() {
    let mut p = pair(8);
    let mut q = pair(9);
    let out =
        p.a.encrypt(&p.alice, &text("for p.b"), 0, &mut p.rng)
            .unwrap();
    assert!(
        q.b.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
            .is_err()
    );
    // Reflection back to the sender: wrong mailbox / wrong keys.
    assert!(
        p.a.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
            .is_err()
    );
    let _ = q.a.encrypt(&q.alice, &text("x"), 0, &mut q.rng).unwrap();
}

#[test]
fn identity_mismatch_is_refused() {
    let mut p = pair(10);
    let err = p.a.encrypt(&p.bob, &text("x"), 0, &mut p.rng).unwrap_err();
    assert_eq!(err, SessionError::IdentityMismatch);
}

#[test]
fn key_update_is_held_until_accepted() {
    let mut p = pair(11);
    let new_alice = Identity::generate(&mut p.rng);
    let before = p.b.safety_number();
    let upd =
        p.a.rotate_identity(&p.alice, &new_alice, 0, &mut p.rng)
            .unwrap();
    let got =
        p.b.decrypt(&Envelope::parse(&upd.envelope).unwrap(), 0)
            .unwrap();
    assert!(matches!(got.content, Content::KeyUpdate(_)));
    assert_eq!(p.b.pending_peer_identity(), Some(new_alice.public()));
    // Messages under the new key are flagged, not silently trusted.
    let m =
        p.a.encrypt(&new_alice, &text("new key"), 0, &mut p.rng)
            .unwrap();
    let got =
        p.b.decrypt(&Envelope::parse(&m.envelope).unwrap(), 0)
            .unwrap();
    assert!(got.from_pending_key);
    assert_eq!(p.b.accept_pending_identity(), Some(new_alice.public()));
    assert_ne!(p.b.safety_number().digits(), before.digits());
    let m =
        p.a.encrypt(&new_alice, &text("after"), 0, &mut p.rng)
            .unwrap();
    assert!(
        !p.b.decrypt(&Envelope::parse(&m.envelope).unwrap(), 0)
            .unwrap()
            .from_pending_key
    );
}

#[test]
fn receipts_round_trip() {
    let mut p = pair(12);
    let out =
        p.b.encrypt(&p.bob, &Content::Delivered(vec![0, 1, 2]), 0, &mut p.rng)
            .unwrap();
    let got =
        p.a.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
            .unwrap();
    assert_eq!(got.content, Content::Delivered(vec![0, 1, 2]));
}

#[test]
fn large_text_uses_larger_bucket_and_limit_is_enforced() {
    let mut p = pair(13);
    let big = "x".repeat(20_000);
    let out = p.a.encrypt(&p.alice, &text(&big), 0, &mut p.rng).unwrap();
    assert_eq!(out.envelope.len(), 64 * 1024);
    assert_eq!(
        p.b.decrypt(&Envelope::parse(&out.envelope).unwrap(), 0)
            .unwrap()
            .content,
        text(&big)
    );
    let max = "y".repeat(cairn_protocol::content::MAX_TEXT_LEN);
    let out = p.a.encrypt(&p.alice, &text(&max), 0, &mut p.rng).unwrap();
    assert_eq!(out.envelope.len(), 64 * 1024);
    assert!(
        p.a.encrypt(&p.alice, &text(&(max + "z")), 0, &mut p.rng)
            .is_err()
    );
}

#[test]
fn debug_output_never_contains_secrets() {
    let p = pair(14);
    let state = p.a.to_bytes();
    let shown = format!("{:?} {:?} {:?}", p.a, p.alice, p.b);
    assert!(shown.contains("redacted"));
    // No 8-byte window of the serialized secret state (keys, chains) appears in Debug output.
    let hex_state = hex::encode(&*state);
    for i in (300..hex_state.len().saturating_sub(16)).step_by(16) {
        assert!(
            !shown.contains(&hex_state[i..i + 16]),
            "secret bytes leaked into Debug"
        );
    }
    assert!(!shown.contains(&hex::encode(p.alice.seed())));
}
