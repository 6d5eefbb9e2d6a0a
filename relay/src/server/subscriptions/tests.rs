//! The backlog/live ordering rules, driven step by step without I/O: each
//! test feeds `Subscriptions` the events a connection would and checks the
//! frames it is told to write, in order.

use bytes::Bytes;
use cairn_protocol::envelope::{BodyKind, MailboxId, MessageId, write_header};
use cairn_protocol::frames::RelayFrame;

use super::*;

const M: MailboxId = MailboxId([1; 32]);
const OTHER: MailboxId = MailboxId([2; 32]);
/// The hub generation of the test's registration.
const GEN: u64 = 7;

/// A valid envelope for `mailbox` whose message id is `n` repeated.
fn envelope(mailbox: MailboxId, n: u8) -> Bytes {
    let mut out = Vec::new();
    write_header(&mut out, &mailbox, &MessageId([n; 16]), BodyKind::Ratchet);
    out.resize(1024, n);
    Bytes::from(out)
}

/// The `Deliver` frame for envelope `n` of `M`.
fn deliver(n: u8) -> Bytes {
    Bytes::from(
        RelayFrame::Deliver {
            envelope: &envelope(M, n),
        }
        .encode(0),
    )
}

/// A live push of envelope `n` of `mailbox`, as the hub makes it.
fn push(mailbox: MailboxId, n: u8) -> Push {
    Push {
        mailbox,
        message: MessageId([n; 16]),
        frame: Bytes::from(
            RelayFrame::Deliver {
                envelope: &envelope(mailbox, n),
            }
            .encode(0),
        ),
    }
}

/// Envelopes `ns` of `M` as a store page, at storage positions `first..`.
fn page(first: u64, ns: impl IntoIterator<Item = u8>) -> Result<Vec<StoredEnvelope>, StoreError> {
    Ok(ns
        .into_iter()
        .zip(first..)
        .map(|(n, seq)| StoredEnvelope {
            seq,
            envelope: envelope(M, n),
        })
        .collect())
}

/// Which envelopes (by id byte) `frames` deliver, in order.
fn delivered(frames: &[Bytes]) -> Vec<u8> {
    frames
        .iter()
        .map(|frame| match RelayFrame::decode(frame).unwrap().1 {
            RelayFrame::Deliver { envelope } => envelope[33],
            other => panic!("not a delivery: {other:?}"),
        })
        .collect()
}

fn subscribed() -> (Subscriptions, Fetch) {
    let mut subs = Subscriptions::new(1024);
    let first = subs.subscribe(M, GEN).unwrap();
    assert_eq!(first.after, 0, "the backlog is read from the start");
    (subs, first)
}

#[test]
fn the_backlog_then_live_pushes_with_no_loss_and_no_duplicate() {
    let (mut subs, first) = subscribed();
    // Sent while the backlog is read: 2 made it into the backlog read, 3 did not.
    assert_eq!(subs.push(&push(M, 2)), Pushed::Held);
    assert_eq!(subs.push(&push(M, 3)), Pushed::Held);
    let backlog = subs.page(first, page(1, [1, 2]));
    assert_eq!(backlog.next, Next::Live);
    assert_eq!(
        delivered(&backlog.frames),
        [1, 2, 3],
        "2 once, in storage order"
    );
    // Live now: pushes go straight out.
    assert_eq!(subs.push(&push(M, 4)), Pushed::Deliver(deliver(4)));
}

#[test]
fn pushes_held_during_a_long_backlog_follow_it_in_arrival_order() {
    let (mut subs, first) = subscribed();
    let full: Vec<u8> = (0..PAGE).map(|i| (i % 200) as u8 + 10).collect();
    for n in [9, 5, 7] {
        assert_eq!(subs.push(&push(M, n)), Pushed::Held);
    }
    let backlog = subs.page(first, page(1, full.iter().copied()));
    assert_eq!(delivered(&backlog.frames), full);
    let Next::Fetch(second) = backlog.next else {
        panic!("a full page asks for the next: {:?}", backlog.next);
    };
    assert_eq!(second.after, PAGE as u64, "after the last one sent");
    assert_eq!(subs.push(&push(M, 6)), Pushed::Held);
    // 5 is also in the second page: sent there, not again.
    let backlog = subs.page(second, page(PAGE as u64 + 1, [3, 5]));
    assert_eq!(backlog.next, Next::Live);
    assert_eq!(delivered(&backlog.frames), [3, 5, 9, 7, 6]);
}

