//! Changing the home relay in Settings: the conversation moves along with a
//! signed mailbox move the contact's app follows (PROTOCOL.md §10.4), and the
//! contact's next message arrives through the new relay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_core::client::TimelineItem;
use cairn_core::store::MessageStatus;
use egui_kittest::kittest::Queryable;

use crate::support::{
    accept_invite, app_with, click, loopback_relays, onboard, settle, show_invite, type_into,
    wait_for,
};

#[test]
fn a_new_home_relay_takes_the_conversation_along() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, relays) = loopback_relays(dir.path(), 2);
    let (first, second) = (relays[0].to_string(), relays[1].to_string());
    let mut alice = app_with(&dir.path().join("a"), true);
    onboard(&mut alice, "Alice", "alice passphrase 123", Some(&first));
    let mut bob = app_with(&dir.path().join("b"), true);
    onboard(&mut bob, "Bob", "bob passphrase 456", Some(&first));
    let invite = show_invite(&mut alice);
    accept_invite(&mut bob, &invite, "Alice");
    wait_for(&mut alice, "Bob listed", |h| {
        h.query_by_label_contains("Chat with Bob").is_some()
    });

    // Bob adds the second relay and makes it his home.
    bob.get_by_label("⚙ Settings").click();
    settle(&mut bob);
    let field =
        "Add a relay (wss://host:port/#pin): checked here, and offered when you create an invite";
    bob.get_by_label(field).scroll_to_me();
    settle(&mut bob);
    type_into(&mut bob, field, &second);
    assert_eq!(
        bob.get_by_label(field).value().as_deref(),
        Some(second.as_str())
    );
    click(&mut bob, "Add relay");
    wait_for(&mut bob, "the relay listed", |h| {
        h.state()
            .relays()
            .iter()
            .any(|r| r.extra && r.full == second)
    });
    click(&mut bob, "Make home");
    assert!(
        bob.query_by_label_contains("your home relay?").is_some(),
        "asks first"
    );
    click(&mut bob, "Move my conversations");
    wait_for(&mut bob, "the change confirmed", |h| {
        h.query_by_label_contains("is your home relay now. 1 conversation(s) move there")
            .is_some()
    });
    assert!(
        bob.state()
            .relays()
            .iter()
            .any(|r| r.home && r.full == second),
        "{:?}",
        bob.state().relays()
    );

    // Alice's app follows Bob to the second relay...
    wait_for(&mut alice, "Alice follows the move", |h| {
        h.state()
            .contacts()
            .iter()
            .any(|c| c.contact.name == "Bob" && c.contact.relay == second)
    });
    // ...and her messages reach him there.
    alice.get_by_label_contains("Chat with Bob").click();
    alice.step();
    type_into(&mut alice, "Message", "to your new relay");
    alice.key_press(egui::Key::Enter);
    wait_for(&mut alice, "the message stored at Bob's relay", |h| {
        h.state().timeline().is_some_and(|t| {
            t.items.iter().any(|i| {
                matches!(i, TimelineItem::Message(m)
                    if m.body == "to your new relay" && m.status >= MessageStatus::Sent)
            })
        })
    });
    bob.get_by_label("Chat with Alice").click();
    wait_for(&mut bob, "Alice's message", |h| {
        h.state().timeline().is_some_and(|t| {
            t.items
                .iter()
                .any(|i| matches!(i, TimelineItem::Message(m) if m.body == "to your new relay"))
        })
    });
}
