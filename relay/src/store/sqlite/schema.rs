//! Opening the database file: pragmas, schema and its migrations.
//!
//! WAL mode lets the single writer commit while readers fetch backlogs.
//! `synchronous` decides what a commit survives (see [`super::Synchronous`]).
//!
//! Schema version 2 (this one) refers to a mailbox inside `messages` by a
//! small integer (`mailboxes.num`) instead of its 32-byte id: every index
//! entry of `messages` shrinks from about 60 to about 25 bytes, so each
//! group commit rewrites far fewer index pages into the WAL and each insert
//! compares integers instead of 32-byte blobs. Version 1 databases are
//! converted on open ([`migrate`]), in one transaction.
//!
//! Schema version 3 adds `mailboxes.send_lock`: SHA-256 of the send key of
//! a send-locked mailbox, NULL for an open one (PROTOCOL.md §18.3). It sits
//! in the row the writer already reads for quota counters, so checking it
//! costs no extra query per append. Version 2 databases gain the column on
//! open (every existing mailbox stays open).
//!
//! Schema version 4 adds `tokens.label` (the operator's name for a token,
//! matched by policy rules); older tokens get an empty label.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::Synchronous;

/// The schema version this code reads and writes (`PRAGMA user_version`).
pub(super) const VERSION: i64 = 4;

/// Page size of new databases. 8 KiB pages hold seven 1 KiB envelopes
/// (4 KiB pages waste a fifth of each page on three) and keep 2 KiB and
/// 4 KiB ones off overflow pages. Existing databases keep theirs.
const PAGE_SIZE: i64 = 8192;

const TABLES: &str = "
CREATE TABLE mailboxes (
    num        INTEGER PRIMARY KEY,
    id         BLOB NOT NULL UNIQUE,
    auth_key   BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    msg_count  INTEGER NOT NULL DEFAULT 0,
    msg_bytes  INTEGER NOT NULL DEFAULT 0,
    send_lock  BLOB
);
CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY,
    mailbox    INTEGER NOT NULL,
    msg_id     BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    envelope   BLOB NOT NULL
);
";

/// Created after a migration's bulk copy (faster than maintaining them row by row).
const INDEXES: &str = "
CREATE UNIQUE INDEX messages_by_id ON messages (mailbox, msg_id);
CREATE INDEX messages_by_mailbox ON messages (mailbox, seq);
CREATE INDEX messages_by_expiry ON messages (expires_at);
";

const TOKENS: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    hash       BLOB PRIMARY KEY,
    id         TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked    INTEGER NOT NULL DEFAULT 0,
    label      TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
";

/// Version 4: token labels, for policy rules (tokens made before have none).
const FROM_V3: &str = "ALTER TABLE tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';";

/// Version 1 → 2: mailboxes get a number, envelopes refer to it.
const FROM_V1: &str = "
ALTER TABLE mailboxes RENAME TO mailboxes_v1;
ALTER TABLE messages RENAME TO messages_v1;
DROP INDEX IF EXISTS messages_by_id;
DROP INDEX IF EXISTS messages_by_mailbox;
DROP INDEX IF EXISTS messages_by_expiry;
";

const FROM_V1_COPY: &str = "
INSERT INTO mailboxes (id, auth_key, created_at, msg_count, msg_bytes)
    SELECT id, auth_key, created_at, msg_count, msg_bytes FROM mailboxes_v1 ORDER BY created_at, id;
INSERT INTO messages (seq, mailbox, msg_id, expires_at, envelope)
    SELECT m.seq, b.num, m.msg_id, m.expires_at, m.envelope
    FROM messages_v1 m JOIN mailboxes b ON b.id = m.mailbox ORDER BY m.seq;
DROP TABLE messages_v1;
DROP TABLE mailboxes_v1;
";

/// Version 2 → 3: mailboxes may carry a send lock; existing ones stay open.
const FROM_V2: &str = "ALTER TABLE mailboxes ADD COLUMN send_lock BLOB;";

/// Opens (creating if needed) the database with the relay's pragmas.
pub(super) fn open(path: &Path, sync: Synchronous) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // Only takes effect while the file is still empty (before WAL mode writes it).
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -8000)?;
    // Checkpoint every ~32 MiB of WAL instead of 4 MiB: pages written and
    // rewritten between checkpoints (insert, then delete on ack) reach the
    // main file once, and checkpoint fsyncs are 8x rarer.
    conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(conn)
}

/// Why the schema could not be brought to [`VERSION`].
#[derive(Debug, thiserror::Error)]
pub(super) enum MigrateError {
    /// SQLite failed; nothing was changed (one transaction).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// Written by a newer relay: refuse rather than misread it.
    #[error("database schema version {0} is newer than this relay understands ({VERSION})")]
    TooNew(i64),
}

/// Creates the tables, or upgrades an older schema, in one transaction.
/// Idempotent; safe if another process migrates at the same time.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    if user_version(conn)? == VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match user_version(&tx)? {
        0 => {
            tx.execute_batch(TABLES)?;
            tx.execute_batch(INDEXES)?;
        }
        1 => {
            tx.execute_batch(FROM_V1)?;
            tx.execute_batch(TABLES)?;
            tx.execute_batch(FROM_V1_COPY)?;
            tx.execute_batch(INDEXES)?;
            tracing::info!("relay database upgraded from schema version 1");
        }
        2 => {
            tx.execute_batch(FROM_V2)?;
            tracing::info!("relay database upgraded from schema version 2");
        }
        // Only the token label (below).
        3 => tracing::info!("relay database upgraded from schema version 3"),
        VERSION => return Ok(()),
        newer => return Err(MigrateError::TooNew(newer)),
    }
    tx.execute_batch(TOKENS)?;
    // A tokens table made before version 4 (by any older version) lacks the label.
    let has_label: bool = tx.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('tokens') WHERE name = 'label'",
        [],
        |r| r.get(0),
    )?;
    if !has_label {
        tx.execute_batch(FROM_V3)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// The version 1 schema, exactly as relays before the upgrade created it.
#[cfg(test)]
pub(super) const V1_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mailboxes (
    id         BLOB PRIMARY KEY,
    auth_key   BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    msg_count  INTEGER NOT NULL DEFAULT 0,
    msg_bytes  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq        INTEGER PRIMARY KEY,
    mailbox    BLOB NOT NULL,
    msg_id     BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    envelope   BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (mailbox, msg_id);
CREATE INDEX IF NOT EXISTS messages_by_mailbox ON messages (mailbox, seq);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires_at);
CREATE TABLE IF NOT EXISTS tokens (
    hash       BLOB PRIMARY KEY,
    id         TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
PRAGMA user_version = 1;
";

/// The version 2 schema, exactly as relays before send locks created it.
#[cfg(test)]
pub(super) const V2_SCHEMA: &str = "
CREATE TABLE mailboxes (
    num        INTEGER PRIMARY KEY,
    id         BLOB NOT NULL UNIQUE,
    auth_key   BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    msg_count  INTEGER NOT NULL DEFAULT 0,
    msg_bytes  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY,
    mailbox    INTEGER NOT NULL,
    msg_id     BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    envelope   BLOB NOT NULL
);
CREATE UNIQUE INDEX messages_by_id ON messages (mailbox, msg_id);
CREATE INDEX messages_by_mailbox ON messages (mailbox, seq);
CREATE INDEX messages_by_expiry ON messages (expires_at);
CREATE TABLE IF NOT EXISTS tokens (
    hash       BLOB PRIMARY KEY,
    id         TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
PRAGMA user_version = 2;
";
