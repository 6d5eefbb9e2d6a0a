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
    crosses_instances(RedisOptions {
        urls: vec![server.url()],
        cluster: false,
        limits: StoreLimits::default(),
    })
    .await;
}

#[tokio::test]
async fn redis_cluster_fanout_crosses_instances() {
    let cluster = TestCluster::start();
    crosses_instances(RedisOptions {
        urls: cluster.urls(),
        cluster: true,
        limits: StoreLimits::default(),
    })
    .await;
}

/// Losing the pub/sub connection is reported, so the relay can kick its
/// subscribers (who then read their backlog) instead of missing pushes silently.
#[tokio::test]
async fn redis_fanout_reports_a_lost_connection() {
    let server = TestRedis::start();
    let options = RedisOptions {
        urls: vec![server.url()],
        cluster: false,
        limits: StoreLimits::default(),
    };
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
