//! Durability: kill -9 under load loses nothing acknowledged; SIGTERM
//! shuts down cleanly (exit 0) and also loses nothing. With online
//! recipients acking as they go, a sender's `Ok` may rest on the
//! recipient's ack instead of a commit (PROTOCOL.md §18.4): then every
//! acknowledged envelope must be either received online before the kill
//! or delivered after the restart.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::{RelayOptions, RelayProcess};
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

const SENDERS: usize = 4;
const PIPELINE: usize = 16;
const MAX_PER_SENDER: usize = 20_000;

fn options() -> RelayOptions {
    RelayOptions::default().args(["--rate-per-connection", "0", "--rate-per-ip", "0"])
}

type Acked = Arc<Mutex<HashSet<MessageId>>>;

/// Sends until the relay goes away (or the bound is hit), recording every acknowledged id.
async fn sender(relay: cairn_protocol::relay_address::RelayAddress, mbox: MailboxId, acked: Acked) {
    let Ok((client, _in)) = RelayClient::connect(&relay, ConnectOptions::default()).await else {
        return;
    };
    let mut in_flight = FuturesUnordered::new();
    let mut started = 0;
    loop {
        while in_flight.len() < PIPELINE && started < MAX_PER_SENDER {
            let id = message_id();
            let c = client.clone();
            started += 1;
            in_flight.push(async move { (id, c.send(envelope(mbox, id, 1024, b"load")).await) });
        }
        match in_flight.next().await {
            Some((id, Ok(()))) => {
                acked.lock().unwrap().insert(id);
            }
            Some((_, Err(_))) | None => return,
        }
    }
}

async fn setup(relay: &RelayProcess) -> Vec<(MailboxId, SigningKey)> {
    let (c, _in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let mut boxes = Vec::new();
    for _ in 0..SENDERS {
        let (m, k) = mailbox();
        c.create_mailbox(m, &k.verifying_key(), None).await.unwrap();
        boxes.push((m, k));
    }
    boxes
}

/// Subscribes to every mailbox and collects ids until all `expected` arrived (bounded).
///
/// Deliveries are drained by their own task while subscribing: a client that
/// awaits answers without draining deliveries can block its own connection.
async fn drain(
    relay: &RelayProcess,
    boxes: &[(MailboxId, SigningKey)],
    expected: &HashSet<MessageId>,
) -> HashSet<MessageId> {
    let (c, mut incoming) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let expected = expected.clone();
    let collector = tokio::spawn(async move {
        let mut got = HashSet::new();
        while !expected.is_subset(&got) {
            match tokio::time::timeout(Duration::from_secs(20), incoming.recv()).await {
                Ok(Some(d)) => {
                    got.insert(d.message);
                }
                _ => break,
            }
        }
        got
    });
    for (m, k) in boxes {
        c.subscribe(*m, k).await.unwrap();
    }
    collector.await.unwrap()
}

/// Subscribes to every mailbox and acks everything received, in batches,
/// recording the ids it got, until the relay goes away.
async fn online_recipient(
    relay: &RelayProcess,
    boxes: &[(MailboxId, SigningKey)],
    got: Acked,
) -> tokio::task::JoinHandle<()> {
    let (c, mut incoming) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    for (m, k) in boxes {
        c.subscribe(*m, k).await.unwrap();
    }
    tokio::spawn(async move {
        while let Some(first) = incoming.recv().await {
            let mut batch = vec![(first.mailbox, first.message)];
            while let Some(d) = incoming.try_recv() {
                batch.push((d.mailbox, d.message));
            }
            got.lock().unwrap().extend(batch.iter().map(|(_, id)| *id));
            let c = c.clone();
            tokio::spawn(async move { c.ack_many(&batch).await });
        }
    })
}

async fn load_then(stop: impl FnMut(&mut RelayProcess), min_acked: usize) {
    load_with(stop, min_acked, false).await;
}

async fn load_with(mut stop: impl FnMut(&mut RelayProcess), min_acked: usize, online: bool) {
    let mut relay = RelayProcess::start(options());
    let boxes = setup(&relay).await;
    let received_online: Acked = Arc::default();
    let recipient = if online {
        Some(online_recipient(&relay, &boxes, Arc::clone(&received_online)).await)
    } else {
        None
    };
    let acked: Acked = Arc::default();
    let tasks: Vec<_> = boxes
        .iter()
        .map(|(m, _)| tokio::spawn(sender(relay.address().clone(), *m, Arc::clone(&acked))))
        .collect();
    // Wait (bounded) until the load is well under way, then stop the relay mid-stream.
    for _ in 0..600 {
        if acked.lock().unwrap().len() >= min_acked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop(&mut relay);
    for t in tasks {
        t.await.unwrap();
    }
    if let Some(recipient) = recipient {
        recipient.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= min_acked,
        "load never got going: {} acked",
        acked.len()
    );
    let received_online = received_online.lock().unwrap().clone();
    if online {
        assert!(!received_online.is_empty(), "the recipient was online");
    }
    // Only what no online recipient took must come from the database.
    let acked: HashSet<MessageId> = acked.difference(&received_online).copied().collect();

    relay.restart();
    let got = drain(&relay, &boxes, &acked).await;
    let lost: Vec<_> = acked.difference(&got).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost",
        lost.len(),
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_nothing_acknowledged() {
    load_then(|relay| relay.kill(), 2000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_online_recipients_acking_loses_nothing_acknowledged() {
    load_with(|relay| relay.kill(), 2000, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly_under_load() {
    load_then(
        |relay| {
            let status = relay.terminate();
            assert!(
                status.success(),
                "exit status {status:?}; logs:\n{}",
                relay.logs()
            );
            let logs = relay.logs();
            assert!(logs.contains("shutting down"), "{logs}");
            assert!(logs.contains("storage flushed"), "{logs}");
        },
        1000,
    )
    .await;
}
