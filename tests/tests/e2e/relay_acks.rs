//! Acknowledgements against a real relay process: batch acks, acks of
//! envelopes pushed live before they were written, and acks having their
//! own rate-limit bucket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_protocol::frames::ErrorCode;
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::wire::{connect, drain, next};
use cairn_tests::{RelayOptions, RelayProcess};

/// Stores `n` envelopes in `mbox` while nobody is subscribed; returns their ids.
async fn store(relay: &RelayProcess, mbox: MailboxId, n: usize) -> Vec<MessageId> {
    let (sender, _in) = connect(relay.address()).await;
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = message_id();
        sender
            .send(envelope(mbox, id, 1024, b"batch"))
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn batch_ack_deletes_every_listed_envelope() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (c, mut incoming) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let ids = store(&relay, mbox, 10).await;
    c.subscribe(mbox, &key).await.unwrap();
    let mut acks = Vec::new();
    for _ in 0..10 {
        let d = next(&mut incoming).await;
        acks.push((d.mailbox, d.message));
    }
    let got: HashSet<_> = acks.iter().map(|(_, id)| *id).collect();
    assert_eq!(got, ids.iter().copied().collect());
    c.ack_many(&acks).await.unwrap();
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(0));
    assert_eq!(relay.metric("cairn_relay_acks_total"), Some(10));

    // Nothing comes back on a new subscription.
    let (again, mut again_in) = connect(relay.address()).await;
    again.subscribe(mbox, &key).await.unwrap();
    assert!(
        drain(&mut again_in, Duration::from_millis(300))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn batch_ack_naming_an_unsubscribed_mailbox_changes_nothing() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (c, mut incoming) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    let (other, _) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    store(&relay, mbox, 2).await;
    c.subscribe(mbox, &key).await.unwrap();
    let first = next(&mut incoming).await;
    let second = next(&mut incoming).await;
    let err = c
        .ack_many(&[(mbox, first.message), (other, second.message)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotSubscribed));
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(2));
}

#[tokio::test]
async fn live_envelope_acked_by_its_recipient_is_safe_and_gone() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (alice, mut alice_in) = connect(relay.address()).await;
    let (bob, _bob_in) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    alice
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    alice.subscribe(mbox, &key).await.unwrap();
    // The recipient acks what it is pushed while the sender waits for its Ok:
    // the Ok may come from that ack (the envelope is then never written).
    let receiver = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..50 {
            let d = next(&mut alice_in).await;
            alice.ack(d.mailbox, d.message).await.unwrap();
            got.push(d.message);
        }
        (alice, alice_in, got)
    });
    let mut sent = Vec::new();
    for _ in 0..50 {
        let id = message_id();
        bob.send(envelope(mbox, id, 1024, b"live")).await.unwrap();
        sent.push(id);
    }
    let (_alice, _alice_in, got) = receiver.await.unwrap();
    assert_eq!(got, sent, "live deliveries keep the send order");
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(0));

    // Nothing is redelivered to a new subscription.
    let (again, mut again_in) = connect(relay.address()).await;
    again.subscribe(mbox, &key).await.unwrap();
    assert!(
        drain(&mut again_in, Duration::from_millis(300))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn live_envelope_not_acked_is_stored_and_redelivered() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (alice, mut alice_in) = connect(relay.address()).await;
    let (bob, _bob_in) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    alice
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    alice.subscribe(mbox, &key).await.unwrap();
    let id = message_id();
    bob.send(envelope(mbox, id, 1024, b"keep")).await.unwrap();
    assert_eq!(next(&mut alice_in).await.message, id, "pushed live");
    // No ack: Bob's Ok means it is in the database.
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(1));
    drop((alice, alice_in));
    let (again, mut again_in) = connect(relay.address()).await;
    again.subscribe(mbox, &key).await.unwrap();
    assert_eq!(next(&mut again_in).await.message, id, "redelivered");
}

#[tokio::test]
async fn acks_have_their_own_rate_limit_bucket() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--rate-per-connection",
        "1",
        "--burst-per-connection",
        "6",
        "--rate-per-ip",
        "0",
    ]));
    let (mbox, key) = mailbox();
    let (c, mut incoming) = connect(relay.address()).await;
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    store(&relay, mbox, 3).await;
    c.subscribe(mbox, &key).await.unwrap();
    let mut deliveries = Vec::new();
    for _ in 0..3 {
        deliveries.push(next(&mut incoming).await);
    }
    // Use up the rest of the request bucket.
    let (elsewhere, _) = mailbox();
    let calls = (0..20).map(|_| c.unsubscribe(elsewhere));
    let results = futures_util::future::join_all(calls).await;
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(e) if e.code() == Some(ErrorCode::RateLimited))),
        "the request bucket ran dry"
    );
    // Acks still pass: one single, then one batch.
    let d = &deliveries[0];
    c.ack(d.mailbox, d.message).await.unwrap();
    let rest: Vec<_> = deliveries[1..]
        .iter()
        .map(|d| (d.mailbox, d.message))
        .collect();
    c.ack_many(&rest).await.unwrap();
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(0));
}

/// PROTOCOL.md §18.4: a message id is stored at most once *while it is stored*; once
/// acked it is forgotten, and the same envelope sent again is stored and delivered again
/// (recipients deduplicate by message id).
#[tokio::test]
async fn resending_an_envelope_is_idempotent_only_until_it_is_acked() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (c, mut incoming) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let (sender, _in) = connect(relay.address()).await;
    let id = message_id();
    let env = envelope(mbox, id, 1024, b"again");
    sender.send(env.clone()).await.unwrap();
    sender.send(env.clone()).await.unwrap();
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(1));

    c.subscribe(mbox, &key).await.unwrap();
    assert_eq!(next(&mut incoming).await.message, id);
    assert!(
        drain(&mut incoming, Duration::from_millis(300))
            .await
            .is_empty(),
        "stored once, delivered once"
    );
    c.ack(mbox, id).await.unwrap();
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(0));

    // After the ack the relay no longer knows the id: accepted and delivered again.
    sender.send(env).await.unwrap();
    let again = next(&mut incoming).await;
    assert_eq!(again.message, id);
    c.ack(mbox, id).await.unwrap();
}
