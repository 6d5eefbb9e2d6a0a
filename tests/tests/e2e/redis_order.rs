//! Delivery order on the Redis store (PROTOCOL.md §18.4): envelopes one
//! connection sends, pipelined, to a mailbox are stored, delivered live and
//! redelivered in send order — on a single Redis server and on a
//! 3-primary cluster. Several senders run at once, each interleaving two
//! mailboxes, so the relay has many appends in flight together.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::redis::RedisBackend;
use cairn_tests::wire::{connect, next};
use cairn_tests::{RelayOptions, RelayProcess};
use ed25519_dalek::SigningKey;

const SENDERS: usize = 4;
const PER_MAILBOX: usize = 768;
const BURST: usize = 256;

fn relay_on(redis: &RedisBackend) -> RelayProcess {
    let mut args = redis.relay_args();
    args.extend(["--rate-per-connection", "0", "--rate-per-ip", "0"].map(String::from));
    RelayProcess::start(RelayOptions::default().args(args))
}

/// One sender's two mailboxes and the ids it sent to each, in send order.
struct Sent {
    mailboxes: [(MailboxId, SigningKey); 2],
    ids: [Vec<MessageId>; 2],
}

/// Creates two mailboxes and sends `PER_MAILBOX` envelopes to each from one
/// connection, in pipelined bursts that alternate between the mailboxes.
async fn send_interleaved(relay: &RelayProcess) -> Sent {
    let (sender, _in) = connect(relay.address()).await;
    let mailboxes = [mailbox(), mailbox()];
    for (m, k) in &mailboxes {
        sender
            .create_mailbox(*m, &k.verifying_key(), None)
            .await
            .unwrap();
    }
    let ids: [Vec<MessageId>; 2] = [
        (0..PER_MAILBOX).map(|_| message_id()).collect(),
        (0..PER_MAILBOX).map(|_| message_id()).collect(),
    ];
    let all: Vec<Bytes> = (0..PER_MAILBOX)
        .flat_map(|i| (0..2).map(move |which| (which, i)).collect::<Vec<_>>())
        .map(|(which, i)| {
            let size = if i % 5 == 0 { 4096 } else { 1024 };
            envelope(mailboxes[which].0, ids[which][i], size, b"order")
        })
        .collect();
    for burst in all.chunks(BURST) {
        for result in sender.send_many(burst).await {
            result.unwrap();
        }
    }
    Sent { mailboxes, ids }
}

/// Subscribes to `mailbox`, reads `n` envelopes, acks the first `ack` of them.
async fn read(
    relay: &RelayProcess,
    (mbox, key): &(MailboxId, SigningKey),
    n: usize,
    ack: usize,
) -> Vec<MessageId> {
    let (client, mut incoming) = connect(relay.address()).await;
    client.subscribe(*mbox, key).await.unwrap();
    let mut got = Vec::with_capacity(n);
    for i in 0..n {
        let d = next(&mut incoming).await;
        assert_eq!(d.mailbox, *mbox);
        if i < ack {
            client.ack(d.mailbox, d.message).await.unwrap();
        }
        got.push(d.message);
    }
    got
}

fn moved(got: &[MessageId], sent: &[MessageId]) -> usize {
    got.iter().zip(sent).filter(|(a, b)| a != b).count()
}

/// Offline recipients: the backlog, and a redelivery after a subscriber
/// left without acking, come back in send order.
async fn backlog_in_send_order(cluster: bool) {
    let redis = RedisBackend::start(cluster);
    let relay = relay_on(&redis);
    let senders = (0..SENDERS).map(|_| send_interleaved(&relay));
    let sent = futures_util::future::join_all(senders).await;
    for s in &sent {
        for which in 0..2 {
            let head = read(&relay, &s.mailboxes[which], 200, 100).await;
            let n = moved(&head, &s.ids[which][..200]);
            assert_eq!(n, 0, "{n} of the first 200 stored out of send order");
            let rest = read(&relay, &s.mailboxes[which], PER_MAILBOX - 100, 0).await;
            let n = moved(&rest, &s.ids[which][100..]);
            assert_eq!(n, 0, "{n} redelivered out of send order");
        }
    }
}

/// Online recipients: live pushes (published by the append script) arrive in send order.
async fn live_in_send_order(cluster: bool) {
    let redis = RedisBackend::start(cluster);
    let relay = relay_on(&redis);
    let (sender, _in) = connect(relay.address()).await;
    let (recipient, mut incoming) = connect(relay.address()).await;
    let boxes = [mailbox(), mailbox()];
    for (m, k) in &boxes {
        sender
            .create_mailbox(*m, &k.verifying_key(), None)
            .await
            .unwrap();
        recipient.subscribe(*m, k).await.unwrap();
    }
    let ids: Vec<(usize, MessageId)> = (0..2 * PER_MAILBOX)
        .map(|i| (i % 2, message_id()))
        .collect();
    let envelopes: Vec<Bytes> = ids
        .iter()
        .map(|(which, id)| envelope(boxes[*which].0, *id, 1024, b"live"))
        .collect();
    let sending = async {
        for burst in envelopes.chunks(BURST) {
            for result in sender.send_many(burst).await {
                result.unwrap();
            }
        }
    };
    let receiving = async {
        let mut got: [Vec<MessageId>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..ids.len() {
            let d = next(&mut incoming).await;
            let which = usize::from(d.mailbox == boxes[1].0);
            got[which].push(d.message);
        }
        got
    };
    let ((), got) = tokio::join!(sending, receiving);
    for (which, got) in got.iter().enumerate() {
        let sent: Vec<MessageId> = ids
            .iter()
            .filter(|(w, _)| *w == which)
            .map(|(_, id)| *id)
            .collect();
        let n = moved(got, &sent);
        assert_eq!(n, 0, "{n} live pushes out of send order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_pipelined_backlog_keeps_send_order() {
    backlog_in_send_order(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_pipelined_backlog_keeps_send_order() {
    backlog_in_send_order(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_pipelined_live_pushes_keep_send_order() {
    live_in_send_order(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_pipelined_live_pushes_keep_send_order() {
    live_in_send_order(true).await;
}
