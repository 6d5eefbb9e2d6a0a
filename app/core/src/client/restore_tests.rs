//! A copied profile (PROTOCOL.md §2, §11): a message from a used chain
//! position or a diverged state is recorded as a fork, never dropped silently.

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
