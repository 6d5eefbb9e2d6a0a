//! A restored backup and a copied profile (PROTOCOL.md §2, §11): the restored
//! profile renews every session, the peer shows it, and a message from a used
//! chain position or a diverged state is recorded as a fork, never dropped silently.

use std::path::Path;

use cairn_protocol::envelope::{MailboxId, MessageId};

use super::*;
use crate::store::{ContactId, EventKind, IntegrityRecord};
use crate::testing::{pair, pump};

const PASS: &[u8] = b"pw";

fn id(client: &Client, name: &str) -> ContactId {
    client.contact_named(name).unwrap().id
}

fn texts(client: &Client, contact: &str) -> Vec<String> {
    client
        .timeline(id(client, contact))
        .unwrap()
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => Some(m.body),
            TimelineItem::Event(_) => None,
        })
        .collect()
}

fn events(report: &ReceiveReport) -> Vec<IntegrityRecord> {
    report
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Integrity { event } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

/// Everything `from` has queued, as relay deliveries (not marked sent).
fn queued(from: &Client) -> Vec<Delivery> {
    from.outbox_due(u64::MAX, 1_000)
        .unwrap()
        .iter()
        .map(|i| Delivery {
            mailbox: MailboxId(i.mailbox),
            message: MessageId(i.envelope_id),
            bytes: i.envelope.clone(),
        })
        .collect()
}

/// Copies a closed profile directory, as a user copying the folder would.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_copied_profile_sending_from_a_used_position_is_recorded_as_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = pair(tmp.path(), 1_000);
    // One message first: the copy then shares Alice's current sending chain.
    alice.send_text(id(&alice, "Bob"), "before", 1_500).unwrap();
    pump(&mut alice, &mut bob, 1_600);
    let a_dir = tmp.path().join("a");
    drop(alice);
    copy_dir(&a_dir, &tmp.path().join("copy"));
    let mut alice = Client::open(&a_dir, PASS).unwrap();
    let mut copy = Client::open(&tmp.path().join("copy"), PASS).unwrap();

    // Both send from the same chain position; neither knows about the other.
    alice
        .send_text(id(&alice, "Bob"), "from the original", 2_000)
        .unwrap();
    copy.send_text(id(&copy, "Bob"), "from the copy", 2_000)
        .unwrap();
    let original = queued(&alice);
    let first = pump(&mut alice, &mut bob, 3_000);
    assert_eq!(first.new_messages, 1);
    let second = pump(&mut copy, &mut bob, 4_000);
    assert_eq!(second.new_messages, 0);
    let forks = events(&second);
    assert!(
        matches!(&forks[..], [e] if e.kind == EventKind::Fork
            && e.detail.contains("restored or cloned")
            && e.detail.contains("already used")),
        "a used position under a new message id is a fork, not a silent drop: {forks:?}"
    );
    // The original's envelope delivered again is a relay redelivery (same id):
    // acked, nothing recorded.
    let again = bob.receive(&original, 4_500).unwrap();
    assert_eq!((again.new_messages, events(&again).len()), (0, 0));
    assert_eq!(texts(&bob, "alice"), vec!["before", "from the original"]);
}

#[test]
fn a_restored_profile_renews_every_session_and_the_peer_sees_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = pair(tmp.path(), 1_000);
    let (to_bob, to_alice) = (id(&alice, "Bob"), id(&bob, "alice"));
    alice.send_text(to_bob, "m0", 2_000).unwrap();
    pump(&mut alice, &mut bob, 2_500);
    let backup = tmp.path().join("alice.backup");
    alice.export(&backup, PASS).unwrap();

    // The original goes on after the backup: m1 and the receipt for nothing.
    alice.send_text(to_bob, "m1", 3_000).unwrap();
    let got = pump(&mut alice, &mut bob, 3_500);
    assert_eq!(got.new_messages, 1);

    // The backup is restored elsewhere: its first envelope is the notice.
    let mut restored = Client::import(&backup, &tmp.path().join("restored"), PASS, 4_000).unwrap();
    assert_eq!(restored.outbox_len().unwrap(), 1, "one notice per session");
    restored
        .send_text(id(&restored, "Bob"), "m2", 5_000)
        .unwrap();
    let got = pump(&mut restored, &mut bob, 6_000);
    let evs = events(&got);
    assert!(
        evs.iter().any(|e| e.kind == EventKind::Restored
            && e.detail == "alice restored from a backup — session renewed"),
        "{evs:?}"
    );
    assert!(
        evs.iter()
            .any(|e| e.kind == EventKind::Fork && e.detail.contains("another copy")),
        "Bob holds m1, which the backup does not have: {evs:?}"
    );
    assert_eq!(got.new_messages, 1);
    assert_eq!(texts(&bob, "alice"), vec!["m0", "m1", "m2"]);

    // The conversation goes on with the restored profile; the original can no
    // longer read Bob, and says why instead of dropping it.
    bob.send_text(to_alice, "welcome back", 7_000).unwrap();
    let replies = queued(&bob);
    let at_restored = restored.receive(&replies, 8_000).unwrap();
    assert_eq!(at_restored.new_messages, 1);
    assert!(
        events(&at_restored).is_empty(),
        "{:?}",
        events(&at_restored)
    );
    let at_original = alice.receive(&replies, 8_000).unwrap();
    assert_eq!(at_original.new_messages, 0);
    let forks = events(&at_original);
    assert!(
        forks.len() == replies.len() && forks.iter().all(|e| e.kind == EventKind::Fork),
        "one fork per message the original cannot read: {forks:?}"
    );
    // And the original's later messages are forks at Bob, not silent drops.
    alice.send_text(to_bob, "still here", 9_000).unwrap();
    let stale = pump(&mut alice, &mut bob, 9_500);
    assert_eq!(stale.new_messages, 0);
    assert!(
        events(&stale).iter().any(|e| e.kind == EventKind::Fork),
        "{:?}",
        events(&stale)
    );
}

#[test]
fn a_restore_the_peer_cannot_follow_is_a_fork_at_the_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = pair(tmp.path(), 1_000);
    alice.send_text(id(&alice, "Bob"), "m0", 2_000).unwrap();
    pump(&mut alice, &mut bob, 2_500);
    let backup = tmp.path().join("alice.backup");
    alice.export(&backup, PASS).unwrap();
    // Bob answers the original after the backup: his ratchet key moves on.
    bob.send_text(id(&bob, "alice"), "hi", 3_000).unwrap();
    pump(&mut bob, &mut alice, 3_500);

    let mut restored = Client::import(&backup, &tmp.path().join("restored"), PASS, 4_000).unwrap();
    let got = pump(&mut restored, &mut bob, 5_000);
    assert_eq!(got.new_messages, 0);
    assert!(
        matches!(&events(&got)[..], [e] if e.kind == EventKind::Fork
            && e.detail.contains("restored or cloned")
            && e.detail.contains("cannot be read")),
        "{:?}",
        events(&got)
    );
}
