//! `cairn-cli` under faults: relay SIGKILL and restart, a client that dies
//! between storing and acking, and a tampered envelope injected at the relay.

use std::time::Duration;

use crate::cli_support::{User, texts};
use cairn_relay::store::{MailboxStore, SqliteOptions, SqliteStore};
use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, id_of, message_id};
use cairn_tests::wire::fetch_invite;
use cairn_tests::{RelayOptions, RelayProcess};

#[test]
fn relay_killed_mid_conversation_loses_and_duplicates_nothing() {
    let mut relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    crate::cli_support::connect(&alice, &bob);

    for i in 0..3 {
        alice.ok(&["send", "Bob", &format!("before kill {i}")]);
    }
    relay.kill();
    // Sent while the relay is down: stored in the outbox, command fails loudly.
    let out = alice.run(&["send", "Bob", "during outage"]);
    assert!(!out.success(), "send with the relay down must report it");
    assert!(out.stderr.contains("cannot reach relay"), "{}", out.stderr);
    relay.restart();

    // The next send flushes the queued message first, in order. (Backoff: the
    // first retry is due one second after the failure.)
    std::thread::sleep(Duration::from_millis(1_100));
    alice.ok(&["send", "Bob", "after restart"]);
    let got = bob.json(&["recv"]);
    assert_eq!(
        texts(&got),
        vec![
            "before kill 0",
            "before kill 1",
            "before kill 2",
            "during outage",
            "after restart"
        ]
    );
    assert!(texts(&bob.json(&["recv"])).is_empty());

    // Kill again with Bob's receipts in flight on the relay; nothing duplicates.
    relay.kill();
    relay.restart();
    bob.ok(&["send", "alice", "reply"]);
    let got = alice.json(&["recv"]);
    assert_eq!(texts(&got), vec!["reply"]);
    let history = bob.json(&["history", "alice"]);
    assert_eq!(texts(&history).len(), 6);
}

#[test]
fn client_dying_between_store_and_ack_loses_nothing() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    crate::cli_support::connect(&alice, &bob);
    alice.ok(&["send", "Bob", "one"]);
    alice.ok(&["send", "Bob", "two"]);

    // Stores and commits, then exits without acking: the relay keeps its copies.
    let first = bob.json(&["recv", "--no-ack"]);
    assert_eq!(texts(&first), vec!["one", "two"]);
    // Redelivered, recognised as already stored, acked, not shown again.
    let second = bob.json(&["recv"]);
    assert!(texts(&second).is_empty(), "{second:?}");
    assert!(texts(&bob.json(&["recv"])).is_empty());
    assert_eq!(texts(&bob.json(&["history", "alice"])), vec!["one", "two"]);
}

#[test]
fn junk_on_the_invite_mailbox_is_reported_outside_the_conversation() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    let invite = alice.ok(&["invite"]);
    let invite = invite.trim().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Anyone who has the invite link knows its mailbox and can inject there.
    let mailbox = runtime.block_on(fetch_invite(&invite)).mailbox();
    bob.ok(&["accept", &invite, "--name", "alice"]);
    alice.ok(&["recv"]);

    runtime.block_on(async {
        let (client, _deliveries) =
            RelayClient::connect(relay.address(), ConnectOptions::default())
                .await
                .unwrap();
        let forged = envelope(mailbox, message_id(), 1024, b"\x02forged ciphertext");
        client.send(forged).await.unwrap();
    });
    bob.ok(&["send", "alice", "genuine"]);

    let got = alice.json(&["recv"]);
    assert_eq!(texts(&got), vec!["genuine"], "{got:?}");
    // Reported once, as traffic on the invite's mailbox (which the conversation
    // has left, PROTOCOL.md §10.4), not as tampering in Bob's conversation.
    let rejected: Vec<_> = got
        .iter()
        .filter(|e| e.get("type") == "event" && e.get("kind") == "unauthenticated")
        .collect();
    assert_eq!(rejected.len(), 1, "{got:?}");
    assert_eq!(rejected[0].get("contact"), "null", "{got:?}");
    assert!(rejected[0].get("detail").contains("invite link"), "{got:?}");
    let history = alice.json(&["history", "Bob"]);
    assert!(
        history.iter().all(|e| e.get("kind") != "rejected"),
        "{history:?}"
    );
    // And it is not redelivered.
    assert!(alice.json(&["recv"]).is_empty());
}

#[test]
fn wrong_pin_refuses_to_connect() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let address = relay.address().to_string();
    let (base, _) = address.split_once('#').unwrap();
    let wrong = format!("{base}#{}", "A".repeat(43));
    let user = User {
        dir: tmp.path().join("p"),
    };
    // `init` connects first: a wrong pin creates nothing.
    let out = user.run(&["init", "--name", "Mallory", "--relay", &wrong]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("does not match its pin") && out.stderr.contains("nothing was created"),
        "{}",
        out.stderr
    );
    assert!(!user.dir.exists());
    // Created offline, the pin is still enforced at the first connection.
    user.ok(&["init", "--name", "Mallory", "--relay", &wrong, "--offline"]);
    let out = user.run(&["invite"]);
    assert!(!out.success());
    assert!(
        out.stderr.contains("does not match its pin"),
        "{}",
        out.stderr
    );
}

#[test]
fn init_refuses_a_relay_that_does_not_answer() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let user = User {
        dir: tmp.path().join("p"),
    };
    let relay = format!("wss://127.0.0.1:{port}/#{}", "A".repeat(43));
    let out = user.run(&["init", "--name", "Alice", "--relay", &relay]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("nothing was created"), "{}", out.stderr);
    assert!(!user.dir.exists());
}

#[test]
fn message_dropped_by_the_relay_is_reported_as_a_gap() {
    let mut relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    let invite = alice.ok(&["invite"]);
    let invite = invite.trim().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mailbox = runtime.block_on(fetch_invite(&invite)).mailbox();
    bob.ok(&["accept", &invite, "--name", "alice"]);
    alice.ok(&["recv"]);
    for text in ["first", "second", "third"] {
        bob.ok(&["send", "alice", text]);
    }

    // A misbehaving relay silently drops "second" (the 2nd stored envelope).
    relay.terminate();
    runtime.block_on(async {
        let store = SqliteStore::open(&SqliteOptions::in_dir(relay.data_dir())).unwrap();
        let stored = store.fetch(mailbox, 0, 10, 0).await.unwrap();
        assert_eq!(stored.len(), 3, "three messages waiting");
        assert!(
            store
                .ack(mailbox, id_of(&stored[1].envelope))
                .await
                .unwrap()
        );
        store.shutdown().await.unwrap();
    });
    relay.restart();

    let got = alice.json(&["recv"]);
    assert_eq!(texts(&got), vec!["first", "third"]);
    let gaps: Vec<_> = got.iter().filter(|e| e.get("kind") == "gap").collect();
    assert_eq!(gaps.len(), 1, "{got:?}");
    assert!(
        alice
            .json(&["history", "Bob"])
            .iter()
            .any(|e| e.get("kind") == "gap")
    );
}
