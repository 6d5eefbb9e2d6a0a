//! Conformance suite: every backend must pass the same checks.

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};

use super::*;
use crate::tokens;

const LIMITS: StoreLimits = StoreLimits {
    max_messages: 3,
    max_bytes: 3 * 1024,
    ttl_secs: 100,
};

fn env(byte: u8) -> Bytes {
    Bytes::from(vec![byte; 1024])
}

async fn conformance(store: &(impl MailboxStore + TokenStore)) {
    let a = MailboxId([1; 32]);
    let b = MailboxId([2; 32]);
    store.create_mailbox(a, [9; 32], 0).await.unwrap();
    assert_eq!(
        store.create_mailbox(a, [9; 32], 0).await,
        Err(StoreError::MailboxExists)
    );
    assert_eq!(store.auth_key(a).await.unwrap(), Some([9; 32]));
    assert_eq!(store.auth_key(b).await.unwrap(), None);
    assert_eq!(
        store.append(b, MessageId([1; 16]), env(1), 0).await,
        Err(StoreError::NoSuchMailbox)
    );

    let first = store
        .append(a, MessageId([1; 16]), env(1), 0)
        .await
        .unwrap();
    assert!(!first.duplicate);
    let again = store
        .append(a, MessageId([1; 16]), env(1), 0)
        .await
        .unwrap();
    assert!(again.duplicate, "a retried message id is stored once");
    let second = store
        .append(a, MessageId([2; 16]), env(2), 50)
        .await
        .unwrap();
    assert!(second.seq > first.seq);
    store
        .append(a, MessageId([3; 16]), env(3), 0)
        .await
        .unwrap();
    assert_eq!(
        store.append(a, MessageId([4; 16]), env(4), 0).await,
        Err(StoreError::QuotaFull)
    );

    let all = store.fetch(a, 0, 10, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].envelope, env(1));
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let rest = store.fetch(a, all[0].seq, 1, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].seq, all[1].seq);

    assert!(store.ack(a, MessageId([1; 16])).await.unwrap());
    assert!(!store.ack(a, MessageId([1; 16])).await.unwrap());
    // Idempotence holds only while stored (PROTOCOL.md §18.4): an acked id is forgotten,
    // so the same id appended again is a new envelope.
    let resent = store
        .append(a, MessageId([1; 16]), env(1), 0)
        .await
        .unwrap();
    assert!(!resent.duplicate, "an acked id is forgotten");
    assert!(store.ack(a, MessageId([1; 16])).await.unwrap());
    store
        .append(a, MessageId([4; 16]), env(4), 0)
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.mailboxes, stats.messages, stats.bytes),
        (1, 3, 3 * 1024)
    );

    // TTL: messages appended at 0 expire at 100; the one at 50 lives until 150.
    assert_eq!(store.fetch(a, 0, 10, 100).await.unwrap().len(), 1);
    assert_eq!(store.purge_expired(100).await.unwrap(), 2);
    assert_eq!(store.stats().await.unwrap().messages, 1);

    assert!(store.delete_mailbox(a).await.unwrap());
    assert!(!store.delete_mailbox(a).await.unwrap());
    assert_eq!(store.stats().await.unwrap(), StoreStats::default());

    let t = tokens::generate(
        tokens::Role::Admin,
        10,
        Some(std::time::Duration::from_secs(5)),
        "family",
    );
    store.create_token(t.hash, t.record.clone()).await.unwrap();
    assert_eq!(
        store.check_token(t.hash, 11).await.unwrap(),
        Some(t.record.clone()),
        "role, label and expiry come back"
    );
    assert_eq!(
        store.check_token(t.hash, 15).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.check_token([0; 32], 11).await.unwrap(), None);
    assert_eq!(store.list_tokens().await.unwrap(), vec![t.record.clone()]);
    assert!(store.revoke_token(t.record.id.clone()).await.unwrap());
    assert_eq!(
        store.check_token(t.hash, 11).await.unwrap(),
        None,
        "revoked"
    );

    store.shutdown().await.unwrap();
}

