//! Fan-out against real servers: an envelope appended through one store
//! instance reaches the fan-out of another, for a single server and a cluster.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use tokio::sync::mpsc;

use super::test_server::{TestCluster, TestRedis};
use super::{RedisFanout, RedisOptions, RedisStore};
use crate::fanout::{Fanout, FanoutEvent};
use crate::store::{MailboxStore, StoreLimits};

/// Options for one test server.
fn single(server: &TestRedis) -> RedisOptions {
    RedisOptions {
        urls: vec![server.url()],
        cluster: false,
        limits: StoreLimits::default(),
    }
}

/// Options for the test cluster.
fn clustered(cluster: &TestCluster) -> RedisOptions {
    RedisOptions {
        urls: cluster.urls(),
        cluster: true,
        limits: StoreLimits::default(),
    }
}

async fn crosses_instances(options: RedisOptions) {
    let sender = RedisStore::connect(&options).await.unwrap();
    let fanout = RedisFanout::connect(&options).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    fanout.attach(Arc::new(move |e| {
        let _ = tx.send(e);
    }));
    let watched = MailboxId([3; 32]);
    let other = MailboxId([4; 32]);
    for m in [watched, other] {
        sender.create_mailbox(m, [1; 32], 0).await.unwrap();
    }
    fanout.watch(watched).await;
    sender
        .append(
            other,
            MessageId([8; 16]),
            Bytes::from_static(b"not watched"),
            0,
        )
        .await
        .unwrap();
    for i in 0..3u8 {
        sender
            .append(watched, MessageId([i; 16]), Bytes::from(vec![i; 100]), 0)
            .await
            .unwrap();
    }
    // A duplicate is not published again.
    sender
        .append(watched, MessageId([0; 16]), Bytes::from(vec![0; 100]), 0)
        .await
        .unwrap();
    for i in 0..3u8 {
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let FanoutEvent::Push(push) = event else {
            panic!("unexpected {event:?}");
        };
        assert_eq!(push.mailbox, watched);
        assert_eq!(push.message, MessageId([i; 16]), "in storage order");
        assert_eq!(push.envelope, Bytes::from(vec![i; 100]));
    }
    fanout.unwatch(watched);
    // Requests run in order: once a later watch is active, the unwatch is done.
    fanout.watch(MailboxId([5; 32])).await;
    sender
        .append(watched, MessageId([9; 16]), Bytes::from_static(b"late"), 0)
        .await
        .unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(nothing.is_err(), "unwatched and duplicate: {nothing:?}");
    // Batch ack: one script per mailbox; unknown ids count nothing.
    let removed = sender
        .ack_many(vec![
            (watched, MessageId([0; 16])),
            (other, MessageId([8; 16])),
            (watched, MessageId([1; 16])),
            (other, MessageId([0xee; 16])),
        ])
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let stats = sender.stats().await.unwrap();
    assert_eq!((stats.mailboxes, stats.messages), (2, 2));
    assert_eq!(stats.bytes, 100 + 4);
}

#[tokio::test]
async fn redis_fanout_crosses_instances() {
    let server = TestRedis::start();
    crosses_instances(single(&server)).await;
}

#[tokio::test]
async fn redis_cluster_fanout_crosses_instances() {
    let cluster = TestCluster::start();
    crosses_instances(clustered(&cluster)).await;
}

/// Deleting a mailbox through one instance reaches the fan-out of another,
/// after the mailbox's last push, so its subscriptions there end too.
async fn deletions_cross_instances(options: RedisOptions) {
    let deleter = RedisStore::connect(&options).await.unwrap();
    let fanout = RedisFanout::connect(&options).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    fanout.attach(Arc::new(move |e| {
        let _ = tx.send(e);
    }));
    let m = MailboxId([8; 32]);
    deleter.create_mailbox(m, [1; 32], 0).await.unwrap();
    fanout.watch(m).await;
    deleter
        .append(m, MessageId([1; 16]), Bytes::from_static(b"last"), 0)
        .await
        .unwrap();
    assert!(deleter.delete_mailbox(m).await.unwrap());
    assert!(
        !deleter.delete_mailbox(m).await.unwrap(),
        "gone: not announced again"
    );
    let mut events = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        events.push(event);
    }
    assert!(
        matches!(&events[..], [FanoutEvent::Push(p), FanoutEvent::Deleted(d)] if p.mailbox == m && *d == m),
        "{events:?}"
    );
}

#[tokio::test]
async fn redis_fanout_announces_deletions() {
    let server = TestRedis::start();
    deletions_cross_instances(single(&server)).await;
}

#[tokio::test]
async fn redis_cluster_fanout_announces_deletions() {
    let cluster = TestCluster::start();
    deletions_cross_instances(clustered(&cluster)).await;
}

