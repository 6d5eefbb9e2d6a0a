//! Issue 16.7: twice in about ten interop runs, a client that had just
//! aborted a TLS connection (pin mismatch) saw its next connection finish TLS
//! and then fail the WebSocket upgrade. This interleaves, from several tasks
//! at once against one real relay process, TLS handshakes the client aborts
//! (wrong pin), connections that send malformed frames, sockets that close
//! mid-handshake, and good connections — every good one must be served.

use std::time::Duration;

use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_relay_client::{ConnectOptions, RelayClient, connect_websocket};
use cairn_tests::fixtures::mailbox;
use cairn_tests::{RelayOptions, RelayProcess};
use futures_util::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

const ROUNDS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_connections_survive_aborted_handshakes_and_malformed_frames() {
    let relay = RelayProcess::start(RelayOptions::default().env("RUST_LOG", "debug"));
    let good = relay.address().clone();
    let wrong_pin =
        RelayAddress::new(good.host(), good.port(), Transport::Tls { pin: [0x42; 32] }).unwrap();
    let port = good.port();

    let mut tasks = Vec::new();
    for _ in 0..2 {
        let wrong = wrong_pin.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let refused = RelayClient::connect(&wrong, ConnectOptions::default()).await;
                assert!(refused.is_err(), "a wrong pin is refused");
            }
            0usize
        }));
    }
    let mangle = good.clone();
    tasks.push(tokio::spawn(async move {
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                // TCP, a few bytes of a ClientHello, then gone.
                let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x00]).await;
            } else if let Ok(mut ws) = connect_websocket(&mangle, Duration::from_secs(10)).await {
                let _ = ws.send(Message::Binary(vec![0xff; 7].into())).await;
                let _ = ws.send(Message::Text("not a frame".into())).await;
            }
        }
        0usize
    }));
    for task in 0..3 {
        let good = good.clone();
        let wrong = wrong_pin.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = 0;
            for _ in 0..ROUNDS {
                // The report's sequence, in one task: an aborted handshake,
                // then at once a good connection.
                if task == 2 {
                    let _ = RelayClient::connect(&wrong, ConnectOptions::default()).await;
                }
                match RelayClient::connect(&good, ConnectOptions::default()).await {
                    Ok((client, _deliveries)) => {
                        let (m, key) = mailbox();
                        if client
                            .create_mailbox(m, &key.verifying_key(), None)
                            .await
                            .is_err()
                        {
                            failures += 1;
                        }
                        client.close().await;
                    }
                    Err(e) => {
                        eprintln!("good connection failed: {e}");
                        failures += 1;
                    }
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for task in tasks {
        failures += task.await.unwrap();
    }
    assert_eq!(failures, 0, "good connections refused or broken");
    // Every good connection and every malformed one reached the relay.
    let served = relay
        .metric("cairn_relay_connections_accepted_total")
        .unwrap();
    assert!(served >= (3 * ROUNDS + ROUNDS / 2) as u64, "{served}");
}
