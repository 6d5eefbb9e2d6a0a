//! The admin `/metrics` endpoint of a real relay process: the count of
//! appends never written because their online recipient acked them first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::{RelayOptions, RelayProcess};

#[tokio::test]
async fn metrics_count_appends_cancelled_by_live_acks() {
    let relay = RelayProcess::start(RelayOptions::default());
    assert_eq!(
        relay.metric("cairn_relay_appends_cancelled_total"),
        Some(0),
        "exported from the start"
    );
    let text = relay.admin_get("/metrics");
    assert!(text.contains("# HELP cairn_relay_appends_cancelled "));
    assert!(text.contains("# TYPE cairn_relay_appends_cancelled counter"));

    let (alice, mut alice_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (bob, _bob_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (mbox, key) = mailbox();
    alice
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    alice.subscribe(mbox, &key).await.unwrap();
    const N: u64 = 50;
    // Alice acks each envelope as it is pushed; most acks reach the relay
    // while the envelope's write is still held (50 ms), cancelling it.
    let receiver = tokio::spawn(async move {
        for _ in 0..N {
            let d = tokio::time::timeout(Duration::from_secs(10), alice_in.recv())
                .await
                .expect("a delivery within 10 s")
                .expect("connection open");
            alice.ack(d.mailbox, d.message).await.unwrap();
        }
    });
    for _ in 0..N {
        bob.send(envelope(mbox, message_id(), 1024, b"live"))
            .await
            .unwrap();
    }
    receiver.await.unwrap();
    let cancelled = relay
        .metric("cairn_relay_appends_cancelled_total")
        .expect("exported");
    assert!(
        (1..=N).contains(&cancelled),
        "{cancelled} of {N} live appends cancelled"
    );
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(0));
}
