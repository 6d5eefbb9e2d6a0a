//! Hostile and broken frames get the right error code, on the same
//! connection, while a healthy client in parallel keeps working.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::frames::{ClientFrame, ErrorCode, RelayFrame};
use cairn_relay_client::{ConnectOptions, RelayClient, RelaySocket, connect_websocket};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::wire::request;
use cairn_tests::{RelayOptions, RelayProcess};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

struct Raw {
    ws: RelaySocket,
}

impl Raw {
    async fn open(relay: &RelayProcess) -> Self {
        let mut ws = connect_websocket(relay.address(), Duration::from_secs(10))
            .await
            .unwrap();
        let first = ws.next().await.unwrap().unwrap();
        assert!(matches!(
            RelayFrame::decode(&first.into_data()).unwrap().1,
            RelayFrame::Challenge { .. }
        ));
        Self { ws }
    }

    async fn send(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next Cairn frame: (request id, code or None for Ok).
    async fn answer(&mut self) -> (u32, Option<ErrorCode>) {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("an answer within 10 s")
                .expect("connection open")
                .expect("read ok");
            if let Message::Binary(raw) = msg {
                let (id, frame) = RelayFrame::decode(&raw).unwrap();
                return match frame {
                    RelayFrame::Ok => (id, None),
                    RelayFrame::Error { code, .. } => (id, Some(code)),
                    other => panic!("unexpected {other:?}"),
                };
            }
        }
    }

    async fn expect(&mut self, frame: Vec<u8>, id: u32, code: ErrorCode) {
        self.send(Message::Binary(Bytes::from(frame))).await;
        assert_eq!(self.answer().await, (id, Some(code)));
    }
}

