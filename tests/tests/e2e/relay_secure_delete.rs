//! Deleted means gone from the relay's files (issue 16.5): a real relay
//! process stores envelopes for offline recipients (the scan finds them
//! there), one is acked, one expires, and after the next purge pass no file
//! in its data directory holds either.

use std::time::Duration;

use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::wire::next;
use cairn_tests::{RelayOptions, RelayProcess};

/// 256 random bytes: a pattern nothing else in the files has.
fn marker() -> Vec<u8> {
    (0..256).map(|_| rand::random::<u8>()).collect()
}

fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn acked_and_expired_envelopes_leave_nothing_in_the_relay_files() {
    let relay = RelayProcess::start(RelayOptions::default().args([
        "--purge-interval",
        "1s",
        "--message-ttl",
        "3s",
    ]));
    let (client, mut incoming) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (read_box, read_key) = mailbox();
    let (idle_box, idle_key) = mailbox();
    for (m, k) in [(read_box, &read_key), (idle_box, &idle_key)] {
        client
            .create_mailbox(m, &k.verifying_key(), None)
            .await
            .unwrap();
    }
    let (acked, expiring) = (marker(), marker());
    // Stored for offline recipients: written to the database before any ack.
    client
        .send(envelope(read_box, message_id(), 16_384, &acked))
        .await
        .unwrap();
    client
        .send(envelope(idle_box, message_id(), 1024, &expiring))
        .await
        .unwrap();
    assert!(
        !files_holding(relay.data_dir(), &acked).is_empty(),
        "stored"
    );

    client.subscribe(read_box, &read_key).await.unwrap();
    let delivered = next(&mut incoming).await;
    client.ack(read_box, delivered.message).await.unwrap();
    // The expiring one's TTL ends, then a purge pass runs (every second).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<_> = [&acked, &expiring]
            .iter()
            .flat_map(|m| files_holding(relay.data_dir(), m))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deleted envelopes still in {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
