//! Automatic bans (issue 16 item 2): one loopback source (127.0.0.2) floods
//! a real relay with broken frames and is banned, while a well-behaved
//! pair on 127.0.0.1 keeps chatting without a single error; the operator
//! sees the ban (by keyed hash, never the address) and lifts it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::{RelayOptions, RelayProcess, RunOutput, run_binary};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

const FLOODER: &str = "127.0.0.2";

/// `cairn-relay bans ARGS… --admin ADDR`.
fn bans(relay: &RelayProcess, args: &[&str]) -> RunOutput {
    let admin = relay.admin_addr().to_string();
    let mut all: Vec<&str> = vec!["bans"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--admin", &admin]);
    run_binary(
        "cairn-relay",
        "cairn-relay",
        &all,
        &[],
        None,
        Duration::from_secs(60),
    )
}

/// How one flood connection ended.
#[derive(Debug, PartialEq)]
enum Flood {
    /// Closed by the relay with this reason after `sent` frames.
    Closed { sent: u32, reason: String },
    /// Refused before the WebSocket handshake completed.
    Refused,
}

/// Opens a plaintext WebSocket from 127.0.0.2 and sends garbage until the
/// relay closes it.
async fn flood_once(relay: SocketAddr) -> Flood {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(format!("{FLOODER}:0").parse().unwrap())
        .unwrap();
    let Ok(tcp) = socket.connect(relay).await else {
        return Flood::Refused;
    };
    let url = format!("ws://{relay}/");
    let Ok((mut ws, _)) = tokio_tungstenite::client_async(url, tcp).await else {
        return Flood::Refused;
    };
    let mut sent = 0;
    loop {
        if ws
            .send(Message::Binary(Bytes::from_static(&[1, 0x7e, 0, 0, 0, 1])))
            .await
            .is_err()
        {
            return Flood::Closed {
                sent,
                reason: String::new(),
            };
        }
        sent += 1;
        // Read answers without waiting for each: the relay closes at the ban.
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(1), ws.next()).await {
            match msg {
                Ok(Message::Close(frame)) => {
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    return Flood::Closed { sent, reason };
                }
                Ok(_) => {}
                Err(_) => {
                    return Flood::Closed {
                        sent,
                        reason: String::new(),
                    };
                }
            }
        }
        assert!(sent < 100_000, "never banned");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_source_is_banned_while_a_good_pair_chats_on() {
    let relay = RelayProcess::start(RelayOptions {
        plaintext: true,
        ..RelayOptions::default()
    });
    let addr: SocketAddr = format!("127.0.0.1:{}", relay.address().port())
        .parse()
        .unwrap();

    // The well-behaved pair, on 127.0.0.1, exchanging messages the whole time.
    let (alice, _) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (bob, mut bob_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (mbox, key) = mailbox();
    bob.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    bob.subscribe(mbox, &key).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let pair = {
        let (stop, delivered) = (Arc::clone(&stop), Arc::clone(&delivered));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = message_id();
                alice
                    .send(envelope(mbox, id, 1024, b"hi"))
                    .await
                    .expect("the pair's send");
                let got = tokio::time::timeout(Duration::from_secs(10), bob_in.recv())
                    .await
                    .expect("delivered within 10 s")
                    .expect("bob's connection open");
                assert_eq!(got.message, id);
                bob.ack(mbox, id).await.expect("the pair's ack");
                delivered.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // The flood: the first connection is cut off at the ban …
    match flood_once(addr).await {
        Flood::Closed { sent, reason } => {
            assert!(reason.contains("banned"), "closed for the ban: {reason:?}");
            assert!(sent >= 50, "not before the allowance is spent ({sent})");
        }
        Flood::Refused => panic!("the first flood connection was refused before any offence"),
    }
    // … and every next one is refused before the handshake.
    for _ in 0..20 {
        assert_eq!(flood_once(addr).await, Flood::Refused);
    }
    let during = delivered.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    pair.await.expect("the pair saw no error");
    assert!(
        delivered.load(Ordering::Relaxed) > during,
        "still chatting after the ban"
    );

    assert_eq!(relay.metric("cairn_relay_bans_total"), Some(1));
    assert_eq!(relay.metric("cairn_relay_bans_active"), Some(1));
    assert!(
        relay
            .metric("cairn_relay_connections_refused_banned_total")
            .unwrap()
            >= 20
    );

    // The operator's view: a keyed hash, not the address; then lifted.
    let list = bans(&relay, &["list"]);
    assert!(list.success(), "{}", list.stderr);
    let line = list.stdout.lines().next().unwrap_or_default().to_owned();
    assert!(line.contains("1 ban") && line.contains("left"), "{line}");
    assert!(!list.stdout.contains(FLOODER) && !relay.logs().contains(FLOODER));
    assert!(relay.logs().contains("source banned"), "the ban is logged");
    let source = line.split_whitespace().next().unwrap().to_owned();
    let cleared = bans(&relay, &["clear", &source]);
    assert!(cleared.success(), "{}", cleared.stderr);
    assert_eq!(cleared.stdout.trim(), "1 cleared");
    let deadline = Instant::now() + Duration::from_secs(5);
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(format!("{FLOODER}:0").parse().unwrap())
        .unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let opened = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp).await;
    assert!(opened.is_ok(), "admitted again once lifted");
    assert!(Instant::now() < deadline);
    let none = bans(&relay, &["list"]);
    assert_eq!(none.stdout.trim(), "no bans in force");
}
