//! Skipped message keys (PROTOCOL.md §9.7): at most 2,000 derived per
//! message over both chains, at most 2,000 stored over all chains, 30 days
//! each; a message whose key was discarded is reported lost, never taken for
//! a replay; the version-1 state encoding is still read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cairn_protocol::content::Content;
use cairn_protocol::envelope::Envelope;
use cairn_protocol::identity::Identity;
use cairn_protocol::ratchet::{MAX_SKIP, MAX_STORED_KEYS, RatchetError, SKIPPED_KEY_TTL_MS};
use cairn_protocol::session::{Outgoing, Session, SessionError};
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

const T0: u64 = 1_850_000_000_000;

fn send(s: &mut Session, me: &Identity, rng: &mut ChaCha20Rng, n: usize) -> Vec<Outgoing> {
    (0..n)
        .map(|i| {
            s.encrypt(me, &Content::Text(format!("m{i}")), T0, rng)
                .unwrap()
        })
        .collect()
}

fn recv(s: &mut Session, out: &Outgoing, now: u64) -> Result<String, SessionError> {
    let got = s.decrypt(&Envelope::parse(&out.envelope).unwrap(), now)?;
    match got.content {
        Content::Text(t) => Ok(t),
        other => panic!("unexpected {other:?}"),
    }
}

fn lost(result: Result<String, SessionError>) -> Option<u64> {
    match result {
        Err(SessionError::Ratchet(RatchetError::KeyDiscarded { counter, .. })) => counter,
        other => panic!("expected a lost message, got {other:?}"),
    }
}

#[test]
fn one_message_derives_at_most_2000_keys_over_both_chains_and_evicted_ones_are_lost() {
    let mut p = common::pair(21);
    // Alice's first chain: 1,402 messages; Bob gets only the first.
    let first = send(&mut p.a, &p.alice, &mut p.rng, 1402);
    recv(&mut p.b, &first[0], T0).unwrap();
    // Bob answers, so Alice's next message opens a new chain (PN = 1402).
    let reply = send(&mut p.b, &p.bob, &mut p.rng, 1);
    recv(&mut p.a, &reply[0], T0).unwrap();
    let second = send(&mut p.a, &p.alice, &mut p.rng, 701);
    // Number 600 of the new chain needs 1,401 keys of the old chain and 600
    // of the new one: 2,001, over the limit, and nothing changes.
    let before = p.b.to_bytes();
    let err = recv(&mut p.b, &second[600], T0).unwrap_err();
    assert_eq!(
        err,
        SessionError::Ratchet(RatchetError::TooManySkipped {
            skip: 2001,
            max: MAX_SKIP
        })
    );
    assert_eq!(*p.b.to_bytes(), *before);
    // Number 599 needs exactly 2,000: accepted, and 2,000 keys are stored.
    assert_eq!(recv(&mut p.b, &second[599], T0).unwrap(), "m599");
    assert_eq!(p.b.stored_skipped_keys(), MAX_STORED_KEYS);
    // 100 more on the new chain push the 100 oldest keys out (old chain 1..=100).
    assert_eq!(recv(&mut p.b, &second[700], T0).unwrap(), "m700");
    assert_eq!(p.b.stored_skipped_keys(), MAX_STORED_KEYS);
    // Their messages arrive late: lost, with their counters, not replays.
    assert_eq!(lost(recv(&mut p.b, &first[1], T0)), Some(1));
    assert_eq!(lost(recv(&mut p.b, &first[100], T0)), Some(100));
    let err = recv(&mut p.b, &first[100], T0).unwrap_err();
    assert!(
        err.to_string()
            .contains("message 100 arrived after its key was discarded"),
        "{err}"
    );
    // The next one still has its key; counters of the new chain are right too.
    assert_eq!(recv(&mut p.b, &first[101], T0).unwrap(), "m101");
    assert_eq!(recv(&mut p.b, &second[0], T0).unwrap(), "m0");
    // The record of discarded keys survives storage.
    let mut again = Session::from_bytes(&p.b.to_bytes()).unwrap();
    assert_eq!(lost(recv(&mut again, &first[50], T0)), Some(50));
    // A real replay is still a duplicate.
    assert!(
        recv(&mut again, &first[101], T0)
            .unwrap_err()
            .is_duplicate()
    );
}

