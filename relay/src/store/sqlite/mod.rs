//! The embedded default store: one SQLite file in WAL mode.
//!
//! Writes go to one writer thread doing group commit ([`writer`]); reads
//! use a small pool of connections ([`reader`]).
//!
//! Durability rule: an `append` resolves only after the transaction holding
//! the envelope has committed (envelopes acked by an online recipient
//! before they reach this store are never written: see
//! [`crate::store::HoldingStore`]). With [`Synchronous::Normal`] (default) a
//! committed transaction is in the WAL file in the operating system's page
//! cache: it survives the relay being killed at any moment (SIGKILL, OOM,
//! panic) but the last commits may be lost if the whole machine loses
//! power. [`Synchronous::Full`] also fsyncs the WAL on every group commit,
//! surviving power loss at the cost of one fsync per batch.

mod apply;
mod reader;
mod schema;
mod writer;

#[cfg(test)]
mod schema_tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use rusqlite::{OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{
    Appended, MailboxKeys, MailboxStore, SendLock, StoreError, StoreFuture, StoreLimits,
    StoreStats, StoredEnvelope, TokenStore,
};
use crate::tokens::{Role, TokenRecord};
use reader::Readers;
use writer::{Counters, WriteOp, Writer};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "relay.db";

const MAILBOX_KEYS: &str = "SELECT auth_key, send_lock FROM mailboxes WHERE id = ?1";
/// The mailbox's number is looked up once; the range scan then runs on
/// `messages_by_mailbox` (mailbox, seq).
const FETCH: &str = "SELECT seq, envelope FROM messages \
     WHERE mailbox = (SELECT num FROM mailboxes WHERE id = ?1) \
     AND seq > ?2 AND expires_at > ?3 ORDER BY seq LIMIT ?4";
const STATS: &str = "SELECT COUNT(*), COALESCE(SUM(msg_count), 0), COALESCE(SUM(msg_bytes), 0) \
     FROM mailboxes";
const CHECK_TOKEN: &str = "SELECT id, role, created_at, expires_at, revoked, label FROM tokens \
     WHERE hash = ?1 AND revoked = 0 \
     AND (expires_at IS NULL OR expires_at > ?2)";
const LIST_TOKENS: &str = "SELECT id, role, created_at, expires_at, revoked, label FROM tokens \
     ORDER BY created_at, id";

/// Expired envelopes deleted per transaction, so a purge never stalls senders for long.
const PURGE_CHUNK: u32 = 2000;

/// What a commit must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Survives the relay process dying at any moment; not a power loss.
    #[default]
    Normal,
    /// Also survives power loss: fsync on every group commit.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Database file.
    pub path: PathBuf,
    /// Commit durability.
    pub synchronous: Synchronous,
    /// Quotas and TTL.
    pub limits: StoreLimits,
    /// Overwrite what is deleted (acked, expired, purged envelopes; deleted
    /// mailboxes): SQLite's `secure_delete`, and the write-ahead log emptied
    /// at every purge pass, so a copy of the files taken later holds none of
    /// it. On by default; off only to measure what it costs.
    pub secure_delete: bool,
}

impl SqliteOptions {
    /// Defaults for a data directory.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(DB_FILE),
            synchronous: Synchronous::default(),
            limits: StoreLimits::default(),
            secure_delete: true,
        }
    }
}

/// The SQLite [`MailboxStore`] and [`TokenStore`].
pub struct SqliteStore {
    writes: mpsc::Sender<WriteOp>,
    readers: Readers,
    limits: StoreLimits,
    secure_delete: bool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens or creates the database and starts the writer thread.
    pub fn open(options: &SqliteOptions) -> Result<Self, StoreError> {
        let mut conn =
            schema::open(&options.path, options.synchronous).map_err(writer::unavailable)?;
        // The writer does every delete: its connection is the one that must
        // overwrite (a per-connection setting).
        conn.pragma_update(None, "secure_delete", options.secure_delete)
            .map_err(writer::unavailable)?;
        schema::migrate(&mut conn).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let writer = Writer::new(conn, options.limits, Arc::new(Counters::default()))?;
        let (tx, rx) = mpsc::channel(writer::MAX_BATCH * 4);
        let thread = std::thread::Builder::new()
            .name("cairn-sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self {
            writes: tx,
            readers: Readers::new(options.path.clone()),
            limits: options.limits,
            secure_delete: options.secure_delete,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a write and waits for its committed answer. The operation is
    /// queued at once when there is room (so writes reach the writer in call
    /// order: an append queued before its envelope is pushed is ahead of the
    /// recipient's ack), else when the future is first polled.
    fn write<T: Send + 'static>(
        &self,
        make: impl FnOnce(writer::Reply<T>) -> WriteOp,
    ) -> StoreFuture<T> {
        let (reply, answer) = oneshot::channel();
        let waiting = match self.writes.try_send(make(reply)) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(op)) => Some((self.writes.clone(), op)),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Box::pin(std::future::ready(Err(StoreError::Closed)));
            }
        };
        Box::pin(async move {
            if let Some((writes, op)) = waiting {
                writes.send(op).await.map_err(|_| StoreError::Closed)?;
            }
            answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("write was not applied".into())))
        })
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<T> {
        let readers = self.readers.clone();
        Box::pin(async move { readers.run(f).await })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The writer thread ends once every sender is gone; it finishes its
        // current batch first, so nothing acknowledged is lost either way.
        if let Ok(mut thread) = self.thread.lock()
            && let Some(handle) = thread.take()
        {
            let (tx, _) = mpsc::channel(1);
            drop(std::mem::replace(&mut self.writes, tx));
            let _ = handle.join();
        }
    }
}

