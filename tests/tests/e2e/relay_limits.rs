//! Quotas, rate limits and TTL expiry against a real relay process.

use std::time::Duration;

use cairn_protocol::frames::ErrorCode;
use cairn_relay_client::ClientError;
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::wire::connect;
use cairn_tests::{RelayOptions, RelayProcess};

#[tokio::test]
async fn full_mailbox_refuses_senders_until_acked() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--quota-messages",
        "3",
        "--quota-bytes",
        "1M",
    ]));
    let (c, mut incoming) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    for _ in 0..3 {
        c.send(envelope(mbox, message_id(), 1024, b"q"))
            .await
            .unwrap();
    }
    let err = c
        .send(envelope(mbox, message_id(), 1024, b"q"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::QuotaFull));
    assert!(err.is_retryable());

    c.subscribe(mbox, &key).await.unwrap();
    let first = incoming.recv().await.unwrap();
    c.ack(mbox, first.message).await.unwrap();
    c.send(envelope(mbox, message_id(), 1024, b"q"))
        .await
        .unwrap();
    assert!(
        relay
            .metric("cairn_relay_refusals_total{reason=\"quota_full\"}")
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn byte_quota_counts_envelope_sizes() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args(["--quota-bytes", "20K"]));
    let (c, _in) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    c.send(envelope(mbox, message_id(), 16 * 1024, b"big"))
        .await
        .unwrap();
    let err = c
        .send(envelope(mbox, message_id(), 16 * 1024, b"big"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::QuotaFull));
    c.send(envelope(mbox, message_id(), 1024, b"small"))
        .await
        .unwrap();
}

#[tokio::test]
async fn rate_limit_triggers_and_recovers() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--rate-per-connection",
        "20",
        "--burst-per-connection",
        "10",
        "--rate-per-ip",
        "0",
    ]));
    let (c, _in) = connect(relay.address()).await;
    let (mbox, _) = mailbox();
    // 60 requests at once: the burst of 10 passes, most of the rest are refused.
    let calls = (0..60).map(|_| c.unsubscribe(mbox));
    let results = futures_util::future::join_all(calls).await;
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code() == Some(ErrorCode::RateLimited)))
        .count();
    assert!(limited > 0, "rate limit never triggered");
    assert!(results.iter().all(|r| r.is_ok() || limited > 0));
    assert!(results.iter().any(Result::is_ok), "the burst passes");

    // Another connection has its own bucket.
    let (other, _o) = connect(relay.address()).await;
    other.unsubscribe(mbox).await.unwrap();

    // The bucket refills: within a few seconds requests pass again.
    let mut recovered = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match c.unsubscribe(mbox).await {
            Ok(()) => {
                recovered = true;
                break;
            }
            Err(ClientError::Refused {
                code: ErrorCode::RateLimited,
                ..
            }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(recovered, "rate limit did not recover");
}

#[tokio::test]
async fn expired_messages_are_purged() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--message-ttl",
        "1s",
        "--purge-interval",
        "1s",
    ]));
    let (c, _in) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    for _ in 0..5 {
        c.send(envelope(mbox, message_id(), 1024, b"old"))
            .await
            .unwrap();
    }
    // Bounded wait for the purge to run (TTL 1 s, sweep every 1 s).
    let mut purged = false;
    for _ in 0..100 {
        if relay.metric("cairn_relay_stored_messages") == Some(0) {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(purged, "expired envelopes were not purged");
    assert!(relay.logs().contains("deleted expired envelopes"));
    let (r, mut incoming) = connect(relay.address()).await;
    r.subscribe(mbox, &key).await.unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(300), incoming.recv()).await;
    assert!(nothing.is_err(), "nothing expired is delivered");
}
