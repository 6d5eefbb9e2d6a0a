//! Schema: upgrading a version 1 database, and every statement using an index.

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use rusqlite::{Connection, params};

use super::*;

const A: MailboxId = MailboxId([1; 32]);
const B: MailboxId = MailboxId([2; 32]);

fn env(byte: u8, len: usize) -> Bytes {
    Bytes::from(vec![byte; len])
}

/// A database as a version 1 relay left it: two mailboxes holding envelopes
/// (stored out of mailbox order, with gaps in `seq`), and a token.
fn write_v1(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(schema::V1_SCHEMA).unwrap();
    for (mailbox, key) in [(A, 9u8), (B, 8u8)] {
        conn.execute(
            "INSERT INTO mailboxes (id, auth_key, created_at) VALUES (?1, ?2, 5)",
            params![&mailbox.0[..], &[key; 32][..]],
        )
        .unwrap();
    }
    let mut usage = std::collections::HashMap::new();
    for i in 0..30u8 {
        let mailbox = if i % 3 == 0 { B } else { A };
        let envelope = env(i, 1000 + usize::from(i));
        conn.execute(
            "INSERT INTO messages (seq, mailbox, msg_id, expires_at, envelope) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                i64::from(i) * 2 + 1,
                &mailbox.0[..],
                &[i; 16][..],
                1000 + i64::from(i),
                &envelope[..]
            ],
        )
        .unwrap();
        let u: &mut (i64, i64) = usage.entry(mailbox.0).or_default();
        u.0 += 1;
        u.1 += envelope.len() as i64;
    }
    for (id, (count, bytes)) in usage {
        conn.execute(
            "UPDATE mailboxes SET msg_count = ?2, msg_bytes = ?3 WHERE id = ?1",
            params![&id[..], count, bytes],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO tokens (hash, id, role, created_at) VALUES (?1, 'tok1', 'admin', 3)",
        params![&[5u8; 32][..]],
    )
    .unwrap();
}

#[tokio::test]
async fn version_1_database_is_upgraded_with_every_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    write_v1(&path);
    let store = SqliteStore::open(&SqliteOptions::in_dir(dir.path())).unwrap();

    let version: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    assert_eq!(store.auth_key(A).await.unwrap(), Some([9; 32]));
    assert_eq!(store.auth_key(B).await.unwrap(), Some([8; 32]));
    for (mailbox, ids) in [
        (A, (0..30u8).filter(|i| i % 3 != 0).collect::<Vec<_>>()),
        (B, (0..30u8).filter(|i| i % 3 == 0).collect()),
    ] {
        let got = store.fetch(mailbox, 0, 100, 0).await.unwrap();
        let bytes: Vec<u8> = got.iter().map(|m| m.envelope[0]).collect();
        assert_eq!(bytes, ids, "every envelope, in storage order");
        for (m, i) in got.iter().zip(&ids) {
            assert_eq!(m.envelope, env(*i, 1000 + usize::from(*i)));
            assert_eq!(m.seq, u64::from(*i) * 2 + 1, "positions kept");
        }
    }
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.mailboxes, stats.messages), (2, 30));
    // Expiry times came along: at 1010 the first ten are gone.
    assert_eq!(store.fetch(A, 0, 100, 1010).await.unwrap().len(), 13);
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    // Usage, dedupe, acks and new positions work on the upgraded data.
    assert!(
        store
            .append(A, MessageId([1; 16]), env(1, 1001), 0)
            .await
            .unwrap()
            .duplicate
    );
    let new = store
        .append(B, MessageId([99; 16]), env(99, 10), 0)
        .await
        .unwrap();
    assert!(new.seq > 59, "after every old position");
    assert!(store.ack(A, MessageId([1; 16])).await.unwrap());
    assert_eq!(store.stats().await.unwrap().messages, 30);
    // Expired: positions 0..=10 (11), one of them acked above.
    assert_eq!(store.purge_expired(1010).await.unwrap(), 10);
    drop(store);

    // Opening again leaves the upgraded database as it is.
    let store = SqliteStore::open(&SqliteOptions::in_dir(dir.path())).unwrap();
    assert_eq!(store.stats().await.unwrap().messages, 20);
    assert_eq!(store.fetch(B, 0, 100, 0).await.unwrap().len(), 7);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", schema::VERSION + 1)
        .unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(&SqliteOptions::in_dir(dir.path())),
        Err(StoreError::Unavailable(_))
    ));
}

