//! Schema migrations, driven by SQLite's `user_version`.
//!
//! Each entry moves the schema from version `i` to `i + 1` and runs in its own
//! transaction together with the version bump, so a crash mid-upgrade leaves
//! the previous version intact. Never edit a shipped migration: append.

use rusqlite::Connection;

use super::StoreError;

/// Ordered migrations; index `i` upgrades version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11];

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

/// Unread counts from an index instead of a scan.
///
/// The contact list asks every conversation for its unread count
/// ([`super::timeline`]'s `chat_summary`) and read receipts list the unread
/// counters; both used the `(contact_id, direction, counter)` unique index and
/// then read every incoming row of the contact. This partial index holds only
/// the rows those queries want (incoming, visible, not yet read), so it stays
/// as small as the unread backlog and answers both without touching the
/// table. The filter columns are repeated as keys so SQLite's planner prefers
/// it over the unique index without statistics. Queries must spell the
/// filter with the same literals (`direction = 0 AND held = 0 AND status =
/// 'received'`) for SQLite to use a partial index.
const V4: &str = r#"
CREATE INDEX messages_unread ON messages (contact_id, direction, held, status, counter)
    WHERE direction = 0 AND held = 0 AND status = 'received';
"#;

/// Seen envelope ids are pruned by age.
///
/// `seen_envelopes` (V1) grew by one row per envelope ever processed, and a
/// third party able to send to a mailbox could grow it without bound. Rows
/// older than the longest time a relay can redeliver an envelope are now
/// deleted ([`crate::client::SEEN_ENVELOPE_RETENTION_MS`]); this index makes
/// that delete a range scan instead of a scan of the table.
const V5: &str = r#"
CREATE INDEX seen_envelopes_by_time ON seen_envelopes (seen_ms);
"#;

/// Conversations are ordered by arrival, not by the sender's claimed time.
///
/// `sent_ms` of an incoming message is the sender's clock, signed by the
/// sender but chosen by them: ordering by it let a peer place a message
/// anywhere in the history (and keep a future-dated one at the bottom, and in
/// the contact list's preview, forever). `arrived_ms` is our own clock —
/// `received_ms` for incoming messages, `sent_ms` (when we sealed it) for
/// ours — as a virtual generated column, so no row is rewritten; the paging
/// index moves to it.
const V6: &str = r#"
ALTER TABLE messages ADD COLUMN arrived_ms INTEGER
    GENERATED ALWAYS AS (coalesce(received_ms, sent_ms)) VIRTUAL;
CREATE INDEX messages_by_arrival ON messages (contact_id, arrived_ms, id);
DROP INDEX messages_by_contact;
"#;

/// Receipts waiting for their moment (PROTOCOL.md §2, "what the relay learns").
///
/// A receipt sent the instant a message arrives would let the relay match the
/// connection that received with the one that sends, and so learn who talks to
/// whom. Receipts are therefore queued here with a random due time and sealed
/// only when due (or together with the next message to that contact), so they
/// also keep their place in the ratchet order: sealing early and sending late
/// would make the peer see our later messages arrive first.
/// `kind`: 0 = delivered, 1 = read.
const V7: &str = r#"
CREATE TABLE pending_receipts (
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    kind       INTEGER NOT NULL CHECK (kind IN (0, 1)),
    counter    INTEGER NOT NULL,
    due_ms     INTEGER NOT NULL,
    PRIMARY KEY (contact_id, kind, counter)
) WITHOUT ROWID;

CREATE INDEX pending_receipts_due ON pending_receipts (due_ms);
"#;

