//! Full-text indexing of messages, deferred to the end of each transaction.
//!
//! FTS5 writes its pending index data to disk at every statement savepoint, so
//! indexing row by row from a trigger made each message insert flush a tiny
//! index segment (and later merge them): the biggest storage cost of a
//! catch-up. Instead, [`queue`] notes the id of each new message row in a
//! connection-local, in-memory TEMP table, and [`flush`] indexes the whole
//! queue with ONE statement right before the transaction commits. (A plain
//! statement, not a trigger: a trigger would make every message insert a
//! multi-row write that SQLite protects with a statement journal — a copy of
//! each page it touches.) Queue and
//! index writes are part of the same transaction, so a rollback or a crash
//! discards both: the index is never behind or ahead of `messages` on disk.
//!
//! The persistent delete/update triggers (schema V1) keep removing index
//! entries; the TEMP "before" triggers below first index a still-queued row so
//! that those removals always find what they remove.

use rusqlite::Connection;

/// Creates the queue and its triggers on a freshly opened connection.
pub(super) fn install(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS fts_queue (id INTEGER PRIMARY KEY);
         CREATE TEMP TRIGGER IF NOT EXISTS fts_queue_before_delete BEFORE DELETE ON main.messages
         WHEN EXISTS (SELECT 1 FROM temp.fts_queue WHERE id = old.id) BEGIN
             INSERT INTO main.messages_fts (rowid, body) VALUES (old.id, old.body);
             DELETE FROM temp.fts_queue WHERE id = old.id;
         END;
         CREATE TEMP TRIGGER IF NOT EXISTS fts_queue_before_update BEFORE UPDATE OF body ON main.messages
         WHEN EXISTS (SELECT 1 FROM temp.fts_queue WHERE id = old.id) BEGIN
             INSERT INTO main.messages_fts (rowid, body) VALUES (old.id, old.body);
             DELETE FROM temp.fts_queue WHERE id = old.id;
         END;",
    )
}

/// Notes a freshly inserted message row for indexing at [`flush`].
pub(super) fn queue(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO temp.fts_queue (id) VALUES (?1)")?
        .execute([id])?;
    Ok(())
}

/// Indexes every queued message row in one statement (call inside the
/// transaction that inserted them, just before it commits).
pub(super) fn flush(conn: &Connection) -> rusqlite::Result<()> {
    let queued: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM temp.fts_queue)")?
        .query_row([], |r| r.get(0))?;
    if !queued {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO main.messages_fts (rowid, body)
         SELECT m.id, m.body FROM temp.fts_queue q JOIN main.messages m ON m.id = q.id
         ORDER BY q.id",
    )?
    .execute([])?;
    conn.prepare_cached("DELETE FROM temp.fts_queue")?
        .execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contacts::tests::add;
    use crate::store::test_support::temp_store;
    use crate::store::{ContactId, Db, Direction, MessageStatus, NewMessage, StoreError};

    fn insert(db: &Db<'_>, c: ContactId, counter: u64, body: &str) -> i64 {
        db.insert_message(&NewMessage {
            contact: c,
            direction: Direction::Incoming,
            counter,
            body,
            sent_ms: counter,
            received_ms: Some(counter),
            status: MessageStatus::Received,
            held: false,
            envelope_id: None,
        })
        .unwrap()
        .unwrap()
    }

    fn integrity_ok(conn: &Connection) {
        conn.execute(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn rows_are_indexed_at_commit_and_not_after_rollback() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        store
            .write(|db| {
                for i in 0..50 {
                    insert(db, a, i, &format!("harbour note {i}"));
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(store.read().search("harbour", 100).unwrap().len(), 50);
        let failed: Result<(), StoreError> = store.write(|db| {
            insert(db, a, 99, "lighthouse");
            Err(StoreError::Malformed("test abort"))
        });
        assert!(failed.is_err());
        assert!(store.read().search("lighthouse", 10).unwrap().is_empty());
        // Nothing left queued from the rolled-back transaction.
        store.write(|_| Ok::<_, StoreError>(())).unwrap();
        assert!(store.read().search("lighthouse", 10).unwrap().is_empty());
        integrity_ok(&store.conn);
    }

    #[test]
    fn queued_rows_deleted_or_edited_in_the_same_transaction_stay_consistent() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        store
            .write(|db| {
                let gone = insert(db, a, 1, "ephemeral words");
                let edited = insert(db, a, 2, "first draft");
                insert(db, a, 3, "kept words");
                db.conn
                    .execute("DELETE FROM messages WHERE id = ?1", [gone])?;
                db.conn.execute(
                    "UPDATE messages SET body = 'final text' WHERE id = ?1",
                    [edited],
                )?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let db = store.read();
        assert!(db.search("ephemeral", 10).unwrap().is_empty());
        assert!(db.search("draft", 10).unwrap().is_empty());
        assert_eq!(db.search("final", 10).unwrap().len(), 1);
        assert_eq!(db.search("kept", 10).unwrap().len(), 1);
        integrity_ok(&store.conn);
    }

    #[test]
    fn inserts_outside_a_transaction_are_indexed_at_once() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let db = store.read();
        insert(&db, a, 1, "immediate result");
        assert_eq!(db.search("immediate", 10).unwrap().len(), 1);
        integrity_ok(&store.conn);
    }
}