#[test]
fn skipping_on_an_empty_receiving_chain_counts_only_the_new_chain() {
    // Alice accepted and has no receiving chain yet; Bob sends 2,002 at once.
    let mut p = common::pair(22);
    let bobs = send(&mut p.b, &p.bob, &mut p.rng, 2002);
    let err = recv(&mut p.a, &bobs[2001], T0).unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::Ratchet(RatchetError::TooManySkipped { skip: 2001, .. })
        ),
        "{err:?}"
    );
    assert_eq!(recv(&mut p.a, &bobs[2000], T0).unwrap(), "m2000");
    assert_eq!(p.a.stored_skipped_keys(), 2000);
}

#[test]
fn skipped_keys_expire_after_30_days_and_their_messages_are_reported_lost() {
    let mut p = common::pair(23);
    let msgs = send(&mut p.a, &p.alice, &mut p.rng, 4);
    recv(&mut p.b, &msgs[3], T0).unwrap();
    assert_eq!(p.b.stored_skipped_keys(), 3);
    // Just inside 30 days: still readable.
    let last_ms = T0 + SKIPPED_KEY_TTL_MS - 1;
    assert_eq!(recv(&mut p.b, &msgs[2], last_ms).unwrap(), "m2");
    // At 30 days the key is not used, even before anything discards it.
    assert_eq!(
        lost(recv(&mut p.b, &msgs[1], T0 + SKIPPED_KEY_TTL_MS)),
        Some(1)
    );
    // Expiring discards them for good (a quiet conversation, from housekeeping).
    assert_eq!(p.b.expire_skipped_keys(last_ms), 0);
    assert_eq!(p.b.expire_skipped_keys(T0 + SKIPPED_KEY_TTL_MS), 2);
    assert_eq!(p.b.stored_skipped_keys(), 0);
    let mut reloaded = Session::from_bytes(&p.b.to_bytes()).unwrap();
    assert_eq!(lost(recv(&mut reloaded, &msgs[0], T0)), Some(0));
}

fn legacy() -> (Vec<u8>, Vec<Vec<u8>>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/legacy/session_state_v1.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let hex = |v: &Value| hex::decode(v.as_str().unwrap()).unwrap();
    let late = v["late"].as_array().unwrap().iter().map(hex).collect();
    (hex(&v["session_v1"]), late)
}

#[test]
fn a_version_1_state_is_read_and_its_keys_start_their_30_days_on_first_use() {
    let (state, late) = legacy();
    // Session header: version, conversation, two identities, no pending
    // identity, two mailboxes; then the ratchet's version byte.
    let ratchet_version = 1 + 32 + 64 + 64 + 1 + 32 + 32;
    assert_eq!(state[ratchet_version], 1);
    let mut s = Session::from_bytes(&state).unwrap();
    assert_eq!(s.stored_skipped_keys(), 2);
    let text = |s: &mut Session, i: usize, now| {
        s.decrypt(&Envelope::parse(&late[i]).unwrap(), now)
            .map(|r| r.content)
    };
    assert_eq!(text(&mut s, 1, T0), Ok(Content::Text("one".into())));
    // Written back in version 2 (inside a version-2 session, which adds one
    // byte for the mailbox moved away from, §14); the remaining key's clock started at T0.
    let bytes = s.to_bytes();
    assert_eq!(bytes[0], 2, "session version");
    assert_eq!(bytes[ratchet_version + 1], 2);
    let mut s = Session::from_bytes(&bytes).unwrap();
    let mut expired = Session::from_bytes(&bytes).unwrap();
    assert_eq!(
        text(&mut s, 0, T0 + SKIPPED_KEY_TTL_MS - 1),
        Ok(Content::Text("zero".into()))
    );
    // Its counter is not known (version 1 did not store it).
    let err = text(&mut expired, 0, T0 + SKIPPED_KEY_TTL_MS).unwrap_err();
    assert_eq!(err.lost(), Some(None));
    assert!(
        err.to_string()
            .contains("a message (number 0 of its chain)"),
        "{err}"
    );
}
