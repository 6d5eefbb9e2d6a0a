//! Held appends over a real SQLite store: cancelled by acks, written when
//! due, and never out of place.

use std::path::Path;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};

use super::*;
use crate::store::{SqliteOptions, SqliteStore};

const A: MailboxId = MailboxId([1; 32]);

fn env(byte: u8) -> Bytes {
    Bytes::from(vec![byte; 1024])
}

fn id(n: u8) -> MessageId {
    MessageId([n; 16])
}

async fn open(dir: &Path) -> (HoldingStore, Arc<SqliteStore>) {
    let sqlite = Arc::new(SqliteStore::open(&SqliteOptions::in_dir(dir)).unwrap());
    sqlite.create_mailbox(A, [9; 32], 0).await.unwrap();
    (HoldingStore::new(sqlite.clone()), sqlite)
}

/// What the inner store has for `A`, as (first byte of each envelope).
async fn stored(inner: &SqliteStore) -> Vec<u8> {
    let page = inner.fetch(A, 0, 100, 0).await.unwrap();
    page.iter().map(|s| s.envelope[0]).collect()
}

#[tokio::test]
async fn an_ack_while_held_cancels_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let (store, inner) = open(dir.path()).await;
    let append = store.append_delivered(A, id(1), env(1), 0);
    assert!(
        store.ack(A, id(1)).await.unwrap(),
        "the held envelope was there"
    );
    let appended = append.await.unwrap();
    assert!(!appended.duplicate);
    assert_eq!(store.cancelled_writes(), 1);
    tokio::time::sleep(HOLD * 2).await;
    assert!(stored(&inner).await.is_empty(), "never written");
    assert_eq!(inner.stats().await.unwrap().messages, 0);
}

#[tokio::test]
async fn an_unacked_append_is_written_once_due() {
    let dir = tempfile::tempdir().unwrap();
    let (store, inner) = open(dir.path()).await;
    let started = Instant::now();
    let appended = store.append_delivered(A, id(1), env(1), 0).await.unwrap();
    assert!(started.elapsed() >= HOLD, "resolved only once written");
    assert!(!appended.duplicate);
    assert_eq!(stored(&inner).await, vec![1]);
    assert_eq!(store.cancelled_writes(), 0);
    // A late ack deletes it like any stored envelope.
    assert!(store.ack(A, id(1)).await.unwrap());
    assert!(stored(&inner).await.is_empty());
}

#[tokio::test]
async fn a_plain_append_after_held_ones_keeps_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let (store, inner) = open(dir.path()).await;
    let first = store.append_delivered(A, id(1), env(1), 0);
    let second = store.append_delivered(A, id(2), env(2), 0);
    // The recipient went offline: the next append is not held.
    let third = store.append(A, id(3), env(3), 0);
    let (a, b, c) = tokio::join!(third, second, first);
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(stored(&inner).await, vec![1, 2, 3]);
}

#[tokio::test]
async fn a_backlog_fetch_includes_held_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _inner) = open(dir.path()).await;
    let held = store.append_delivered(A, id(1), env(1), 0);
    let started = Instant::now();
    let page = store.fetch(A, 0, 10, 0).await.unwrap();
    assert!(started.elapsed() < HOLD, "written at once, not when due");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].envelope[0], 1);
    assert!(held.await.is_ok());
}

#[tokio::test]
async fn a_batch_ack_mixes_held_and_stored_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, inner) = open(dir.path()).await;
    store.append(A, id(1), env(1), 0).await.unwrap();
    let held = store.append_delivered(A, id(2), env(2), 0);
    let n = store
        .ack_many(vec![(A, id(1)), (A, id(2)), (A, id(3))])
        .await
        .unwrap();
    assert_eq!(n, 2, "one deleted, one cancelled, one unknown");
    assert!(held.await.is_ok());
    assert!(stored(&inner).await.is_empty());
}

#[tokio::test]
async fn a_retry_of_a_held_message_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let (store, inner) = open(dir.path()).await;
    let first = store.append_delivered(A, id(1), env(1), 0);
    let retry = store.append_delivered(A, id(1), env(1), 0);
    let (first, retry) = tokio::join!(first, retry);
    assert!(!first.unwrap().duplicate);
    assert!(retry.unwrap().duplicate);
    assert_eq!(stored(&inner).await, vec![1]);
}

#[tokio::test]
async fn shutdown_writes_what_is_held() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _inner) = open(dir.path()).await;
        let held = store.append_delivered(A, id(1), env(1), 0);
        store.shutdown().await.unwrap();
        assert!(held.await.is_ok());
    }
    let reopened = SqliteStore::open(&SqliteOptions::in_dir(dir.path())).unwrap();
    assert_eq!(stored(&reopened).await, vec![1]);
}

#[tokio::test]
async fn deleting_a_mailbox_resolves_its_held_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _inner) = open(dir.path()).await;
    let held = store.append_delivered(A, id(1), env(1), 0);
    assert!(store.delete_mailbox(A).await.unwrap());
    assert!(held.await.is_ok(), "written before the mailbox went");
    assert!(store.fetch(A, 0, 10, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_held_append_to_a_full_mailbox_is_refused_unless_acked() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::in_dir(dir.path());
    options.limits.max_messages = 1;
    let inner = Arc::new(SqliteStore::open(&options).unwrap());
    inner.create_mailbox(A, [9; 32], 0).await.unwrap();
    let store = HoldingStore::new(inner);
    store.append(A, id(1), env(1), 0).await.unwrap();
    assert_eq!(
        store.append_delivered(A, id(2), env(2), 0).await,
        Err(StoreError::QuotaFull),
        "written once due, and refused like any append"
    );
    // Acked while held: the recipient has it, so the sender is told it is safe.
    let held = store.append_delivered(A, id(3), env(3), 0);
    assert!(store.ack(A, id(3)).await.unwrap());
    assert!(held.await.is_ok());
}
