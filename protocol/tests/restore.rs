//! A session restored from a backup, or copied with its profile, that sends from a
//! chain position the original already used (PROTOCOL.md §2, §9.3, §10.2, §11):
//! never the same (key, nonce) twice; a restored session renews with a DH step the
//! peer follows when it can, and reports as a fork when it cannot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cairn_protocol::content::Content;
use cairn_protocol::envelope::Envelope;
use cairn_protocol::integrity::{IntegrityEvent, RESTORE_COUNTER_STEP};
use cairn_protocol::ratchet::{ENCRYPTED_HEADER_LEN, RatchetError};
use cairn_protocol::session::{Session, SessionError};
use common::*;

fn text(s: &str) -> Content {
    Content::Text(s.into())
}

fn copy(s: &Session) -> Session {
    Session::from_bytes(&s.to_bytes()).unwrap()
}

fn recv(
    s: &mut Session,
    envelope: &[u8],
) -> Result<cairn_protocol::session::Received, SessionError> {
    s.decrypt(&Envelope::parse(envelope).unwrap(), 0)
}

/// Where the body's nonce and sealed body start in a ratchet envelope (§9.3, §12.1).
const NONCE_AT: usize = 50 + ENCRYPTED_HEADER_LEN;
const SEALED_AT: usize = NONCE_AT + 24;

/// Would `m1` and its envelope give away `m2` by XOR, at any offset? (Only if both
/// bodies were encrypted with the same keystream: one key, one nonce.)
fn xor_recovers(e1: &[u8], m1: &[u8], e2: &[u8], m2: &[u8]) -> bool {
    (0..=e1.len().min(e2.len()) - m1.len())
        .any(|at| (0..m1.len()).all(|i| e1[at + i] ^ e2[at + i] ^ m1[i] == m2[i]))
}

#[test]
fn a_copy_sending_from_a_used_position_never_reuses_key_and_nonce() {
    let mut p = pair(40);
    p.a.encrypt(&p.alice, &text("before"), 0, &mut p.rng)
        .unwrap();
    let mut clone = copy(&p.a);
    let (m1, m2) = ("SECRET-A original", "SECRET-B the copy");
    let e1 = p.a.encrypt(&p.alice, &text(m1), 0, &mut p.rng).unwrap();
    let e2 = clone.encrypt(&p.alice, &text(m2), 0, &mut p.rng).unwrap();
    // Same chain position, so the same message key: the nonces make the difference.
    assert_eq!(e1.counter, e2.counter);
    assert_ne!(
        e1.envelope[NONCE_AT..SEALED_AT],
        e2.envelope[NONCE_AT..SEALED_AT]
    );
    assert!(!xor_recovers(
        &e1.envelope,
        m1.as_bytes(),
        &e2.envelope,
        m2.as_bytes()
    ));
    // Bob reads the first; the second is a used position (a client that has not
    // seen its message id records it as a fork, §11).
    assert_eq!(recv(&mut p.b, &e1.envelope).unwrap().content, text(m1));
    let before = p.b.to_bytes();
    let err = recv(&mut p.b, &e2.envelope).unwrap_err();
    assert!(err.is_duplicate(), "{err}");
    assert_eq!(*p.b.to_bytes(), *before);
}

#[test]
fn a_restored_session_renews_and_the_peer_follows() {
    let mut p = pair(41);
    let hello =
        p.a.encrypt(&p.alice, &text("hello"), 0, &mut p.rng)
            .unwrap();
    recv(&mut p.b, &hello.envelope).unwrap();
    let reply = p.b.encrypt(&p.bob, &text("hi"), 0, &mut p.rng).unwrap();
    recv(&mut p.a, &reply.envelope).unwrap();
    let answer =
        p.a.encrypt(&p.alice, &text("answer"), 0, &mut p.rng)
            .unwrap();
    recv(&mut p.b, &answer.envelope).unwrap();

    // Backup now; the original sends two more (counters 2 and 3), Bob reads them.
    let mut restored = copy(&p.a);
    for t in ["after 1", "after 2"] {
        let e = p.a.encrypt(&p.alice, &text(t), 0, &mut p.rng).unwrap();
        recv(&mut p.b, &e.envelope).unwrap();
    }

    let notice = restored
        .renew_after_restore(&p.alice, 7, &mut p.rng)
        .unwrap();
    assert_eq!(notice.counter, 2 + RESTORE_COUNTER_STEP);
    let got = recv(&mut p.b, &notice.envelope).unwrap();
    assert_eq!(got.content, Content::SessionRestored { from: 2 });
    assert_eq!(
        got.events,
        vec![
            IntegrityEvent::Restored {
                from: 2,
                counter: notice.counter
            },
            IntegrityEvent::Fork {
                counter: notice.counter
            }
        ]
    );
    // The conversation goes on with the restored device, both ways.
    let m2 = restored
        .encrypt(&p.alice, &text("m2"), 0, &mut p.rng)
        .unwrap();
    let got = recv(&mut p.b, &m2.envelope).unwrap();
    assert_eq!((got.content, got.events), (text("m2"), vec![]));
    let back =
        p.b.encrypt(&p.bob, &text("welcome back"), 0, &mut p.rng)
            .unwrap();
    let got = recv(&mut restored, &back.envelope).unwrap();
    assert_eq!(got.content, text("welcome back"));
    // The original device can no longer read Bob, and says why.
    let err = recv(&mut p.a, &back.envelope).unwrap_err();
    assert!(err.is_fork(), "{err}");
    // Its messages from the old chain reach Bob as used positions.
    let stale =
        p.a.encrypt(&p.alice, &text("still here"), 0, &mut p.rng)
            .unwrap();
    let err = recv(&mut p.b, &stale.envelope).unwrap_err();
    assert!(err.is_duplicate() || err.is_fork(), "{err}");
}

