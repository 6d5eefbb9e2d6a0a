//! The relay-wide storage budget and the per-token creation quota (issue 16
//! item 1) against a real relay process: past the budget sends get
//! `StorageFull` (502), nothing stored is lost, and sending resumes once
//! acks free space.

use std::time::{Duration, Instant};

use cairn_protocol::frames::ErrorCode;
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::wire::connect;
use cairn_tests::{RelayOptions, RelayProcess};

#[tokio::test]
async fn past_the_storage_budget_sends_are_refused_and_nothing_stored_is_lost() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--storage-budget",
        "8K",
        "--purge-interval",
        "1s",
    ]));
    let (c, mut incoming) = connect(relay.address()).await;
    let (a, a_key) = mailbox();
    let (b, _) = mailbox();
    for m in [a, b] {
        c.create_mailbox(m, &a_key.verifying_key(), None)
            .await
            .unwrap();
    }
    // 8 KiB in all, whichever mailbox it goes to.
    let mut stored = Vec::new();
    for i in 0..8 {
        let id = message_id();
        c.send(envelope(if i % 2 == 0 { a } else { b }, id, 1024, b"kept"))
            .await
            .unwrap();
        stored.push(id);
    }
    let err = c
        .send(envelope(a, message_id(), 1024, b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::StorageFull), "{err}");
    assert!(err.is_retryable(), "a client keeps the message queued");
    // Other requests still work, and everything stored is delivered.
    let (c_box, c_key) = mailbox();
    c.create_mailbox(c_box, &c_key.verifying_key(), None)
        .await
        .unwrap();
    c.subscribe(a, &a_key).await.unwrap();
    for _ in 0..4 {
        let d = incoming.recv().await.unwrap();
        assert!(stored.contains(&d.message));
        c.ack(a, d.message).await.unwrap();
    }
    // Once the budget is re-read (every purge interval here), the acked
    // bytes are free again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match c.send(envelope(b, message_id(), 1024, b"again")).await {
            Ok(()) => break,
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::StorageFull)),
        }
        assert!(Instant::now() < deadline, "sending never resumed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        relay
            .metric("cairn_relay_refusals_total{reason=\"storage_full\"}")
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn a_disk_below_its_reserve_refuses_sends_from_the_start() {
    // A reserve no disk has: the relay must refuse at once, not fill the disk.
    let relay =
        RelayProcess::start(RelayOptions::plaintext().args(["--min-free-disk", "1000000000G"]));
    let (c, _in) = connect(relay.address()).await;
    let (m, key) = mailbox();
    c.create_mailbox(m, &key.verifying_key(), None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The first reading is taken as the relay starts; allow it a moment.
        match c.send(envelope(m, message_id(), 1024, b"x")).await {
            Err(e) if e.code() == Some(ErrorCode::StorageFull) => break,
            other => assert!(Instant::now() < deadline, "never refused: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        relay.logs().contains("disk almost full"),
        "the operator is told"
    );
}

#[tokio::test]
async fn each_token_has_its_own_mailbox_creation_quota() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--access",
        "token",
        "--mailboxes-per-token-hour",
        "3",
    ]));
    let first = relay.create_token("user");
    let second = relay.create_token("user");
    let (c, _in) = connect(relay.address()).await;
    for _ in 0..3 {
        let (m, key) = mailbox();
        c.create_mailbox(m, &key.verifying_key(), Some(&first))
            .await
            .unwrap();
    }
    let (m, key) = mailbox();
    let err = c
        .create_mailbox(m, &key.verifying_key(), Some(&first))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RateLimited));
    c.create_mailbox(m, &key.verifying_key(), Some(&second))
        .await
        .expect("another token has its own quota");
}