#[tokio::test]
async fn bad_frames_get_their_codes_and_harm_no_one() {
    let relay = RelayProcess::start(RelayOptions::default());

    // A healthy pair exchanging messages the whole time.
    let (healthy, mut healthy_in) =
        RelayClient::connect(relay.address(), ConnectOptions::default())
            .await
            .unwrap();
    let (mbox, key) = mailbox();
    healthy
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    healthy.subscribe(mbox, &key).await.unwrap();
    // The raw connection sends its valid frames to a mailbox of its own.
    let (raw_box, raw_key) = mailbox();
    healthy
        .create_mailbox(raw_box, &raw_key.verifying_key(), None)
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let exchanged = Arc::new(AtomicU64::new(0));
    let pump = {
        let (stop, exchanged) = (Arc::clone(&stop), Arc::clone(&exchanged));
        tokio::spawn(async move {
            for _ in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = message_id();
                healthy.send(envelope(mbox, id, 1024, b"ok")).await.unwrap();
                let d = healthy_in.recv().await.unwrap();
                assert_eq!(d.message, id);
                healthy.ack(mbox, id).await.unwrap();
                exchanged.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let mut raw = Raw::open(&relay).await;
    let valid = request(
        7,
        ClientFrame::Send {
            envelope: &envelope(raw_box, message_id(), 1024, b"x"),
        },
    );

    // Garbage: not even our version byte.
    raw.expect(
        vec![0xff; 40],
        u32::from_be_bytes([0xff; 4]),
        ErrorCode::UnsupportedVersion,
    )
    .await;
    raw.expect(vec![0x42], 0, ErrorCode::UnsupportedVersion)
        .await;
    // Wrong version, otherwise a perfect frame.
    let mut v2 = valid.clone();
    v2[0] = 2;
    raw.expect(v2, 7, ErrorCode::UnsupportedVersion).await;
    // Unknown frame type.
    let mut unknown = valid.clone();
    unknown[1] = 0x7e;
    raw.expect(unknown, 7, ErrorCode::UnknownType).await;
    // Relay-to-client type sent by a client.
    let mut backwards = valid.clone();
    backwards[1] = 0x84;
    raw.expect(backwards, 7, ErrorCode::UnknownType).await;
    // Truncated at several points.
    for cut in [1, 5, 6, 9, 100, valid.len() - 1] {
        let id = if cut >= 6 { 7 } else { 0 };
        raw.expect(valid[..cut].to_vec(), id, ErrorCode::Malformed)
            .await;
    }
    // Trailing byte.
    let mut trailing = valid.clone();
    trailing.push(0);
    raw.expect(trailing, 7, ErrorCode::Malformed).await;
    // Oversized but below the transport cut-off: answered, connection kept.
    let mut big = valid[..6].to_vec();
    big.resize(100 * 1024, 0);
    raw.expect(big, 7, ErrorCode::FrameTooLarge).await;
    // A text frame.
    raw.send(Message::text("hello")).await;
    assert_eq!(raw.answer().await, (0, Some(ErrorCode::Malformed)));
    // Well-formed frame, invalid envelope (not a bucket size; bad envelope version).
    let short = request(
        8,
        ClientFrame::Send {
            envelope: &[1u8; 1000],
        },
    );
    raw.expect(short, 8, ErrorCode::BadEnvelope).await;
    let mut env = envelope(raw_box, message_id(), 1024, b"x").to_vec();
    env[0] = 9;
    raw.expect(
        request(9, ClientFrame::Send { envelope: &env }),
        9,
        ErrorCode::BadEnvelope,
    )
    .await;
    // Invalid auth key (not a curve point / weak).
    let (other, _) = mailbox();
    let create = request(
        10,
        ClientFrame::CreateMailbox {
            mailbox: other,
            auth_key: [0; 32],
            access_token: None,
        },
    );
    raw.expect(create, 10, ErrorCode::BadAuthKey).await;
    // A non-canonical encoding (y = p + 18, which decoders reduce): not a valid key (§4).
    let create = request(
        11,
        ClientFrame::CreateMailbox {
            mailbox: other,
            auth_key: [0xff; 32],
            access_token: None,
        },
    );
    raw.expect(create, 11, ErrorCode::BadAuthKey).await;
    // Unsubscribing from a mailbox this connection is not subscribed to (here: one that
    // does not even exist) is a no-op answered Ok (§18.3).
    raw.send(Message::Binary(Bytes::from(request(
        12,
        ClientFrame::Unsubscribe { mailbox: other },
    ))))
    .await;
    assert_eq!(raw.answer().await, (12, None));

    // After all that, the same connection still serves valid requests.
    raw.send(Message::Binary(Bytes::from(valid.clone()))).await;
    assert_eq!(raw.answer().await, (7, None));

    // A frame beyond the transport limit: error frame, then the relay closes.
    let mut huge = valid[..6].to_vec();
    huge.resize(400 * 1024, 0);
    let _ = raw.ws.send(Message::Binary(Bytes::from(huge))).await;
    // The relay answers FrameTooLarge and closes; the reset may overtake the answer.
    let mut saw = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(10), raw.ws.next()).await
    {
        saw.push(msg);
    }
    if let Some(Message::Binary(raw)) = saw.first() {
        assert_eq!(
            RelayFrame::decode(raw).unwrap(),
            (
                0,
                RelayFrame::Error {
                    code: ErrorCode::FrameTooLarge,
                    message: "frame too large"
                }
            )
        );
    }

    let before = exchanged.load(Ordering::Relaxed);
    // The healthy client keeps going after the abuse.
    for _ in 0..200 {
        if exchanged.load(Ordering::Relaxed) >= before + 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.store(true, Ordering::Relaxed);
    pump.await.unwrap();
    assert!(
        exchanged.load(Ordering::Relaxed) >= before + 20,
        "healthy client stalled"
    );
    let malformed = relay
        .metric("cairn_relay_refusals_total{reason=\"malformed\"}")
        .unwrap();
    assert!(malformed >= 8, "refusals counted by reason: {malformed}");
}
