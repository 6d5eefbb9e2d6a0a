//! Sync rounds against the in-memory relay: invite, chat, outage, crash before ack.

use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::client::INVITE_TTL_SECS;
use crate::client::tests::new_client;
use crate::net::fake::FakeRelay;
use crate::store::MessageStatus;

struct Clock(AtomicU64);

impl Clock {
    fn now(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

fn opts() -> SyncOptions {
    SyncOptions {
        idle: Duration::from_millis(1),
        ..SyncOptions::default()
    }
}

struct World {
    _tmp: tempfile::TempDir,
    relay: FakeRelay,
    alice: Client,
    bob: Client,
    sa: Syncer<FakeRelay>,
    sb: Syncer<FakeRelay>,
    clock: Clock,
}

async fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let relay = FakeRelay::default();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let mut sa = Syncer::new(relay.clone(), opts());
    let mut sb = Syncer::new(relay.clone(), opts());
    let clock = Clock(AtomicU64::new(1_000_000));
    let now = || clock.now();

    let mb = alice.mint_mailbox();
    sa.create_mailbox(&mb).await.unwrap();
    let invite = alice.create_invite(&mb, now()).unwrap();
    let parsed = bob.parse_invite(&invite.uri, now()).unwrap();
    let reply = bob.mint_mailbox();
    sb.create_mailbox(&reply).await.unwrap();
    bob.accept_invite(&parsed, "alice", &reply, now()).unwrap();
    let r = sb.sync(&mut bob, &now).await.unwrap();
    assert_eq!((r.sent, r.queued), (1, 0));
    let r = sa.sync(&mut alice, &now).await.unwrap();
    assert!(
        matches!(&r.events[..], [ClientEvent::ContactAdded { .. }]),
        "{:?}",
        r.events
    );
    World {
        _tmp: tmp,
        relay,
        alice,
        bob,
        sa,
        sb,
        clock,
    }
}

#[tokio::test]
async fn chat_with_receipts_through_relay() {
    let mut w = world().await;
    let now = || w.clock.now();
    w.alice.send_text("Bob", "hello", now()).unwrap();
    let r = w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert_eq!(r.sent, 1);
    assert!(matches!(
        &r.events[..],
        [ClientEvent::StatusChanged {
            status: MessageStatus::Sent,
            ..
        }]
    ));
    let r = w.sb.sync(&mut w.bob, &now).await.unwrap();
    assert_eq!(r.new_messages, 1);
    assert_eq!(r.sent, 1, "delivery receipt sent");
    let r = w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert!(matches!(
        &r.events[..],
        [ClientEvent::StatusChanged {
            status: MessageStatus::Delivered,
            ..
        }]
    ));
    assert_eq!(w.relay.stored(), 0, "everything acked and deleted");
}

#[tokio::test]
async fn outage_keeps_messages_queued_and_retries_with_backoff() {
    let mut w = world().await;
    let now = || w.clock.now();
    w.relay.state().down = true;
    w.sa.disconnect();
    w.alice.send_text("Bob", "during outage", now()).unwrap();
    let r = w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert_eq!((r.sent, r.queued), (0, 1));
    assert!(!r.errors.is_empty());
    w.relay.state().down = false;
    // Not due yet: backoff.
    let r = w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert_eq!((r.sent, r.queued), (0, 1));
    w.clock.advance(5_000);
    let r = w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert_eq!((r.sent, r.queued), (1, 0));
    let r = w.sb.sync(&mut w.bob, &now).await.unwrap();
    assert_eq!(r.new_messages, 1);
}

#[tokio::test]
async fn crash_before_ack_redelivers_without_duplicates() {
    let mut w = world().await;
    let now = || w.clock.now();
    for i in 0..5 {
        w.alice.send_text("Bob", &format!("m{i}"), now()).unwrap();
    }
    w.sa.sync(&mut w.alice, &now).await.unwrap();
    // Bob stores the batch but "crashes" before acking: the relay still has them all.
    let mb = w.bob.active_mailboxes().unwrap()[0].id;
    let stored: Vec<Vec<u8>> = w.relay.state().mailboxes[&MailboxId(mb)]
        .values()
        .map(|(_, b)| b.clone())
        .collect();
    let deliveries: Vec<Delivery> = stored
        .into_iter()
        .map(|bytes| Delivery {
            mailbox: MailboxId(mb),
            bytes,
        })
        .collect();
    let first = w.bob.receive(&deliveries, now()).unwrap();
    assert_eq!(first.new_messages, 5);
    let dir = w.bob.dir().to_owned();
    drop(w.bob);
    let mut bob = Client::open(&dir, b"pw").unwrap();
    w.sb.disconnect();
    let r = w.sb.sync(&mut bob, &now).await.unwrap();
    assert_eq!(r.received, 5);
    assert_eq!(
        r.new_messages, 0,
        "redelivered, recognised, acked, not shown again"
    );
    assert_eq!(bob.timeline("alice").unwrap().len(), 5);
    assert_eq!(
        w.relay.stored(),
        1,
        "only Bob's own receipt to Alice is left"
    );
}

#[tokio::test]
async fn failing_sends_stay_queued() {
    let mut w = world().await;
    let now = || w.clock.now();
    w.relay.state().fail_sends = true;
    w.bob.send_text("alice", "x", now()).unwrap();
    let r = w.sb.sync(&mut w.bob, &now).await.unwrap();
    assert_eq!(r.queued, 1);
    assert_eq!(w.bob.timeline("alice").unwrap().len(), 1);
    w.relay.state().fail_sends = false;
    w.clock.advance(10_000);
    let r = w.sb.sync(&mut w.bob, &now).await.unwrap();
    assert_eq!((r.sent, r.queued), (1, 0));
}

#[tokio::test]
async fn expired_invites_are_dropped_and_their_mailboxes_deleted_at_the_relay() {
    let mut w = world().await;
    let now = || w.clock.now();
    let unused = w.alice.mint_mailbox();
    w.sa.create_mailbox(&unused).await.unwrap();
    w.alice.create_invite(&unused, now()).unwrap();
    let fresh = w.alice.mint_mailbox();
    w.sa.create_mailbox(&fresh).await.unwrap();
    assert!(w.relay.state().mailboxes.contains_key(&unused.id));
    let before = w.alice.active_mailboxes().unwrap().len();

    // Still valid: nothing happens.
    w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert!(w.relay.state().mailboxes.contains_key(&unused.id));
    assert_eq!(w.alice.active_mailboxes().unwrap().len(), before);

    // A week and a bit later the invite is gone, its mailbox too (here and at
    // the relay); the mailbox of the completed invite (Bob's conversation) stays.
    w.clock.advance((INVITE_TTL_SECS + 60) * 1000);
    let r = w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(!w.relay.state().mailboxes.contains_key(&unused.id));
    assert_eq!(w.alice.active_mailboxes().unwrap().len(), before - 1);
    assert!(w.alice.mailboxes_to_delete().unwrap().is_empty());
    w.bob.send_text("alice", "still here", now()).unwrap();
    w.sb.sync(&mut w.bob, &now).await.unwrap();
    let r = w.sa.sync(&mut w.alice, &now).await.unwrap();
    assert_eq!(r.new_messages, 1);
}