/// Send locks (PROTOCOL.md §18.3): a locked mailbox takes only appends
/// carrying its lock, checked after existence and before dedupe and quota;
/// open mailboxes take everything.
async fn send_lock_conformance(store: &impl MailboxStore) {
    let locked = MailboxId([3; 32]);
    let open = MailboxId([4; 32]);
    let lock = SendLock::of_key(&[7; 32]);
    let wrong = SendLock::of_key(&[8; 32]);
    store
        .create_locked_mailbox(locked, [9; 32], Some(lock), 0)
        .await
        .unwrap();
    store.create_mailbox(open, [9; 32], 0).await.unwrap();
    assert_eq!(
        store.create_locked_mailbox(locked, [1; 32], None, 0).await,
        Err(StoreError::MailboxExists),
        "an existing id, locked or not, is taken"
    );
    assert_eq!(
        store
            .create_locked_mailbox(open, [1; 32], Some(lock), 0)
            .await,
        Err(StoreError::MailboxExists)
    );
    assert_eq!(
        store.mailbox_keys(locked).await.unwrap(),
        Some(MailboxKeys {
            auth_key: [9; 32],
            send_lock: Some(lock)
        })
    );
    assert_eq!(
        store.mailbox_keys(open).await.unwrap().map(|k| k.send_lock),
        Some(None)
    );
    assert_eq!(store.auth_key(locked).await.unwrap(), Some([9; 32]));

    let id = MessageId([1; 16]);
    assert_eq!(
        store.append(locked, id, env(1), 0).await,
        Err(StoreError::SendKeyRefused),
        "plain send to a locked mailbox"
    );
    assert_eq!(
        store.append_keyed(locked, id, env(1), Some(wrong), 0).await,
        Err(StoreError::SendKeyRefused)
    );
    let stored = store
        .append_keyed(locked, id, env(1), Some(lock), 0)
        .await
        .unwrap();
    assert!(!stored.duplicate);
    assert_eq!(
        store.append(locked, id, env(1), 0).await,
        Err(StoreError::SendKeyRefused),
        "refused before dedupe: says nothing about stored ids"
    );
    assert!(
        store
            .append_keyed(locked, id, env(1), Some(lock), 0)
            .await
            .unwrap()
            .duplicate
    );
    // Fill the quota (3): a wrong key is still SendKeyRefused, not QuotaFull.
    for n in 2..=3 {
        store
            .append_keyed(locked, MessageId([n; 16]), env(n), Some(lock), 0)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .append_keyed(locked, MessageId([9; 16]), env(9), Some(wrong), 0)
            .await,
        Err(StoreError::SendKeyRefused)
    );
    assert_eq!(
        store
            .append_keyed(locked, MessageId([9; 16]), env(9), Some(lock), 0)
            .await,
        Err(StoreError::QuotaFull)
    );
    assert_eq!(store.fetch(locked, 0, 10, 1).await.unwrap().len(), 3);

    // An open mailbox ignores a presented key, right or wrong.
    store.append(open, id, env(1), 0).await.unwrap();
    store
        .append_keyed(open, MessageId([2; 16]), env(2), Some(wrong), 0)
        .await
        .unwrap();
    // A missing mailbox is NoSuchMailbox whatever the key, like a plain send.
    assert_eq!(
        store
            .append_keyed(MailboxId([5; 32]), id, env(1), Some(wrong), 0)
            .await,
        Err(StoreError::NoSuchMailbox)
    );
    // Pipelined appends (one Redis script call, one SQLite batch) are
    // judged one by one.
    let batched = MailboxId([6; 32]);
    store
        .create_locked_mailbox(batched, [9; 32], Some(lock), 0)
        .await
        .unwrap();
    let keys = [Some(lock), Some(wrong), None, Some(lock)];
    let calls: Vec<_> = keys
        .iter()
        .zip(1u8..)
        .map(|(key, n)| store.append_keyed(batched, MessageId([n; 16]), env(n), *key, 0))
        .collect();
    let results = futures_util::future::join_all(calls).await;
    assert!(results[0].is_ok() && results[3].is_ok(), "{results:?}");
    assert_eq!(results[1], Err(StoreError::SendKeyRefused));
    assert_eq!(results[2], Err(StoreError::SendKeyRefused));
    let kept: Vec<u8> = store
        .fetch(batched, 0, 10, 1)
        .await
        .unwrap()
        .iter()
        .map(|e| e.envelope[0])
        .collect();
    assert_eq!(kept, vec![1, 4]);

    // Deleted and created again open: the old lock is gone with it.
    assert!(store.delete_mailbox(locked).await.unwrap());
    store.create_mailbox(locked, [9; 32], 0).await.unwrap();
    store.append(locked, id, env(1), 0).await.unwrap();
}