#[test]
fn new_databases_use_the_larger_page() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(&SqliteOptions::in_dir(dir.path())).unwrap());
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let page: i64 = conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    assert_eq!(page, 8192);
}

#[test]
fn every_statement_on_messages_uses_an_index() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(&SqliteOptions::in_dir(dir.path())).unwrap());
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let statements = apply::STATEMENTS
        .iter()
        .chain([MAILBOX_KEYS, FETCH, STATS, CHECK_TOKEN, LIST_TOKENS].iter());
    for sql in statements {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let mut rows = stmt.raw_query();
        let mut plan = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            plan.push(row.get::<_, String>(3).unwrap());
        }
        let plan = plan.join(" | ");
        // Full scans are only acceptable where every row is wanted.
        let whole_table = sql.contains("COUNT(*)") || sql.contains("FROM tokens \\");
        if !whole_table && !sql.starts_with("SELECT id, role") {
            assert!(
                !plan.contains("SCAN messages") && !plan.contains("SCAN mailboxes"),
                "{sql}\n  plan: {plan}"
            );
        }
        if sql.contains("ORDER BY seq") {
            assert!(
                plan.contains("messages_by_mailbox") && !plan.contains("TEMP B-TREE"),
                "fetch must walk (mailbox, seq): {plan}"
            );
        }
        if sql.contains("msg_id = ?2") {
            assert!(plan.contains("messages_by_id"), "{sql}\n  plan: {plan}");
        }
        if sql.contains("expires_at <= ?1") {
            assert!(plan.contains("messages_by_expiry"), "{sql}\n  plan: {plan}");
        }
    }
}

#[tokio::test]
async fn version_2_database_gains_send_locks_and_keeps_its_mailboxes_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(schema::V2_SCHEMA).unwrap();
        conn.execute(
            "INSERT INTO mailboxes (id, auth_key, created_at, msg_count, msg_bytes) \
             VALUES (?1, ?2, 5, 1, 10)",
            params![&A.0[..], &[9u8; 32][..]],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO messages (seq, mailbox, msg_id, expires_at, envelope) \
             VALUES (4, 1, ?1, 1000, ?2)",
            params![&[1u8; 16][..], &[7u8; 10][..]],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&SqliteOptions::in_dir(dir.path())).unwrap();
    let version: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    let keys = store.mailbox_keys(A).await.unwrap().unwrap();
    assert_eq!(
        (keys.auth_key, keys.send_lock),
        ([9; 32], None),
        "still open"
    );
    assert_eq!(store.fetch(A, 0, 10, 0).await.unwrap().len(), 1);
    store
        .append(A, MessageId([2; 16]), env(2, 10), 0)
        .await
        .unwrap();
    let lock = crate::store::SendLock::of_key(&[3; 32]);
    store
        .create_locked_mailbox(B, [8; 32], Some(lock), 0)
        .await
        .unwrap();
    assert_eq!(
        store.append(B, MessageId([1; 16]), env(1, 10), 0).await,
        Err(StoreError::SendKeyRefused)
    );
    drop(store);
    // Opening again changes nothing.
    let store = SqliteStore::open(&SqliteOptions::in_dir(dir.path())).unwrap();
    assert_eq!(store.stats().await.unwrap().messages, 2);
    assert_eq!(
        store
            .mailbox_keys(B)
            .await
            .unwrap()
            .and_then(|k| k.send_lock),
        Some(lock)
    );
}
