//! How long the contact list's per-contact unread count takes with the
//! `messages_unread` index (schema V4) and without it (the V3 plan, same
//! data), on a profile-shaped database built in memory.
//!
//! ```sh
//! cargo run --release -p cairn-core --example unread_count -- 100 2000
//! ```
//!
//! Arguments: contacts (default 100), messages per contact (default 2000;
//! half incoming, all read except the newest 5 incoming). Prints SQLite's
//! plan and the mean time of one count for each case, plus the load average.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use cairn_core::store::migrations::migrate;
use rusqlite::Connection;

/// The count `chat_summary` runs (app/core/src/store/timeline.rs).
const COUNT: &str = "SELECT count(*) FROM messages
     WHERE contact_id = ?1 AND direction = 0 AND held = 0 AND status = 'received'";

fn main() {
    let mut args = std::env::args().skip(1);
    let contacts: i64 = args.next().map_or(100, |a| a.parse().expect("contacts"));
    let per: i64 = args.next().map_or(2000, |a| a.parse().expect("messages"));
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    fill(&mut conn, contacts, per);
    println!(
        "{contacts} contacts x {per} messages ({} rows), 5 unread each",
        contacts * per
    );
    let indexed = run(&conn, contacts);
    conn.execute_batch("DROP INDEX messages_unread").unwrap();
    let scanned = run(&conn, contacts);
    println!(
        "V4 (index): {indexed:.2} us per count; V3 plan (scan): {scanned:.2} us per count; {:.0}x",
        scanned / indexed
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", load.trim());
}

fn fill(conn: &mut Connection, contacts: i64, per: i64) {
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "INSERT INTO relays (id, address, added_ms) VALUES (1, 'ws://127.0.0.1:1/', 0);
         INSERT INTO mailboxes (id, relay_id, auth_seed, created_ms) VALUES (zeroblob(32), 1, x'00', 0);",
    )
    .unwrap();
    for c in 1..=contacts {
        tx.execute(
            "INSERT INTO contacts (id, name, identity, relay, their_mailbox, my_mailbox, safety_number, created_ms)
             VALUES (?1, 'c' || ?1, zeroblob(64), 'ws://127.0.0.1:1/', zeroblob(32), zeroblob(32), '0', 0)",
            [c],
        )
        .unwrap();
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO messages (contact_id, direction, counter, body, sent_ms, status)
                 VALUES (?1, ?2, ?3, 'a message of ordinary length, say forty', ?4, ?5)",
            )
            .unwrap();
        for i in 0..per {
            let incoming = i % 2 == 0;
            let status = match (incoming, per - i <= 10) {
                (true, true) => "received",
                (true, false) => "read",
                (false, _) => "read",
            };
            insert
                .execute(rusqlite::params![c, i64::from(!incoming), i / 2, i, status])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Mean microseconds of one count over all contacts, a few rounds.
fn run(conn: &Connection, contacts: i64) -> f64 {
    let plan: String = conn
        .query_row(&format!("EXPLAIN QUERY PLAN {COUNT}"), [1], |r| r.get(3))
        .unwrap();
    println!("plan: {plan}");
    let mut stmt = conn.prepare(COUNT).unwrap();
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for c in 1..=contacts {
            let n: i64 = stmt.query_row([c], |r| r.get(0)).unwrap();
            assert_eq!(n, 5);
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / (rounds * contacts) as f64
}