/// Mailbox moves (PROTOCOL.md §10.4): an invite link stops being a way into
/// the conversation.
///
/// - `pending_invites.conversation_mailbox`: the fresh mailbox an inviter
///   moves to when the handshake arrives (NULL for invites made before).
/// - `moves_out`: we receive on a new mailbox and still on `old_mailbox`
///   until the contact has confirmed (`MailboxMoved`, `confirmed_ms`) that
///   nothing more of theirs goes there and a grace period has let the relay
///   deliver what it still held; then the old one is retired and deleted at
///   its relay.
/// - `moves_in`: the contact moved; we confirm once nothing we sealed for
///   their old mailbox is still queued.
/// - `contacts.confirmed`: for a contact we added by accepting their invite,
///   whether their side completed the handshake (their first message came).
///   Contacts from before count as confirmed.
const V8: &str = r#"
ALTER TABLE pending_invites ADD COLUMN conversation_mailbox BLOB REFERENCES mailboxes(id);
ALTER TABLE contacts ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 1;
CREATE TABLE moves_out (
    contact_id  INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    old_mailbox BLOB NOT NULL REFERENCES mailboxes(id),
    moved_ms    INTEGER NOT NULL,
    confirmed_ms INTEGER
);
CREATE INDEX moves_out_by_mailbox ON moves_out (old_mailbox);
CREATE TABLE moves_in (
    contact_id  INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    old_mailbox BLOB NOT NULL CHECK (length(old_mailbox) = 32)
);
"#;

/// V9: the outbox keeps each destination in order (an envelope waits while
/// an earlier one to the same mailbox waits for its retry): `outbox_waiting`
/// finds the waiting ones of a destination without scanning its queue.
/// Every received message checks which of ours are still only `sent`
/// (unconfirmed marking, PROTOCOL.md §11): `messages_awaiting_receipt`
/// holds just those, so the check never scans a long history.
const V9: &str = r#"
CREATE INDEX outbox_waiting ON outbox (relay, mailbox, next_try_ms);
CREATE INDEX messages_awaiting_receipt ON messages (contact_id, counter)
    WHERE direction = 1 AND status = 'sent';
"#;

