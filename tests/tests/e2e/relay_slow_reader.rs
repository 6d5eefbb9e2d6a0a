//! A subscriber that stops reading is disconnected as a slow reader; the
//! envelopes it did not take stay stored for its next subscription, and
//! other clients never notice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_protocol::frames::{ClientFrame, ClientRequest, RelayFrame, subscribe_signing_bytes};
use cairn_relay_client::{ConnectOptions, RelayClient, connect_websocket};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::{RelayOptions, RelayProcess};
use ed25519_dalek::Signer;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Envelopes sent to the stalled subscriber: 400 × 64 KiB = 25 MiB, more
/// than loopback socket buffers and the relay's write buffer can hide.
const SENT: usize = 400;
const SIZE: usize = 65_536;

fn request(id: u32, frame: ClientFrame<'_>) -> Message {
    Message::Binary(Bytes::from(
        ClientRequest {
            request_id: id,
            frame,
        }
        .encode(),
    ))
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_cut_off_and_loses_nothing() {
    // The 25 MiB go out in a burst, far beyond a person's traffic: the byte
    // limits (tested in the relay's own tests) are off here.
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--outbound-queue",
        "16",
        "--bytes-per-connection",
        "0",
        "--bytes-per-ip",
        "0",
    ]));
    let (mbox, key) = mailbox();

    // The stalled subscriber: a raw socket that subscribes, then never reads again.
    let mut raw = connect_websocket(relay.address(), Duration::from_secs(10))
        .await
        .unwrap();
    let first = raw.next().await.unwrap().unwrap();
    let RelayFrame::Challenge { nonce, .. } = RelayFrame::decode(&first.into_data()).unwrap().1
    else {
        panic!("challenge expected first");
    };
    raw.send(request(
        1,
        ClientFrame::CreateMailbox {
            mailbox: mbox,
            auth_key: key.verifying_key().to_bytes(),
            access_token: None,
        },
    ))
    .await
    .unwrap();
    // Subscribing needs the mailbox created: wait for that answer first.
    let answer = raw.next().await.unwrap().unwrap().into_data();
    assert_eq!(RelayFrame::decode(&answer).unwrap(), (1, RelayFrame::Ok));
    let signature = key.sign(&subscribe_signing_bytes(&nonce, &mbox)).to_bytes();
    raw.send(request(
        2,
        ClientFrame::Subscribe {
            mailbox: mbox,
            signature,
        },
    ))
    .await
    .unwrap();
    let answer = raw.next().await.unwrap().unwrap().into_data();
    assert_eq!(RelayFrame::decode(&answer).unwrap(), (2, RelayFrame::Ok));

    // A healthy pair on the same relay.
    let (healthy, mut healthy_in) =
        RelayClient::connect(relay.address(), ConnectOptions::default())
            .await
            .unwrap();
    let (other, other_key) = mailbox();
    healthy
        .create_mailbox(other, &other_key.verifying_key(), None)
        .await
        .unwrap();
    healthy.subscribe(other, &other_key).await.unwrap();

    // Flood the stalled mailbox; every send is acknowledged (stored).
    let (sender, _) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let ids: Vec<_> = (0..SENT).map(|_| message_id()).collect();
    let envelopes: Vec<Bytes> = ids
        .iter()
        .map(|id| envelope(mbox, *id, SIZE, b"slow"))
        .collect();
    for result in sender.send_many(&envelopes).await {
        result.unwrap();
    }

    // The relay cuts the stalled subscriber off.
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay
        .metric("cairn_relay_slow_disconnects_total")
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "slow reader never disconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The healthy pair never noticed.
    healthy
        .send(envelope(other, message_id(), 1024, b"ok"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), healthy_in.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.mailbox, other);

    // Everything the stalled subscriber did not take is still stored.
    drop(raw);
    let (again, mut again_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    again.subscribe(mbox, &key).await.unwrap();
    let mut seen = HashSet::new();
    while seen.len() < SENT {
        let d = tokio::time::timeout(Duration::from_secs(20), again_in.recv())
            .await
            .expect("backlog keeps coming")
            .unwrap();
        seen.insert(d.message);
        again.ack(mbox, d.message).await.unwrap();
    }
    assert_eq!(seen, ids.into_iter().collect::<HashSet<_>>());
}
