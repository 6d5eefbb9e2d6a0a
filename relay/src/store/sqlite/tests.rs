//! SQLite-specific behaviour: held appends cancelled by acks, batch acks,
//! and held appends surviving shutdown.

use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};

use super::hold::HOLD;
use super::*;

const A: MailboxId = MailboxId([1; 32]);

fn env(byte: u8) -> Bytes {
    Bytes::from(vec![byte; 1024])
}

fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(&SqliteOptions::in_dir(dir)).unwrap()
}

async fn with_mailbox(dir: &Path) -> SqliteStore {
    let store = open(dir);
    store.create_mailbox(A, [9; 32], 0).await.unwrap();
    store
}

#[tokio::test]
async fn ack_while_held_cancels_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_mailbox(dir.path()).await;
    let append = store.append_delivered(A, MessageId([1; 16]), env(1), 0);
    let acked = store.ack(A, MessageId([1; 16]));
    let (appended, acked) = tokio::join!(append, acked);
    assert!(!appended.unwrap().duplicate);
    assert!(
        !acked.unwrap(),
        "nothing was stored, so nothing was deleted"
    );
    assert_eq!(store.cancelled_writes(), 1, "resolved by the ack");
    assert!(store.fetch(A, 0, 10, 0).await.unwrap().is_empty());
    assert_eq!(store.stats().await.unwrap().messages, 0);
}

#[tokio::test]
async fn batch_ack_cancels_held_appends_and_deletes_stored_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_mailbox(dir.path()).await;
    store
        .append(A, MessageId([1; 16]), env(1), 0)
        .await
        .unwrap();
    store
        .append(A, MessageId([2; 16]), env(2), 0)
        .await
        .unwrap();
    let held = store.append_delivered(A, MessageId([3; 16]), env(3), 0);
    let removed = store.ack_many(vec![
        (A, MessageId([1; 16])),
        (A, MessageId([3; 16])),
        (A, MessageId([9; 16])),
    ]);
    let (held, removed) = tokio::join!(held, removed);
    held.unwrap();
    assert_eq!(removed.unwrap(), 1, "only message 1 was in the database");
    assert_eq!(store.cancelled_writes(), 1);
    let left = store.fetch(A, 0, 10, 0).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].envelope, env(2));
    assert_eq!(store.stats().await.unwrap().messages, 1);
}

#[tokio::test]
async fn unacked_held_append_is_written_after_the_hold() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_mailbox(dir.path()).await;
    let started = Instant::now();
    store
        .append_delivered(A, MessageId([1; 16]), env(1), 0)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= HOLD,
        "held for its recipient's ack first"
    );
    assert_eq!(store.cancelled_writes(), 0);
    assert_eq!(store.fetch(A, 0, 10, 0).await.unwrap().len(), 1);
    // A later ack deletes it like any stored envelope.
    assert!(store.ack(A, MessageId([1; 16])).await.unwrap());
    assert!(store.fetch(A, 0, 10, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn ack_overtaking_its_held_append_still_cancels_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_mailbox(dir.path()).await;
    assert!(!store.ack(A, MessageId([1; 16])).await.unwrap());
    store
        .append_delivered(A, MessageId([1; 16]), env(1), 0)
        .await
        .unwrap();
    assert_eq!(store.cancelled_writes(), 1);
    assert!(store.fetch(A, 0, 10, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn shutdown_writes_held_appends_before_answering() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = with_mailbox(dir.path()).await;
        let held = store.append_delivered(A, MessageId([1; 16]), env(1), 0);
        // Let the writer take it into its hold, then stop.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (held, stopped) = tokio::join!(held, store.shutdown());
        held.unwrap();
        stopped.unwrap();
    }
    let store = open(dir.path());
    let stored = store.fetch(A, 0, 10, 0).await.unwrap();
    assert_eq!(
        stored.len(),
        1,
        "the acknowledged append survived the restart"
    );
}

#[tokio::test]
async fn held_append_to_a_full_mailbox_is_refused_unless_acked() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::in_dir(dir.path());
    options.limits.max_messages = 1;
    let store = SqliteStore::open(&options).unwrap();
    store.create_mailbox(A, [9; 32], 0).await.unwrap();
    store
        .append(A, MessageId([1; 16]), env(1), 0)
        .await
        .unwrap();
    assert_eq!(
        store
            .append_delivered(A, MessageId([2; 16]), env(2), 0)
            .await,
        Err(StoreError::QuotaFull)
    );
    // Acked while held: the recipient has it, so the sender is told it is safe.
    let held = store.append_delivered(A, MessageId([3; 16]), env(3), 0);
    let acked = store.ack(A, MessageId([3; 16]));
    let (held, _) = tokio::join!(held, acked);
    held.unwrap();
}

#[tokio::test]
async fn held_append_keeps_its_place_ahead_of_later_appends() {
    // A is pushed to an online recipient (held), the recipient goes away
    // without acking, then B arrives and is written at once. The backlog
    // must still be A, B: storage order is arrival order, not write order.
    let dir = tempfile::tempdir().unwrap();
    let store = with_mailbox(dir.path()).await;
    let held = store.append_delivered(A, MessageId([1; 16]), env(1), 0);
    let later = store.append(A, MessageId([2; 16]), env(2), 0);
    let (held, later) = tokio::join!(held, later);
    let (held, later) = (held.unwrap(), later.unwrap());
    assert!(held.seq < later.seq, "positions follow arrival");
    let ids: Vec<u8> = store
        .fetch(A, 0, 10, 0)
        .await
        .unwrap()
        .iter()
        .map(|m| m.envelope[0])
        .collect();
    assert_eq!(ids, vec![1, 2], "backlog in arrival order");
}