fn blob32(v: Vec<u8>) -> Option<[u8; 32]> {
    v.try_into().ok()
}

/// Reads `mailboxes.send_lock`: NULL is an open mailbox. A value that is
/// not 32 bytes (corruption) becomes an all-zero lock, which no key is known
/// to hash to: a damaged lock never opens a mailbox.
pub(super) fn lock_column(v: Option<Vec<u8>>) -> Option<SendLock> {
    v.map(|v| SendLock(blob32(v).unwrap_or([0; 32])))
}

impl MailboxStore for SqliteStore {
    fn create_locked_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: [u8; 32],
        send_lock: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<()> {
        self.write(|reply| WriteOp::Create {
            mailbox,
            auth_key,
            send_lock,
            now,
            reply,
        })
    }

    fn mailbox_keys(&self, mailbox: MailboxId) -> StoreFuture<Option<MailboxKeys>> {
        self.read(move |conn| {
            let row: Option<(Vec<u8>, Option<Vec<u8>>)> = conn
                .prepare_cached(MAILBOX_KEYS)?
                .query_row(params![&mailbox.0[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(row.and_then(|(auth_key, lock)| {
                Some(MailboxKeys {
                    auth_key: blob32(auth_key)?,
                    send_lock: lock_column(lock),
                })
            }))
        })
    }

    fn append_keyed(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        sent_with: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<Appended> {
        let expires_at = now.saturating_add(self.limits.ttl_secs);
        self.write(|reply| WriteOp::Append {
            mailbox,
            message,
            envelope,
            sent_with,
            expires_at,
            seq: 0,
            reply,
        })
    }

    fn ack(&self, mailbox: MailboxId, message: MessageId) -> StoreFuture<bool> {
        self.write(|reply| WriteOp::Ack {
            mailbox,
            message,
            reply,
        })
    }

    fn ack_many(&self, acks: Vec<(MailboxId, MessageId)>) -> StoreFuture<u64> {
        self.write(|reply| WriteOp::AckMany { acks, reply })
    }

    fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
        now: u64,
    ) -> StoreFuture<Vec<StoredEnvelope>> {
        self.read(move |conn| {
            conn.prepare_cached(FETCH)?
                .query_map(
                    params![&mailbox.0[..], after as i64, now as i64, limit as i64],
                    |r| {
                        Ok(StoredEnvelope {
                            seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                            envelope: Bytes::from(r.get::<_, Vec<u8>>(1)?),
                        })
                    },
                )?
                .collect()
        })
    }

    fn delete_mailbox(&self, mailbox: MailboxId) -> StoreFuture<bool> {
        self.write(|reply| WriteOp::DeleteMailbox { mailbox, reply })
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<u64> {
        let writes = self.writes.clone();
        let erase = self.secure_delete;
        Box::pin(async move {
            let mut total = 0;
            loop {
                let (reply, answer) = oneshot::channel();
                let op = WriteOp::PurgeExpired {
                    now,
                    limit: PURGE_CHUNK,
                    reply,
                };
                writes.send(op).await.map_err(|_| StoreError::Closed)?;
                let n = answer.await.map_err(|_| StoreError::Closed)??;
                total += n;
                if n < u64::from(PURGE_CHUNK) {
                    break;
                }
            }
            if erase {
                // The log still holds every envelope appended since the last
                // pass, acked or not: empty it too.
                let (reply, answer) = oneshot::channel();
                writes
                    .send(WriteOp::EraseLog { reply })
                    .await
                    .map_err(|_| StoreError::Closed)?;
                answer.await.map_err(|_| StoreError::Closed)??;
            }
            Ok(total)
        })
    }

    fn stats(&self) -> StoreFuture<StoreStats> {
        self.read(|conn| {
            conn.query_row(STATS, [], |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
                Ok(StoreStats {
                    mailboxes: n(0)?,
                    messages: n(1)?,
                    bytes: n(2)?,
                })
            })
        })
    }

    fn shutdown(&self) -> StoreFuture<()> {
        self.write(|reply| WriteOp::Shutdown { reply })
    }
}

/// A token row (`id, role, created_at, expires_at, revoked, label`); an
/// unknown role reads as `user`, the least privileged.
fn token_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let role: String = r.get(1)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        role: role.parse().unwrap_or(Role::User),
        created_at: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        expires_at: r
            .get::<_, Option<i64>>(3)?
            .map(|e| u64::try_from(e).unwrap_or(0)),
        revoked: r.get::<_, i64>(4)? != 0,
        label: r.get(5)?,
    })
}

impl TokenStore for SqliteStore {
    fn create_token(&self, hash: [u8; 32], record: TokenRecord) -> StoreFuture<()> {
        self.write(|reply| WriteOp::CreateToken {
            hash,
            record,
            reply,
        })
    }

    fn check_token(&self, hash: [u8; 32], now: u64) -> StoreFuture<Option<TokenRecord>> {
        self.read(move |conn| {
            conn.prepare_cached(CHECK_TOKEN)?
                .query_row(params![&hash[..], now as i64], token_record)
                .optional()
        })
    }

    fn list_tokens(&self) -> StoreFuture<Vec<TokenRecord>> {
        self.read(|conn| {
            conn.prepare_cached(LIST_TOKENS)?
                .query_map([], token_record)?
                .collect()
        })
    }

    fn revoke_token(&self, id: String) -> StoreFuture<bool> {
        self.write(|reply| WriteOp::RevokeToken { id, reply })
    }
}
