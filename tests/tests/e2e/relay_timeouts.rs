//! Connection limits against a real relay process: the connection cap,
//! the handshake timeout, the first-request deadline, and the idle timeout
//! with ping/pong keepalive for subscribed connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::{RelayOptions, RelayProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes; how long that took.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, tcp.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("connection still open after {limit:?}"),
        }
    }
}

fn port(relay: &RelayProcess) -> u16 {
    relay.address().port()
}

#[tokio::test]
async fn the_connection_cap_refuses_extra_connections_and_frees_slots() {
    // The cap for everyone; the per-source cap (tested in the relay's own
    // tests) off, as every client here comes from 127.0.0.1.
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--max-connections",
        "2",
        "--max-connections-per-source",
        "0",
    ]));
    let (a, _a_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (b, _b_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    assert!(
        RelayClient::connect(relay.address(), ConnectOptions::default())
            .await
            .is_err(),
        "a third connection is closed at once"
    );
    assert!(
        relay
            .metric("cairn_relay_connections_refused_total")
            .unwrap()
            >= 1
    );
    // The two admitted connections are unaffected.
    let (mbox, key) = mailbox();
    a.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    b.send(envelope(mbox, message_id(), 1024, b"cap"))
        .await
        .unwrap();
    // A closed connection frees its slot.
    a.close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if RelayClient::connect(relay.address(), ConnectOptions::default())
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_client_that_never_completes_the_handshake_is_dropped() {
    let relay = RelayProcess::start(RelayOptions::default().args(["--handshake-timeout", "1s"]));
    // TCP connects, then silence: no TLS ClientHello.
    let mut tcp = TcpStream::connect(("127.0.0.1", port(&relay)))
        .await
        .unwrap();
    let took = closed_within(&mut tcp, Duration::from_secs(15)).await;
    assert!(took >= Duration::from_millis(900), "not before the timeout");
    // The relay keeps serving.
    RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn pongs_keep_a_subscribed_client_alive_and_a_silent_socket_is_closed() {
    let relay = RelayProcess::start(RelayOptions::plaintext().args([
        "--idle-timeout",
        "3s",
        "--ping-interval",
        "1s",
        "--first-request-timeout",
        "2s",
    ]));
    // A client that subscribes, then only answers pings (waiting for pushes).
    let (quiet, _quiet_in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (mbox, key) = mailbox();
    quiet
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    quiet.subscribe(mbox, &key).await.unwrap();
    // A raw WebSocket that never asks anything (and never reads).
    let mut deaf = TcpStream::connect(("127.0.0.1", port(&relay)))
        .await
        .unwrap();
    deaf.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;

    assert!(!quiet.is_closed(), "pongs keep a subscribed connection");
    quiet.unsubscribe(mbox).await.unwrap();

    // The silent socket finds the upgrade, the challenge, then a close frame
    // saying why, then the end of the stream.
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), deaf.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the silent connection was never closed"),
        }
    }
    assert!(
        received.windows(10).any(|w| w == b"no request"),
        "closed with the reason"
    );
    assert!(relay.metric("cairn_relay_idle_closed_total").unwrap() >= 1);
}