#[tokio::test]
async fn memory_store_conforms() {
    conformance(&MemoryStore::new(LIMITS)).await;
}

#[tokio::test]
async fn memory_store_enforces_send_locks() {
    send_lock_conformance(&MemoryStore::new(LIMITS)).await;
}

#[tokio::test]
async fn holding_store_enforces_send_locks() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::in_dir(dir.path());
    options.limits = LIMITS;
    let inner = std::sync::Arc::new(SqliteStore::open(&options).unwrap());
    send_lock_conformance(&HoldingStore::new(inner)).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::in_dir(dir.path());
    options.limits = LIMITS;
    conformance(&SqliteStore::open(&options).unwrap()).await;
}

#[tokio::test]
async fn sqlite_store_enforces_send_locks() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::in_dir(dir.path());
    options.limits = LIMITS;
    send_lock_conformance(&SqliteStore::open(&options).unwrap()).await;
}

#[tokio::test]
async fn sqlite_keeps_send_locks_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::in_dir(dir.path());
    let (locked, open) = (MailboxId([6; 32]), MailboxId([7; 32]));
    let lock = SendLock::of_key(&[7; 32]);
    {
        let store = SqliteStore::open(&options).unwrap();
        store
            .create_locked_mailbox(locked, [1; 32], Some(lock), 0)
            .await
            .unwrap();
        store.create_mailbox(open, [1; 32], 0).await.unwrap();
    }
    let store = SqliteStore::open(&options).unwrap();
    assert_eq!(
        store
            .mailbox_keys(locked)
            .await
            .unwrap()
            .and_then(|k| k.send_lock),
        Some(lock)
    );
    let id = MessageId([1; 16]);
    assert_eq!(
        store.append(locked, id, env(1), 0).await,
        Err(StoreError::SendKeyRefused)
    );
    store
        .append_keyed(locked, id, env(1), Some(lock), 0)
        .await
        .unwrap();
    store.append(open, id, env(1), 0).await.unwrap();
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_store_conforms() {
    let server = self::redis::test_server::TestRedis::start();
    let options = RedisOptions {
        urls: vec![server.url()],
        cluster: false,
        limits: LIMITS,
    };
    let store = RedisStore::connect(&options).await.unwrap();
    assert_eq!(store.durability(), &self::redis::Durability::Always);
    conformance(&store).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_store_enforces_send_locks() {
    let server = self::redis::test_server::TestRedis::start();
    let options = RedisOptions {
        urls: vec![server.url()],
        cluster: false,
        limits: LIMITS,
    };
    send_lock_conformance(&RedisStore::connect(&options).await.unwrap()).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_cluster_store_enforces_send_locks() {
    let cluster = self::redis::test_server::TestCluster::start();
    let options = RedisOptions {
        urls: cluster.urls(),
        cluster: true,
        limits: LIMITS,
    };
    send_lock_conformance(&RedisStore::connect(&options).await.unwrap()).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_cluster_store_conforms() {
    let cluster = self::redis::test_server::TestCluster::start();
    let options = RedisOptions {
        urls: cluster.urls(),
        cluster: true,
        limits: LIMITS,
    };
    let store = RedisStore::connect(&options).await.unwrap();
    conformance(&store).await;
}

#[tokio::test]
async fn sqlite_keeps_committed_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::in_dir(dir.path());
    let a = MailboxId([5; 32]);
    {
        let store = SqliteStore::open(&options).unwrap();
        store.create_mailbox(a, [1; 32], 0).await.unwrap();
        let sends: Vec<_> = (0..500u16)
            .map(|i| {
                let mut id = [0; 16];
                id[..2].copy_from_slice(&i.to_be_bytes());
                store.append(a, MessageId(id), env(7), 0)
            })
            .collect();
        for s in futures_util::future::join_all(sends).await {
            s.unwrap();
        }
    }
    let store = SqliteStore::open(&options).unwrap();
    assert_eq!(store.fetch(a, 0, 1000, 1).await.unwrap().len(), 500);
    assert_eq!(store.stats().await.unwrap().messages, 500);
}

/// Issue 16: acked envelopes stayed in SQLite's free pages and its log, so a
/// seized disk gave back ciphertext that was supposed to be gone. With
/// `secure_delete` (the default), after the next purge pass no file of the
/// store holds a byte pattern of an acked or expired envelope, while what is
/// still stored stays readable; without it the same scan finds them.
#[tokio::test]
async fn deleted_envelopes_leave_nothing_in_the_files() {
    for secure in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut options = SqliteOptions::in_dir(dir.path());
        options.secure_delete = secure;
        let store = SqliteStore::open(&options).unwrap();
        let a = MailboxId([1; 32]);
        store.create_mailbox(a, [9; 32], 0).await.unwrap();
        // Random bodies, so each one is a pattern nothing else in the files
        // has: one small, one over several pages, one that will expire,
        // one that stays.
        let body =
            |len: usize| Bytes::from((0..len).map(|_| rand::random::<u8>()).collect::<Vec<_>>());
        let (small, large, expiring, kept) = (body(1024), body(16_384), body(4096), body(1024));
        store
            .append(a, MessageId([1; 16]), small.clone(), 0)
            .await
            .unwrap();
        store
            .append(a, MessageId([2; 16]), large.clone(), 0)
            .await
            .unwrap();
        store
            .append(a, MessageId([3; 16]), kept.clone(), 1_000)
            .await
            .unwrap();
        assert!(store.ack(a, MessageId([1; 16])).await.unwrap());
        assert!(store.ack(a, MessageId([2; 16])).await.unwrap());
        // Appended at 0 with the default 21-day TTL: expired at 2 × TTL.
        let ttl = StoreLimits::default().ttl_secs;
        store
            .append(a, MessageId([4; 16]), expiring.clone(), 0)
            .await
            .unwrap();
        // The pass that runs every purge interval; `kept` was stored at
        // 1,000 s and lives to 1,000 s + TTL.
        let purged = store.purge_expired(ttl + 1).await.unwrap();
        assert_eq!(purged, 1, "the expiring one");
        let files = read_dir(dir.path());
        let found = |pattern: &[u8]| {
            files
                .iter()
                .any(|f| f.windows(64).any(|w| w == &pattern[..64]))
        };
        assert!(found(&kept), "what is stored is still there");
        for (gone, what) in [
            (&small, "acked"),
            (&large, "acked, large"),
            (&expiring, "expired"),
        ] {
            assert_eq!(!found(gone), secure, "{what} with secure_delete = {secure}");
        }
    }
}

/// Every file under `dir`, read whole.
fn read_dir(dir: &std::path::Path) -> Vec<Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}