/// V10: send-locked conversation mailboxes (PROTOCOL.md §18.3, §8.1, §10.4).
/// - `mailboxes.send_key`: the key that opens a mailbox of ours for sending,
///   kept to hand to the contact (handshake, move) and to register the lock
///   again if the relay forgot the mailbox. NULL for open (invite) mailboxes.
/// - `send_keys`: the keys the contacts gave us for *their* mailboxes, by
///   mailbox, so an envelope sealed for an old mailbox still goes out with
///   that mailbox's key after a move. Rows go once no contact writes there
///   and nothing for it is queued.
const V10: &str = r#"
ALTER TABLE mailboxes ADD COLUMN send_key BLOB CHECK (send_key IS NULL OR length(send_key) = 32);
CREATE TABLE send_keys (
    mailbox    BLOB PRIMARY KEY CHECK (length(mailbox) = 32),
    send_key   BLOB NOT NULL CHECK (length(send_key) = 32),
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// V11: short invite links (PROTOCOL.md §7.1).
/// `pending_invites.link_mailbox`: the mailbox at the relay where the sealed
/// invite waits for acceptors. Recorded (retired from the start: we never
/// read it) so it is deleted at the relay once the invite is used, withdrawn
/// or expired. NULL for invites made before short links.
const V11: &str = r#"
ALTER TABLE pending_invites ADD COLUMN link_mailbox BLOB REFERENCES mailboxes(id);
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
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM extra_relays", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    /// SQLite's plan for `sql` (the `detail` column), one step per line.
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map([1], |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn upgrades_a_version_3_database_with_an_unread_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS[..3].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as u32 + 1)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO relays (id, address, added_ms) VALUES (1, 'ws://127.0.0.1:1/', 0);
             INSERT INTO mailboxes (id, relay_id, auth_seed, created_ms)
                 VALUES (zeroblob(32), 1, x'00', 0);
             INSERT INTO contacts (id, name, identity, relay, their_mailbox, my_mailbox,
                                   safety_number, created_ms)
                 VALUES (1, 'a', zeroblob(64), 'ws://127.0.0.1:1/', zeroblob(32),
                         zeroblob(32), '0', 0),
                        (2, 'b', zeroblob(64), 'ws://127.0.0.1:1/', zeroblob(32),
                         zeroblob(32), '0', 0);",
        )
        .unwrap();
        // Contact 1: unread 0, 3, 5; read, held, outgoing and contact 2's rows do not count.
        for (contact, direction, counter, status, held) in [
            (1, 0, 0, "received", 0),
            (1, 0, 1, "read", 0),
            (1, 0, 2, "received", 1),
            (1, 0, 3, "received", 0),
            (1, 1, 3, "sent", 0),
            (1, 0, 5, "received", 0),
            (2, 0, 0, "received", 0),
        ] {
            conn.execute(
                "INSERT INTO messages (contact_id, direction, counter, body, sent_ms, status, held)
                 VALUES (?1, ?2, ?3, 'x', 0, ?4, ?5)",
                rusqlite::params![contact, direction, counter, status, held],
            )
            .unwrap();
        }
        let before = plan(&conn, super::super::timeline::UNREAD_COUNT_SQL);
        assert!(!before.contains("messages_unread"), "{before}");
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let after = plan(&conn, super::super::timeline::UNREAD_COUNT_SQL);
        assert!(after.contains("COVERING INDEX messages_unread"), "{after}");
        println!("unread count plan at V3: {before}\nat V4: {after}");
        let count: i64 = conn
            .query_row(super::super::timeline::UNREAD_COUNT_SQL, [1], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 3);
        let mut stmt = conn
            .prepare(super::super::messages::UNREAD_COUNTERS_SQL)
            .unwrap();
        let counters: Vec<i64> = stmt
            .query_map([1], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(counters, [0, 3, 5]);
        // Reading a message takes it out of the index's answer.
        conn.execute(
            "UPDATE messages SET status = 'read' WHERE contact_id = 1 AND counter = 3",
            [],
        )
        .unwrap();
        let count: i64 = conn
            .query_row(super::super::timeline::UNREAD_COUNT_SQL, [1], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 2);
    }

    #[test]
    fn unread_queries_use_the_unread_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let count = plan(&conn, super::super::timeline::UNREAD_COUNT_SQL);
        assert!(
            count.contains("USING COVERING INDEX messages_unread"),
            "{count}"
        );
        let counters = plan(&conn, super::super::messages::UNREAD_COUNTERS_SQL);
        assert!(
            counters.contains("USING COVERING INDEX messages_unread"),
            "{counters}"
        );
        // Ordered by the index: no sort step.
        assert!(!counters.contains("TEMP B-TREE"), "{counters}");
    }

    #[test]
    fn upgrades_a_version_5_database_to_arrival_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS[..5].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as u32 + 1)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO relays (id, address, added_ms) VALUES (1, 'ws://127.0.0.1:1/', 0);
             INSERT INTO mailboxes (id, relay_id, auth_seed, created_ms)
                 VALUES (zeroblob(32), 1, x'00', 0);
             INSERT INTO contacts (id, name, identity, relay, their_mailbox, my_mailbox,
                                   safety_number, created_ms)
                 VALUES (1, 'a', zeroblob(64), 'ws://127.0.0.1:1/', zeroblob(32),
                         zeroblob(32), '0', 0);
             INSERT INTO messages (contact_id, direction, counter, body, sent_ms, received_ms, status)
                 VALUES (1, 0, 0, 'backdated', 5, 500, 'read'),
                        (1, 1, 0, 'mine', 300, NULL, 'sent');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let order: Vec<(String, i64)> = conn
            .prepare("SELECT body, arrived_ms FROM messages ORDER BY arrived_ms, id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            order,
            [("mine".to_owned(), 300), ("backdated".to_owned(), 500)]
        );
        let page = plan(
            &conn,
            "SELECT id FROM messages WHERE contact_id = ?1 AND held = 0
             ORDER BY arrived_ms DESC, id DESC LIMIT 10",
        );
        assert!(page.contains("messages_by_arrival"), "{page}");
        assert!(!page.contains("TEMP B-TREE"), "{page}");
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
