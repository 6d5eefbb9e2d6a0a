//! Schema migrations, driven by SQLite's `user_version`.
//!
//! Each entry moves the schema from version `i` to `i + 1` and runs in its own
//! transaction together with the version bump, so a crash mid-upgrade leaves
//! the previous version intact. Never edit a shipped migration: append.

use rusqlite::Connection;

use super::StoreError;

/// Ordered migrations; index `i` upgrades version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// Schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Initial schema.
///
/// Ids of relays' messages (`envelope_id`) are the dedupe keys: a message row
/// and a `seen_envelopes` row are written in the same transaction as the
/// session change that decrypting it caused.
const V1: &str = r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE relays (
    id       INTEGER PRIMARY KEY,
    address  TEXT NOT NULL UNIQUE,
    added_ms INTEGER NOT NULL
);

-- Mailboxes we own and poll. `auth_seed` proves ownership to the relay.
CREATE TABLE mailboxes (
    id         BLOB PRIMARY KEY CHECK (length(id) = 32),
    relay_id   INTEGER NOT NULL REFERENCES relays(id),
    auth_seed  BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    retired_ms INTEGER
);

-- Invites we issued and that nobody has answered yet.
CREATE TABLE pending_invites (
    id         BLOB PRIMARY KEY CHECK (length(id) = 32),
    mailbox_id BLOB NOT NULL REFERENCES mailboxes(id),
    pending    BLOB NOT NULL,
    uri        TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Invites we accepted: the protocol requires refusing the same invite twice.
CREATE TABLE accepted_invites (
    id          BLOB PRIMARY KEY CHECK (length(id) = 32),
    accepted_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE contacts (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    identity         BLOB NOT NULL CHECK (length(identity) = 64),
    relay            TEXT NOT NULL,
    their_mailbox    BLOB NOT NULL CHECK (length(their_mailbox) = 32),
    my_mailbox       BLOB NOT NULL REFERENCES mailboxes(id),
    safety_number    TEXT NOT NULL,
    verified         INTEGER NOT NULL DEFAULT 0,
    pending_identity BLOB CHECK (pending_identity IS NULL OR length(pending_identity) = 64),
    created_ms       INTEGER NOT NULL
);

CREATE INDEX contacts_by_my_mailbox ON contacts (my_mailbox);

CREATE TABLE sessions (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    state      BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- direction: 0 = incoming, 1 = outgoing.
-- status: 'pending' (in outbox), 'sent' (relay acked), 'delivered', 'read', 'received'.
-- held = 1: arrived under an unaccepted new identity key; hidden until accepted.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    direction   INTEGER NOT NULL CHECK (direction IN (0, 1)),
    counter     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    sent_ms     INTEGER NOT NULL,
    received_ms INTEGER,
    status      TEXT NOT NULL,
    held        INTEGER NOT NULL DEFAULT 0,
    envelope_id BLOB UNIQUE,
    UNIQUE (contact_id, direction, counter)
);
CREATE INDEX messages_by_contact ON messages (contact_id, sent_ms, id);

-- Every envelope id we ever processed, message or not: redelivery is acked, not re-shown.
CREATE TABLE seen_envelopes (
    envelope_id BLOB PRIMARY KEY,
    seen_ms     INTEGER NOT NULL
) WITHOUT ROWID;

-- kind: 'gap', 'late', 'duplicate', 'fork', 'rejected', 'key_change', 'key_accepted', 'verified'.
CREATE TABLE integrity_events (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX integrity_by_contact ON integrity_events (contact_id, at_ms);

-- Sealed envelopes waiting for a relay ack. Written in the same transaction
-- as the session change and the message row, so a crash never re-encrypts.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    envelope_id  BLOB NOT NULL UNIQUE,
    relay        TEXT NOT NULL,
    mailbox      BLOB NOT NULL,
    envelope     BLOB NOT NULL,
    message_id   INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try_ms  INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_error   TEXT
);
CREATE INDEX outbox_due ON outbox (next_try_ms);

CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'id', tokenize = 'unicode61'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
"#;

/// Full-text indexing moves out of the per-row trigger.
///
/// An FTS5 table flushes its pending index data to disk at every statement
/// savepoint, and a trigger that writes it gives every `INSERT INTO messages`
/// one: a 2,000-message catch-up batch wrote 2,000 tiny index segments and
/// spent its time merging them. New rows are now queued by a connection-local
/// temp trigger and indexed in one statement just before the transaction
/// commits ([`super::fts`]), so the index stays exactly as consistent as
/// before (same transaction) for a fraction of the cost. The delete and update
/// triggers stay.
const V2: &str = r#"
DROP TRIGGER messages_fts_insert;
"#;

/// The relays the user added besides the home relay ("extra relays": checked
/// in settings, offered for invites). They used to live in the desktop's
/// plaintext `prefs.json`; relay addresses and pins say who the user talks
/// through, so they belong in the encrypted profile. Ordered by `id` (the
/// order the user added them).
const V3: &str = r#"
CREATE TABLE extra_relays (
    id       INTEGER PRIMARY KEY,
    address  TEXT NOT NULL UNIQUE,
    added_ms INTEGER NOT NULL
);
"#;

/// Brings the schema up to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current = user_version(conn)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Current schema version (0 = empty database).
pub fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_empty_db_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn upgrades_a_version_2_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS[..2].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as u32 + 1)
                .unwrap();
        }
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 3);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM extra_relays", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn refuses_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }
}
