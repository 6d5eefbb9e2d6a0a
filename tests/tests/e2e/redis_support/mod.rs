//! Scenarios shared by `redis_single.rs` (one Redis server) and
//! `redis_cluster.rs` (a 3-primary Redis Cluster): two relay instances on
//! one Redis behind a TCP balancer, real `cairn-cli` clients and the relay
//! client library.
#![allow(dead_code)] // not every test uses every helper

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::redis_fleet::RedisFleet;
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

#[allow(unused_imports)] // not every test uses every helper
pub use cairn_tests::cli::{CliUser as User, JsonLine, texts};

/// Alice (on instance 0) invites; Bob (on instance 1) accepts; Alice (on 0) receives it.
pub fn connect(fleet: &RedisFleet, alice: &User, bob: &User) {
    fleet.route_to(0);
    let invite = alice.ok(&["invite"]);
    fleet.route_to(1);
    bob.ok(&["accept", invite.trim(), "--name", "alice"]);
    fleet.route_to(0);
    let events = alice.json(&["recv"]);
    assert!(
        events
            .iter()
            .any(|e| e.get("type") == "contact_added" && e.get("name") == "Bob"),
        "stored through instance 1, read through instance 0: {events:?}"
    );
}

/// `recv --wait 30` in the background on instance `on`; returns once the
/// process has had time to subscribe.
fn recv_in_background(
    fleet: &RedisFleet,
    user: &User,
    on: usize,
) -> std::thread::JoinHandle<Vec<JsonLine>> {
    fleet.route_to(on);
    let before = fleet.relays[on]
        .metric("cairn_relay_connections_accepted_total")
        .unwrap_or(0);
    let dir = user.dir.clone();
    let handle = std::thread::spawn(move || User { dir }.json(&["recv", "--wait", "30"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    while fleet.relays[on]
        .metric("cairn_relay_connections_accepted_total")
        .unwrap_or(0)
        <= before
    {
        assert!(Instant::now() < deadline, "the receiver never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Opening the profile and subscribing take a moment after the TCP connect.
    std::thread::sleep(Duration::from_millis(1500));
    handle
}

/// Two CLI users, each on its own instance, chat both ways (live) and
/// offline; nothing is shown twice.
pub fn chat_both_ways_and_offline(cluster: bool) {
    let fleet = RedisFleet::start(cluster, 2, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", fleet.address());
    let bob = User::new(tmp.path(), "Bob", fleet.address());
    connect(&fleet, &alice, &bob);

    // Alice listens on instance 0; Bob sends through instance 1.
    let waiting = recv_in_background(&fleet, &alice, 0);
    fleet.route_to(1);
    bob.ok(&["send", "alice", "hello from instance 1"]);
    assert_eq!(
        texts(&waiting.join().unwrap()),
        vec!["hello from instance 1"]
    );

    // Bob listens on instance 1; Alice sends through instance 0.
    let waiting = recv_in_background(&fleet, &bob, 1);
    fleet.route_to(0);
    alice.ok(&["send", "Bob", "hello from instance 0"]);
    assert_eq!(
        texts(&waiting.join().unwrap()),
        vec!["hello from instance 0"]
    );

    // Offline: Bob is not running while Alice writes through instance 0.
    fleet.route_to(0);
    for i in 0..3 {
        alice.ok(&["send", "Bob", &format!("offline {i}")]);
    }
    fleet.route_to(1);
    assert_eq!(
        texts(&bob.json(&["recv"])),
        vec!["offline 0", "offline 1", "offline 2"]
    );
    assert!(
        texts(&bob.json(&["recv"])).is_empty(),
        "nothing shown twice"
    );
    fleet.route_to(0);
    let history = alice.json(&["history", "Bob"]);
    assert_eq!(
        texts(&history),
        vec![
            "hello from instance 1",
            "hello from instance 0",
            "offline 0",
            "offline 1",
            "offline 2"
        ]
    );
    // Both instances are still healthy.
    for relay in &fleet.relays {
        assert_eq!(relay.admin_get("/healthz").trim(), "ok");
    }
}

/// A subscriber on instance 0 gets envelopes sent through instance 1 as live
/// pushes (the relay never polls), in order.
pub async fn live_push_crosses_instances(cluster: bool) {
    let fleet = RedisFleet::start(cluster, 2, &[]);
    let opts = ConnectOptions::default();
    let (m, k) = mailbox();
    let (on_a, mut deliveries) = RelayClient::connect(fleet.relays[0].address(), opts.clone())
        .await
        .unwrap();
    on_a.create_mailbox(m, &k.verifying_key(), None)
        .await
        .unwrap();
    on_a.subscribe(m, &k).await.unwrap();
    // The (empty) backlog read is long over: from now on only live pushes reach this connection.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (on_b, _) = RelayClient::connect(fleet.relays[1].address(), opts)
        .await
        .unwrap();
    let ids: Vec<MessageId> = (0..20).map(|_| message_id()).collect();
    for id in &ids {
        on_b.send(envelope(m, *id, 1024, b"live")).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < ids.len() {
        let d = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
            .await
            .expect("a push from the other instance")
            .expect("connection open");
        got.push(d.message);
    }
    assert_eq!(got, ids, "every envelope once, in order");
    assert_eq!(
        fleet.relays[0].metric("cairn_relay_messages_in_total"),
        Some(0)
    );
}

type Acked = Arc<Mutex<HashSet<MessageId>>>;
type Seen = Arc<Mutex<HashMap<MessageId, u32>>>;

/// Sends `count` envelopes through the balancer, reconnecting (to whichever
/// instance is up) and resending what was not acknowledged.
async fn sender(address: RelayAddress, mbox: MailboxId, count: usize, acked: Acked) -> usize {
    let mut pending: Vec<MessageId> = (0..count).map(|_| message_id()).collect();
    pending.reverse();
    let mut reconnects = 0;
    while !pending.is_empty() && reconnects < 30 {
        let Ok((client, _in)) = RelayClient::connect(&address, ConnectOptions::default()).await
        else {
            reconnects += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut failed = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < 16
                && let Some(id) = pending.pop()
            {
                let c = client.clone();
                in_flight
                    .push(async move { (id, c.send(envelope(mbox, id, 1024, b"load")).await) });
            }
            match in_flight.next().await {
                Some((id, Ok(()))) => {
                    acked.lock().unwrap().insert(id);
                }
                Some((id, Err(_))) => {
                    failed.push(id);
                    // Drain the rest of this connection's requests, then reconnect.
                    while let Some((id, r)) = in_flight.next().await {
                        match r {
                            Ok(()) => {
                                acked.lock().unwrap().insert(id);
                            }
                            Err(_) => failed.push(id),
                        }
                    }
                    break;
                }
                None => break,
            }
        }
        pending.extend(failed);
        if !pending.is_empty() {
            reconnects += 1;
        }
    }
    reconnects
}

/// Subscribes through the balancer and acks everything, reconnecting when the instance dies.
async fn receiver(
    address: RelayAddress,
    mbox: MailboxId,
    key: SigningKey,
    seen: Seen,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        let Ok((client, mut deliveries)) =
            RelayClient::connect(&address, ConnectOptions::default()).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if client.subscribe(mbox, &key).await.is_err() {
            continue;
        }
        loop {
            let next = tokio::time::timeout(Duration::from_millis(300), deliveries.recv()).await;
            let first = match next {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(_) if stop.load(Ordering::SeqCst) => return,
                Err(_) => continue,
            };
            let mut batch = vec![first];
            while batch.len() < 256
                && let Some(d) = deliveries.try_recv()
            {
                batch.push(d);
            }
            {
                let mut seen = seen.lock().unwrap();
                for d in &batch {
                    *seen.entry(d.message).or_default() += 1;
                }
            }
            let acks: Vec<_> = batch.iter().map(|d| (d.mailbox, d.message)).collect();
            if client.ack_many(&acks).await.is_err() {
                break;
            }
        }
    }
}

/// SIGKILL one of two instances while senders and receivers run through the
/// balancer: they reconnect to the other, and every acknowledged envelope is
/// delivered.
pub async fn sigkill_one_instance_under_load(cluster: bool) {
    const PAIRS: usize = 4;
    const PER_SENDER: usize = 2500;
    let mut fleet = RedisFleet::start(cluster, 2, &[]);
    fleet.round_robin();
    let address = fleet.address().clone();
    let (setup, _in) = RelayClient::connect(&address, ConnectOptions::default())
        .await
        .unwrap();
    let boxes: Vec<(MailboxId, SigningKey)> = (0..PAIRS).map(|_| mailbox()).collect();
    for (m, k) in &boxes {
        setup
            .create_mailbox(*m, &k.verifying_key(), None)
            .await
            .unwrap();
    }
    let acked: Acked = Arc::default();
    let seen: Seen = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = boxes
        .iter()
        .map(|(m, k)| {
            tokio::spawn(receiver(
                address.clone(),
                *m,
                k.clone(),
                Arc::clone(&seen),
                Arc::clone(&stop),
            ))
        })
        .collect();
    let senders: Vec<_> = boxes
        .iter()
        .map(|(m, _)| tokio::spawn(sender(address.clone(), *m, PER_SENDER, Arc::clone(&acked))))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < PAIRS * PER_SENDER / 4 {
        assert!(Instant::now() < deadline, "load never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let acked_before_kill = acked.lock().unwrap().len();
    fleet.relays[1].kill();
    let mut reconnects = 0;
    for s in senders {
        reconnects += s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(
        acked.len(),
        PAIRS * PER_SENDER,
        "every sender finished through the survivor"
    );
    assert!(
        reconnects > 0,
        "some sender was on the killed instance and reconnected"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: HashSet<MessageId> = seen.lock().unwrap().keys().copied().collect();
        if acked.is_subset(&got) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for r in receivers {
        r.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let lost = acked.iter().filter(|id| !seen.contains_key(id)).count();
    let redelivered = seen.values().filter(|n| **n > 1).count();
    eprintln!(
        "killed instance 1 after {acked_before_kill} acks; {} acked in all, {lost} lost, \
         {redelivered} redelivered (at-least-once), {reconnects} sender reconnects",
        acked.len()
    );
    assert_eq!(lost, 0, "acknowledged envelopes lost");
    assert!(fleet.relays[0].admin_get("/healthz").contains("ok"));
}

/// Alice stores envelopes received through instance 1 without acking them
/// (as if she crashed right after), instance 1 is SIGKILLed, and she
/// reconnects through the balancer to instance 0: the relay redelivers
/// (at-least-once), and her client shows nothing twice.
pub fn cli_reconnects_after_kill_without_duplicates(cluster: bool) {
    let mut fleet = RedisFleet::start(cluster, 2, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", fleet.address());
    let bob = User::new(tmp.path(), "Bob", fleet.address());
    connect(&fleet, &alice, &bob);
    let sent: Vec<String> = (0..10).map(|i| format!("message {i}")).collect();

    fleet.route_to(1);
    for text in &sent[..5] {
        bob.ok(&["send", "alice", text]);
    }
    let first = texts(&alice.json(&["recv", "--no-ack"]));
    assert_eq!(first, sent[..5].to_vec());

    fleet.relays[1].kill();
    // Still preferring instance 1: the balancer falls back to instance 0.
    for text in &sent[5..] {
        bob.ok(&["send", "alice", text]);
    }
    let second = texts(&alice.json(&["recv"]));
    assert_eq!(
        second,
        sent[5..].to_vec(),
        "redelivered envelopes are not shown again"
    );
    assert!(texts(&alice.json(&["recv"])).is_empty());
    assert_eq!(
        texts(&alice.json(&["history", "Bob"])),
        sent,
        "each message once, in order"
    );
}
