//! Two real apps on a real relay behind a frame-logging proxy: no connection
//! both subscribes and sends (PROTOCOL.md §2), and sending a message changes
//! the open chat once — no page reloads, no full re-layouts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_core::client::TimelineItem;
use cairn_core::store::MessageStatus;
use cairn_core::testing::FrameLog;
use egui_kittest::kittest::Queryable;

use crate::support::{
    accept_invite, app_with, loopback_relays, onboard, show_invite, type_into, wait_for,
};

/// A plaintext loopback relay and a logging proxy in front of it, on a runtime
/// of the test's own (the apps run their own backends).
fn relay_behind_proxy(dir: &std::path::Path) -> (tokio::runtime::Runtime, FrameLog) {
    let (rt, relays) = loopback_relays(dir, 1);
    let proxy = rt.block_on(FrameLog::start(&relays[0]));
    (rt, proxy)
}

fn statuses(h: &egui_kittest::Harness<'static, cairn_desktop::CairnApp>) -> Vec<MessageStatus> {
    h.state().timeline().map_or(Vec::new(), |t| {
        t.items
            .iter()
            .filter_map(|i| match i {
                TimelineItem::Message(m) => Some(m.status),
                _ => None,
            })
            .collect()
    })
}

#[test]
fn connections_are_separate_and_a_send_updates_the_chat_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, proxy) = relay_behind_proxy(&dir.path().join("relay"));
    let relay = proxy.address().to_string();
    let mut alice = app_with(&dir.path().join("a"), true);
    onboard(&mut alice, "Alice", "alice passphrase 123", Some(&relay));
    let mut bob = app_with(&dir.path().join("b"), true);
    onboard(&mut bob, "Bob", "bob passphrase 456", Some(&relay));

    let invite = show_invite(&mut alice);
    accept_invite(&mut bob, &invite, "Alice");
    wait_for(&mut alice, "Bob listed", |h| {
        h.query_by_label_contains("Chat with Bob").is_some()
    });

    bob.get_by_label("Chat with Alice").click();
    wait_for(&mut bob, "chat open", |h| h.state().timeline().is_some());
    for _ in 0..5 {
        bob.step();
    }
    let loads = bob.state().timeline_loads();
    let work = bob.state().timeline().unwrap().work;
    const N: usize = 5;
    for i in 0..N {
        type_into(&mut bob, "Message", &format!("message {i}"));
        bob.key_press(egui::Key::Enter);
        wait_for(&mut bob, "the message in the chat", |h| {
            statuses(h).len() == i + 1
        });
    }
    wait_for(&mut bob, "all sent", |h| {
        statuses(h).iter().all(|s| *s >= MessageStatus::Sent)
    });
    let after = bob.state().timeline().unwrap().work;
    assert_eq!(bob.state().timeline_loads(), loads, "no page was reloaded");
    assert_eq!(after.full, work.full, "no full re-layout");
    assert_eq!(
        after.appended - work.appended,
        N as u32,
        "one layout extension per message sent"
    );
    assert!(
        after.patched - work.patched <= 3 * N as u32,
        "a status change patches one bubble: {after:?}"
    );

    alice.get_by_label_contains("Chat with Bob").click();
    wait_for(&mut alice, "Bob's messages", |h| statuses(h).len() == N);
    wait_for(&mut bob, "read receipts", |h| {
        statuses(h).iter().all(|s| *s == MessageStatus::Read)
    });
    let connections = proxy.connections();
    assert!(connections.iter().any(|c| c.contains(&"subscribe")));
    assert!(connections.iter().any(|c| c.contains(&"send")));
    assert!(
        proxy.linking().is_empty(),
        "a connection both subscribed and sent: {connections:?}"
    );
}