#[test]
fn too_many_held_pushes_disconnect_the_slow_reader() {
    let mut subs = Subscriptions::new(2);
    subs.subscribe(M, GEN).unwrap();
    assert_eq!(subs.push(&push(M, 1)), Pushed::Held);
    assert_eq!(subs.push(&push(M, 2)), Pushed::Held);
    assert_eq!(subs.push(&push(M, 3)), Pushed::Overflow);
}

#[test]
fn unsubscribing_during_the_backlog_drops_its_pages_and_pushes() {
    let (mut subs, first) = subscribed();
    assert_eq!(subs.push(&push(M, 2)), Pushed::Held);
    assert!(subs.unsubscribe(&M));
    assert!(!subs.contains(&M));
    let backlog = subs.page(first, page(1, [1]));
    assert_eq!(backlog.next, Next::Stale);
    assert!(backlog.frames.is_empty(), "neither backlog nor held pushes");
    assert_eq!(subs.push(&push(M, 3)), Pushed::Dropped);
    // Subscribing again starts afresh; the old subscription's page is ignored.
    let again = subs.subscribe(M, GEN + 1).unwrap();
    assert_ne!(again.token, first.token);
    assert_eq!(subs.page(first, page(1, [1])).next, Next::Stale);
    assert_eq!(delivered(&subs.page(again, page(1, [1])).frames), [1]);
}

#[test]
fn subscribing_twice_is_one_subscription() {
    let (mut subs, first) = subscribed();
    assert_eq!(subs.push(&push(M, 2)), Pushed::Held);
    assert_eq!(subs.subscribe(M, GEN), None, "no second backlog");
    assert_eq!(subs.len(), 1);
    let backlog = subs.page(first, page(1, [1]));
    assert_eq!(delivered(&backlog.frames), [1, 2], "the held push survived");
    assert_eq!(subs.subscribe(M, GEN), None, "nor once live");
    assert_eq!(subs.push(&push(M, 3)), Pushed::Deliver(deliver(3)));
}

#[test]
fn a_deleted_mailbox_ends_its_subscription() {
    let (mut subs, first) = subscribed();
    subs.subscribe(OTHER, GEN + 1).unwrap();
    assert_eq!(subs.push(&push(M, 2)), Pushed::Held);
    assert!(subs.ended(&M, GEN));
    assert!(!subs.contains(&M));
    assert!(subs.contains(&OTHER), "other subscriptions stay");
    assert_eq!(subs.page(first, page(1, [1])).next, Next::Stale);
    assert_eq!(subs.push(&push(M, 3)), Pushed::Dropped);
}

#[test]
fn a_deletion_notice_for_an_older_registration_spares_a_newer_one() {
    let (mut subs, _) = subscribed();
    // The hub ended registration GEN and the connection subscribed again
    // (registration GEN + 5) before the notice came through its queue.
    let again = subs.subscribe(M, GEN + 5).unwrap();
    assert!(!subs.ended(&M, GEN));
    assert!(subs.contains(&M));
    assert_eq!(subs.page(again, page(1, [])).next, Next::Live);
    assert_eq!(subs.push(&push(M, 1)), Pushed::Deliver(deliver(1)));
}

#[test]
fn a_mailbox_gone_before_its_first_page_ends_the_subscription() {
    let (mut subs, first) = subscribed();
    assert_eq!(subs.push(&push(M, 2)), Pushed::Held);
    let backlog = subs.page(first, Err(StoreError::NoSuchMailbox));
    assert_eq!(backlog.next, Next::Gone);
    assert!(backlog.frames.is_empty(), "not even the held push");
    assert!(!subs.contains(&M));
}

#[test]
fn a_failed_backlog_read_goes_live_with_what_was_held() {
    let (mut subs, first) = subscribed();
    assert_eq!(subs.push(&push(M, 2)), Pushed::Held);
    let backlog = subs.page(first, Err(StoreError::Unavailable("disk".into())));
    assert_eq!(backlog.next, Next::Live);
    assert_eq!(delivered(&backlog.frames), [2]);
}

#[test]
fn pushes_for_mailboxes_not_subscribed_are_dropped() {
    let (mut subs, _) = subscribed();
    assert_eq!(subs.push(&push(OTHER, 1)), Pushed::Dropped);
    assert_eq!(subs.drain().collect::<Vec<_>>(), [M]);
    assert_eq!(subs.push(&push(M, 1)), Pushed::Dropped);
}