#[test]
fn a_restore_with_nothing_sent_since_is_a_clean_renewal() {
    let mut p = pair(42);
    for t in ["one", "two"] {
        let e = p.a.encrypt(&p.alice, &text(t), 0, &mut p.rng).unwrap();
        recv(&mut p.b, &e.envelope).unwrap();
    }
    let mut restored = copy(&p.a);
    let notice = restored
        .renew_after_restore(&p.alice, 0, &mut p.rng)
        .unwrap();
    let got = recv(&mut p.b, &notice.envelope).unwrap();
    assert_eq!(
        got.events,
        vec![IntegrityEvent::Restored {
            from: 2,
            counter: 2 + RESTORE_COUNTER_STEP
        }]
    );
}

#[test]
fn the_inviter_and_the_acceptor_can_renew_before_either_replied() {
    // The acceptor, before any reply: its DH step uses the invite key.
    let mut p = pair(43);
    let mut restored = copy(&p.a);
    let notice = restored
        .renew_after_restore(&p.alice, 0, &mut p.rng)
        .unwrap();
    let got = recv(&mut p.b, &notice.envelope).unwrap();
    assert_eq!(
        got.events,
        vec![IntegrityEvent::Restored {
            from: 0,
            counter: RESTORE_COUNTER_STEP
        }]
    );
    // The inviter, before it sent anything (its step was pending anyway).
    let mut p = pair(44);
    let mut restored = copy(&p.b);
    let notice = restored.renew_after_restore(&p.bob, 0, &mut p.rng).unwrap();
    let got = recv(&mut p.a, &notice.envelope).unwrap();
    assert_eq!(got.content, Content::SessionRestored { from: 0 });
}

#[test]
fn a_restore_the_peer_cannot_follow_is_a_fork_not_tampering() {
    let mut p = pair(45);
    let hello =
        p.a.encrypt(&p.alice, &text("hello"), 0, &mut p.rng)
            .unwrap();
    recv(&mut p.b, &hello.envelope).unwrap();
    let restored_state = copy(&p.a);
    // Bob replies after the backup: his ratchet key moved on.
    let reply = p.b.encrypt(&p.bob, &text("hi"), 0, &mut p.rng).unwrap();
    recv(&mut p.a, &reply.envelope).unwrap();
    let mut restored = copy(&restored_state);
    let notice = restored
        .renew_after_restore(&p.alice, 0, &mut p.rng)
        .unwrap();
    let before = p.b.to_bytes();
    let err = recv(&mut p.b, &notice.envelope).unwrap_err();
    assert!(
        matches!(err, SessionError::Ratchet(RatchetError::Forked { n: 0 })),
        "{err}"
    );
    assert_eq!(*p.b.to_bytes(), *before, "nothing changes");

    // The original also moved on (it answered Bob) before the backup was restored.
    let answer =
        p.a.encrypt(&p.alice, &text("answer"), 0, &mut p.rng)
            .unwrap();
    recv(&mut p.b, &answer.envelope).unwrap();
    let mut restored = copy(&restored_state);
    let notice = restored
        .renew_after_restore(&p.alice, 0, &mut p.rng)
        .unwrap();
    let err = recv(&mut p.b, &notice.envelope).unwrap_err();
    assert!(err.is_fork() || err.is_duplicate(), "{err}");
}

#[test]
fn a_relay_flipping_body_bytes_is_tampering_never_a_fork() {
    let mut p = pair(46);
    let out =
        p.a.encrypt(&p.alice, &text("bound"), 0, &mut p.rng)
            .unwrap();
    for byte in (50..out.envelope.len()).step_by(7) {
        let mut bad = out.envelope.clone();
        bad[byte] ^= 0x20;
        let err = recv(&mut p.b, &bad).unwrap_err();
        assert!(
            matches!(
                err,
                SessionError::Ratchet(RatchetError::HeaderUndecryptable)
            ),
            "flip at {byte}: {err}"
        );
    }
    assert_eq!(
        recv(&mut p.b, &out.envelope).unwrap().content,
        text("bound")
    );
}

#[test]
fn a_failed_renewal_changes_nothing() {
    // Signing with another identity fails after the DH step was set up: undone.
    let mut p = pair(47);
    let before = p.a.to_bytes();
    let mut wrong = cairn_protocol::identity::Identity::from_seed([9; 32]);
    std::mem::swap(&mut wrong, &mut p.alice);
    assert!(p.a.renew_after_restore(&p.alice, 0, &mut p.rng).is_err());
    assert_eq!(*p.a.to_bytes(), *before);
}

#[test]
fn an_inviter_restored_after_its_first_step_reads_the_replies() {
    let mut p = pair(48);
    let m0 = p.b.encrypt(&p.bob, &text("m0"), 0, &mut p.rng).unwrap();
    recv(&mut p.a, &m0.envelope).unwrap();
    let mut restored = copy(&p.b);
    let m1 = p.b.encrypt(&p.bob, &text("m1"), 0, &mut p.rng).unwrap();
    recv(&mut p.a, &m1.envelope).unwrap();
    let notice = restored.renew_after_restore(&p.bob, 0, &mut p.rng).unwrap();
    recv(&mut p.a, &notice.envelope).unwrap();
    let m2 = restored
        .encrypt(&p.bob, &text("m2"), 0, &mut p.rng)
        .unwrap();
    recv(&mut p.a, &m2.envelope).unwrap();
    let back = p.a.encrypt(&p.alice, &text("back"), 0, &mut p.rng).unwrap();
    let got = recv(&mut restored, &back.envelope).unwrap();
    assert_eq!(got.content, text("back"));
}
