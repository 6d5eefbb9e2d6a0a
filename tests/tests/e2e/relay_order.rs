//! Delivery order: a mailbox's envelopes come back in the order one
//! connection sent them, even when the sends are pipelined.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::envelope::MessageId;
use cairn_relay_client::{Deliveries, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::wire::{connect, next};
use cairn_tests::{RelayOptions, RelayProcess};

/// Reads `n` deliveries and acks each; returns their message ids in arrival order.
async fn receive(client: &RelayClient, incoming: &mut Deliveries, n: usize) -> Vec<MessageId> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        let d = next(incoming).await;
        client.ack(d.mailbox, d.message).await.unwrap();
        got.push(d.message);
    }
    got
}

fn out_of_order(got: &[MessageId], sent: &[MessageId]) -> usize {
    got.iter().zip(sent).filter(|(a, b)| a != b).count()
}

/// What the app's outbox does: bursts of 256 pipelined sends on one
/// connection while the recipient is offline. The backlog must come back
/// exactly in send order (once, this lost the order of most of a burst).
#[tokio::test]
async fn pipelined_sends_are_stored_and_delivered_in_send_order() {
    // 2,049 frames as fast as one connection can write them: more than the
    // default burst of 2,000, so the rate limit is off (it is not under test).
    let relay = RelayProcess::start(RelayOptions::default().args([
        "--rate-per-connection",
        "0",
        "--rate-per-ip",
        "0",
    ]));
    let (sender, _s) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    sender
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let ids: Vec<MessageId> = (0..2048).map(|_| message_id()).collect();
    for chunk in ids.chunks(256) {
        let envelopes: Vec<Bytes> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                envelope(
                    mbox,
                    *id,
                    if i % 3 == 0 { 4096 } else { 1024 },
                    b"pipelined",
                )
            })
            .collect();
        for result in sender.send_many(&envelopes).await {
            result.unwrap();
        }
    }

    // First subscriber takes part of the backlog and disappears without
    // acking the rest; the next one must still see the remainder in order.
    let (first, mut first_in) = connect(relay.address()).await;
    first.subscribe(mbox, &key).await.unwrap();
    let head = receive(&first, &mut first_in, 300).await;
    assert_eq!(
        out_of_order(&head, &ids[..300]),
        0,
        "first backlog in send order"
    );
    drop((first, first_in));

    let (again, mut again_in) = connect(relay.address()).await;
    again.subscribe(mbox, &key).await.unwrap();
    let rest = receive(&again, &mut again_in, ids.len() - 300).await;
    let moved = out_of_order(&rest, &ids[300..]);
    assert_eq!(
        moved,
        0,
        "{moved} of {} redelivered out of send order",
        rest.len()
    );
}

/// `send_many` answers one result per envelope, in order, and a closed
/// connection fails them all rather than hanging.
#[tokio::test]
async fn send_many_reports_each_envelope() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (sender, _s) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    sender
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let (unknown, _) = mailbox();
    let envelopes = vec![
        envelope(mbox, message_id(), 1024, b"a"),
        envelope(unknown, message_id(), 1024, b"no such mailbox"),
        envelope(mbox, message_id(), 1024, b"b"),
    ];
    let results = sender.send_many(&envelopes).await;
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok());
    assert!(
        results[1].is_err(),
        "refused envelope reported at its position"
    );
    assert!(results[2].is_ok());
    assert!(sender.send_many(&[]).await.is_empty());

    sender.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = sender.send_many(&envelopes).await;
    assert_eq!(closed.len(), 3);
    assert!(
        closed.iter().all(Result::is_err),
        "closed connection fails every send"
    );
}
