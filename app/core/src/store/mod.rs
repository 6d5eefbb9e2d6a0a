//! The encrypted SQLite store behind a profile.
//!
//! One SQLCipher database per profile, opened with a raw key derived from the
//! passphrase (see [`crate::profile`]). WAL journal with `synchronous = FULL`:
//! a commit is on disk before we ack anything to a relay, and batching several
//! messages into one transaction keeps that to one fsync per sync, not one per
//! message. A 16 MiB page cache keeps a catch-up batch from re-reading (and
//! re-authenticating) pages it just wrote; temporary tables and sorts stay in
//! memory, never in unencrypted temp files. The connection holds an exclusive
//! lock for its lifetime, so two processes can never both advance the same
//! ratchet.
//!
//! Typed queries live in concept modules (`contacts`, `messages`, ...) as
//! methods on [`Db`], a borrowed view that is either the plain connection
//! (reads) or an open transaction ([`Store::write`]).

mod backup;
pub(crate) mod contacts;
mod events;
mod fts;
mod invites;
mod messages;
pub mod migrations;
mod moves;
mod outbox;
mod receipts;
mod relays;
mod send_keys;
mod settings;
mod timeline;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use thiserror::Error;

use crate::profile::kdf::DbKey;

pub use contacts::{Contact, ContactId, NewContact};
pub use events::{EventKind, IntegrityRecord};
pub use invites::PendingInviteRecord;
pub use messages::{Direction, MAX_CLOCK_DIFFERENCE_MS, MessageRecord, MessageStatus, NewMessage};
pub use outbox::{NewOutboxItem, OutboxItem};
pub use receipts::{PendingReceipts, ReceiptKind};
pub use relays::{MailboxRecord, RelayId};
pub use timeline::{ChatSummary, PageCursor, TimelinePage};

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The file is not a readable SQLCipher database under this key: damaged or truncated.
    #[error("profile database is damaged or truncated: {0}")]
    Corrupt(String),
    /// Another process holds the profile open.
    #[error("profile is in use by another Cairn process")]
    Locked,
    /// Written by a newer Cairn.
    #[error("profile schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// A named row does not exist.
    #[error("no {what} named {key:?}")]
    NotFound {
        /// Kind of row.
        what: &'static str,
        /// The name or id that was looked up.
        key: String,
    },
    /// A stored value did not decode (wrong length, unknown enum text).
    #[error("stored {0} is malformed")]
    Malformed(&'static str),
    /// A file next to the database could not be created.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Crate-wide alias for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// An open, unlocked profile database.
pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// A borrowed view on the database: the connection or an open transaction.
pub struct Db<'a> {
    conn: &'a Connection,
}

impl Store {
    /// Creates a fresh database at `path`, which must not exist yet.
    pub fn create(path: &Path, key: &DbKey) -> StoreResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        Self::init(conn, key, true)
    }

    /// Opens an existing database; never creates or replaces one.
    pub fn open(path: &Path, key: &DbKey) -> StoreResult<Self> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() == 0 => {
                return Err(StoreError::Corrupt("database file is empty".into()));
            }
            Ok(_) => {}
            Err(_) => return Err(StoreError::Corrupt("database file is missing".into())),
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(classify)?;
        Self::init(conn, key, false)
    }

    fn init(mut conn: Connection, key: &DbKey, fresh: bool) -> StoreResult<Self> {
        let mut sql = zeroize::Zeroizing::new(String::from("PRAGMA key = \""));
        sql.push_str(&key.sqlcipher_literal());
        sql.push_str("\";");
        conn.execute_batch(&sql)?;
        conn.busy_timeout(Duration::from_millis(200))?;
        // First real read: fails here if the key does not decrypt page 1.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(classify)?;
        conn.execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE;
             PRAGMA foreign_keys = ON;
             PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             PRAGMA cache_size = -16384;
             PRAGMA temp_store = MEMORY;",
        )
        .map_err(classify)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(classify)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "cannot enable WAL (got {mode})"
            )));
        }
        // Take the write lock now and keep it (EXCLUSIVE mode never releases it).
        conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")
            .map_err(classify)?;
        if !fresh {
            quick_check(&conn)?;
            if migrations::user_version(&conn)? == 0 {
                return Err(StoreError::Corrupt("database has no schema".into()));
            }
        }
        migrations::migrate(&mut conn).map_err(|e| match e {
            StoreError::Sqlite(e) => classify(e),
            other => other,
        })?;
        fts::install(&conn).map_err(classify)?;
        Ok(Self { conn })
    }

    /// A read view outside any transaction.
    pub fn read(&self) -> Db<'_> {
        Db { conn: &self.conn }
    }

    /// Runs `f` in one IMMEDIATE transaction, committing only if it returns `Ok`.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| E::from(classify(e)))?;
        let value = f(&Db { conn: &tx })?;
        fts::flush(&tx).map_err(|e| E::from(classify(e)))?;
        tx.commit().map_err(|e| E::from(classify(e)))?;
        Ok(value)
    }
}

/// Full page-level check: catches truncation and bit rot at open time, before
/// anything is written on top of a damaged file.
fn quick_check(conn: &Connection) -> StoreResult<()> {
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(classify)?;
    let mut rows = stmt.query([]).map_err(classify)?;
    let first: Option<String> = match rows.next().map_err(classify)? {
        Some(row) => Some(row.get(0)?),
        None => None,
    };
    match first.as_deref() {
        Some("ok") => Ok(()),
        Some(problem) => Err(StoreError::Corrupt(problem.to_owned())),
        None => Err(StoreError::Corrupt(
            "integrity check returned nothing".into(),
        )),
    }
}

/// Maps SQLite's damage and locking codes to typed errors.
fn classify(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            StoreError::Corrupt("file is not a database under this key".into())
        }
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt(e.to_string()),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Locked,
        _ => StoreError::Sqlite(e),
    }
}

/// Reads a fixed-size blob column.
pub(crate) fn blob<const N: usize>(v: Vec<u8>, what: &'static str) -> StoreResult<[u8; N]> {
    v.try_into().map_err(|_| StoreError::Malformed(what))
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::profile::kdf::{KdfParams, Salt};

    /// A real SQLCipher store in a temp dir.
    pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let key = DbKey::derive(b"test", &Salt([1; 16]), KdfParams::INSECURE_FOR_TESTS).unwrap();
        let store = Store::create(&dir.path().join("t.db"), &key).unwrap();
        (dir, store)
    }
}
