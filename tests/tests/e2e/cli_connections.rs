//! `cairn-cli` through a proxy that logs every client frame: invite, accept,
//! chat both ways with receipts, and no connection that both subscribes and
//! sends or creates a mailbox (PROTOCOL.md §2, §18.9).

use cairn_core::testing::FrameLog;
use cairn_tests::cli::CliUser;
use cairn_tests::{RelayOptions, RelayProcess};

/// Runs a CLI command with the development flag that allows the loopback `ws://` proxy.
fn ok(user: &CliUser, args: &[&str]) -> String {
    let mut all = vec!["--allow-plaintext-loopback"];
    all.extend_from_slice(args);
    user.ok(&all)
}

#[test]
fn the_relay_never_sees_one_connection_both_read_and_write() {
    let relay = RelayProcess::start(RelayOptions::plaintext());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt.block_on(FrameLog::start(relay.address()));
    let tmp = tempfile::tempdir().unwrap();
    let alice = CliUser::new(tmp.path(), "Alice", proxy.address());
    let bob = CliUser::new(tmp.path(), "Bob", proxy.address());

    let invite = ok(&alice, &["invite"]);
    ok(&bob, &["accept", invite.trim(), "--name", "alice"]);
    assert!(ok(&alice, &["recv"]).contains("Bob accepted your invite"));
    ok(&bob, &["send", "alice", "hello"]);
    assert!(ok(&alice, &["recv"]).contains("hello"));
    ok(&alice, &["send", "Bob", "hi"]);
    let got = ok(&bob, &["recv"]);
    assert!(got.contains("hi"), "{got}");
    assert!(got.contains("delivered"), "Alice's receipt came: {got}");

    let connections = proxy.connections();
    for role in ["create", "subscribe", "send", "ack"] {
        assert!(
            connections.iter().any(|c| c.contains(&role)),
            "no {role} seen: {connections:?}"
        );
    }
    assert!(
        proxy.linking().is_empty(),
        "a connection both subscribed and sent or created: {connections:?}"
    );
}
