//! Quiet acks (request id 0, PROTOCOL.md §18.3): no `Ok` comes back, the
//! envelopes are deleted all the same, and a refusal is still reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_protocol::frames::{
    AckEntries, ClientFrame, ClientRequest, ErrorCode, QUIET_REQUEST_ID, RelayFrame,
    subscribe_signing_bytes,
};
use cairn_relay_client::{ConnectOptions, RelayClient, RelaySocket, connect_websocket};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::{RelayOptions, RelayProcess};
use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

async fn send(raw: &mut RelaySocket, id: u32, frame: ClientFrame<'_>) {
    let bytes = ClientRequest {
        request_id: id,
        frame,
    }
    .encode();
    raw.send(Message::Binary(Bytes::from(bytes))).await.unwrap();
}

/// The next frame from the relay, decoded to (request id, frame bytes).
async fn next(raw: &mut RelaySocket) -> Bytes {
    tokio::time::timeout(Duration::from_secs(10), raw.next())
        .await
        .expect("a frame within 10 s")
        .expect("connection open")
        .unwrap()
        .into_data()
}

/// Sends `n` envelopes to `mbox`, each answered `Ok`.
async fn send_n(client: &RelayClient, mbox: MailboxId, n: usize) {
    for _ in 0..n {
        let env = envelope(mbox, message_id(), 1024, b"quiet ack");
        client.send(env).await.unwrap();
    }
}

/// Acks `acks` in one `AckBatch` with the quiet request id.
async fn quiet_ack(raw: &mut RelaySocket, acks: &[(MailboxId, MessageId)]) {
    let entries = AckEntries::encode(acks).unwrap();
    let entries = AckEntries::new(&entries).unwrap();
    send(raw, QUIET_REQUEST_ID, ClientFrame::AckBatch { entries }).await;
}

/// A raw socket that created `mbox` and subscribed to it (both answered).
async fn subscribed(relay: &RelayProcess, mbox: MailboxId, key: &SigningKey) -> RelaySocket {
    let mut raw = connect_websocket(relay.address(), Duration::from_secs(10))
        .await
        .unwrap();
    let first = next(&mut raw).await;
    let RelayFrame::Challenge { nonce, .. } = RelayFrame::decode(&first).unwrap().1 else {
        panic!("challenge expected first");
    };
    let auth_key = key.verifying_key().to_bytes();
    let create = ClientFrame::CreateMailbox {
        mailbox: mbox,
        auth_key,
        access_token: None,
    };
    let signature = key.sign(&subscribe_signing_bytes(&nonce, &mbox)).to_bytes();
    let subscribe = ClientFrame::Subscribe {
        mailbox: mbox,
        signature,
    };
    // Subscribing needs the mailbox created: wait for that answer first (§18.3).
    for (id, frame) in [(1, create), (2, subscribe)] {
        send(&mut raw, id, frame).await;
        assert_eq!(
            RelayFrame::decode(&next(&mut raw).await).unwrap(),
            (id, RelayFrame::Ok)
        );
    }
    raw
}

#[tokio::test]
async fn a_quiet_ack_is_not_answered_and_still_deletes() {
    let relay = RelayProcess::start(RelayOptions::plaintext());
    let (mbox, key) = mailbox();
    let mut raw = subscribed(&relay, mbox, &key).await;
    let (sender, _) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    send_n(&sender, mbox, 3).await;
    let mut acks = Vec::new();
    for _ in 0..3 {
        let frame = next(&mut raw).await;
        let (0, RelayFrame::Deliver { envelope }) = RelayFrame::decode(&frame).unwrap() else {
            panic!("a delivery expected");
        };
        let parsed = cairn_protocol::envelope::Envelope::parse(envelope).unwrap();
        acks.push((parsed.mailbox, parsed.id));
    }
    quiet_ack(&mut raw, &acks).await;
    // The next answer is the one for the request after the ack: no `Ok` with id 0.
    send(&mut raw, 7, ClientFrame::Unsubscribe { mailbox: mbox }).await;
    assert_eq!(
        RelayFrame::decode(&next(&mut raw).await).unwrap(),
        (7, RelayFrame::Ok)
    );
    assert_eq!(relay.metric("cairn_relay_acks_total"), Some(3));
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(0));

    // Nothing comes back on a new subscription.
    let (again, mut again_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    again.subscribe(mbox, &key).await.unwrap();
    let redelivered = tokio::time::timeout(Duration::from_millis(300), again_in.recv()).await;
    assert!(redelivered.is_err(), "an acked envelope came back");
}

#[tokio::test]
async fn a_refused_quiet_ack_is_answered_with_id_zero_and_deletes_nothing() {
    let relay = RelayProcess::start(RelayOptions::plaintext());
    let (mbox, key) = mailbox();
    let (other, _) = mailbox();
    let mut raw = subscribed(&relay, mbox, &key).await;
    let (sender, _) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let id = message_id();
    sender
        .send(envelope(mbox, id, 1024, b"kept"))
        .await
        .unwrap();
    let delivered = next(&mut raw).await;
    assert!(matches!(
        RelayFrame::decode(&delivered).unwrap(),
        (0, RelayFrame::Deliver { .. })
    ));
    let acks = [(mbox, id), (other, message_id())];
    quiet_ack(&mut raw, &acks).await;
    let answer = next(&mut raw).await;
    let (0, RelayFrame::Error { code, .. }) = RelayFrame::decode(&answer).unwrap() else {
        panic!("an error with request id 0 expected");
    };
    assert_eq!(code, ErrorCode::NotSubscribed);
    // Still stored (the held append is written when the hold ends).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(1));
}

#[tokio::test]
async fn the_client_acks_quietly_in_order_with_its_other_requests() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (client, mut incoming) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (mbox, key) = mailbox();
    client
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    client.subscribe(mbox, &key).await.unwrap();
    send_n(&client, mbox, 5).await;
    let mut acks = Vec::new();
    for _ in 0..5 {
        let d = tokio::time::timeout(Duration::from_secs(10), incoming.recv())
            .await
            .unwrap()
            .unwrap();
        acks.push((d.mailbox, d.message));
    }
    client.ack_quiet(&acks).await.unwrap();
    // A request queued after the quiet ack is answered after it took effect.
    client.unsubscribe(mbox).await.unwrap();
    assert_eq!(relay.metric("cairn_relay_acks_total"), Some(5));
    assert_eq!(relay.metric("cairn_relay_stored_messages"), Some(0));
}