/// Losing the pub/sub connection is reported, so the relay can kick its
/// subscribers (who then read their backlog) instead of missing pushes silently.
#[tokio::test]
async fn redis_fanout_reports_a_lost_connection() {
    let server = TestRedis::start();
    let options = single(&server);
    let fanout = RedisFanout::connect(&options).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    fanout.attach(Arc::new(move |e| {
        let _ = tx.send(e);
    }));
    fanout.watch(MailboxId([6; 32])).await;
    drop(server);
    let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event after the server died")
        .unwrap();
    assert!(matches!(event, FanoutEvent::Lost), "{event:?}");
}

/// Appends to one mailbox land in the order `append` was *called*, whatever
/// order their futures are first polled in (the server keeps them in a
/// `FuturesOrdered`; nothing promises which one runs first). Here they are
/// polled newest first, and a second mailbox is interleaved.
async fn appends_keep_call_order(options: RedisOptions) {
    let store = RedisStore::connect(&options).await.unwrap();
    let fanout = RedisFanout::connect(&options).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    fanout.attach(Arc::new(move |e| {
        let _ = tx.send(e);
    }));
    let (a, b) = (MailboxId([0x31; 32]), MailboxId([0x32; 32]));
    for m in [a, b] {
        store.create_mailbox(m, [1; 32], 0).await.unwrap();
    }
    fanout.watch(a).await;
    let ids: Vec<MessageId> = (0..300u16)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..2].copy_from_slice(&i.to_be_bytes());
            MessageId(id)
        })
        .collect();
    let calls: Vec<_> = ids
        .iter()
        .map(|id| {
            let mailbox = if id.0[1] % 3 == 0 { b } else { a };
            store.append(mailbox, *id, Bytes::from(vec![id.0[1]; 64]), 0)
        })
        .collect();
    let results = futures_util::future::join_all(calls.into_iter().rev()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for mailbox in [a, b] {
        let stored: Vec<Bytes> = store
            .fetch(mailbox, 0, 1000, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.envelope)
            .collect();
        let expected: Vec<Bytes> = ids
            .iter()
            .filter(|id| (id.0[1] % 3 == 0) == (mailbox == b))
            .map(|id| Bytes::from(vec![id.0[1]; 64]))
            .collect();
        assert_eq!(stored.len(), expected.len());
        let moved = stored.iter().zip(&expected).filter(|(s, e)| s != e).count();
        assert_eq!(moved, 0, "{moved} envelopes stored out of call order");
        if mailbox == a {
            // Published in batches, received one push per envelope, in storage order.
            let mut pushed = Vec::new();
            while pushed.len() < expected.len() {
                let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                    .await
                    .unwrap()
                    .unwrap();
                let FanoutEvent::Push(push) = event else {
                    panic!("unexpected {event:?}");
                };
                assert_eq!(push.mailbox, a);
                pushed.push(push.envelope);
            }
            assert_eq!(pushed, expected, "live pushes in storage order");
        }
    }
}

#[tokio::test]
async fn redis_appends_keep_call_order() {
    let server = TestRedis::start();
    appends_keep_call_order(single(&server)).await;
}

#[tokio::test]
async fn redis_cluster_appends_keep_call_order() {
    let cluster = TestCluster::start();
    appends_keep_call_order(clustered(&cluster)).await;
}

/// After a Redis restart the script cache is empty: the first call of each
/// script gets `NOSCRIPT` (nothing ran), loads the script and runs again.
#[tokio::test]
async fn redis_scripts_are_reloaded_after_a_flush() {
    let server = TestRedis::start();
    let options = single(&server);
    let store = RedisStore::connect(&options).await.unwrap();
    let m = MailboxId([0x41; 32]);
    store.create_mailbox(m, [1; 32], 0).await.unwrap();
    let first = store
        .append(m, MessageId([1; 16]), Bytes::from_static(b"one"), 0)
        .await
        .unwrap();
    assert!(server.cli(&["SCRIPT", "FLUSH"]).contains("OK"));
    let calls: Vec<_> = (2..6u8)
        .map(|i| store.append(m, MessageId([i; 16]), Bytes::from(vec![i; 8]), 0))
        .collect();
    let seqs: Vec<u64> = futures_util::future::try_join_all(calls)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.seq)
        .collect();
    assert_eq!(seqs, (first.seq + 1..first.seq + 5).collect::<Vec<_>>());
    assert!(server.cli(&["SCRIPT", "FLUSH"]).contains("OK"));
    let removed = store
        .ack_many(vec![(m, MessageId([1; 16])), (m, MessageId([2; 16]))])
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert_eq!(store.fetch(m, 0, 10, 0).await.unwrap().len(), 3);
}
