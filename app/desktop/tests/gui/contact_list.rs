//! The contact list keeps still under the pointer: a message that would move
//! a row to the top waits until the pointer leaves the list, so a click never
//! lands on a contact that slid into place a moment before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_core::client::TimelineItem;
use cairn_core::store::MessageStatus;
use egui_kittest::kittest::Queryable;

use crate::support::{accept_invite, app, onboard, show_invite, type_into, wait_for};

fn order(h: &App) -> Vec<String> {
    h.state()
        .contacts()
        .iter()
        .map(|c| c.contact.name.clone())
        .collect()
}

type App = egui_kittest::Harness<'static, cairn_desktop::CairnApp>;

/// Alice on her built-in relay, Bob added through her invite (returned).
fn alice_and_bob(dir: &std::path::Path) -> (App, App, String) {
    let mut alice = app(&dir.join("a"));
    onboard(&mut alice, "Alice", "alice passphrase 123", None);
    let relay = alice.state().local_relay().unwrap().to_owned();
    let mut bob = app(&dir.join("b"));
    onboard(&mut bob, "Bob", "bob passphrase 456", Some(&relay));
    let invite = show_invite(&mut alice);
    accept_invite(&mut bob, &invite, "Alice");
    wait_for(&mut alice, "Bob listed", |h| order(h).len() == 1);
    (alice, bob, invite)
}

#[test]
fn the_contact_list_does_not_reorder_under_the_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob, invite) = alice_and_bob(dir.path());
    let relay = alice.state().local_relay().unwrap().to_owned();
    let mut carol = app(&dir.path().join("c"));
    onboard(&mut carol, "Carol", "carol passphrase 789", Some(&relay));
    wait_for(&mut alice, "the used invite gone", |h| {
        h.state().invite() != Some(invite.as_str())
    });
    alice.get_by_label("➕ Add contact").click();
    wait_for(&mut alice, "a second invite", |h| {
        h.state().invite().is_some_and(|i| i != invite)
    });
    let second = alice.state().invite().unwrap().to_owned();
    accept_invite(&mut carol, &second, "Alice");
    wait_for(&mut alice, "Carol listed", |h| order(h).len() == 2);
    // Whoever is second writes; the pointer rests on that row.
    let before = order(&alice);
    let (writer, last) = if before[1] == "Bob" {
        (&mut bob, "Bob")
    } else {
        (&mut carol, "Carol")
    };
    alice
        .get_by_label_contains(&format!("Chat with {last}"))
        .hover();
    alice.step();
    writer.get_by_label("Chat with Alice").click();
    writer.step();
    type_into(writer, "Message", "move me up");
    writer.key_press(egui::Key::Enter);
    wait_for(writer, "the message sent", |h| {
        h.state().timeline().is_some_and(|t| {
            t.items
                .iter()
                .any(|i| matches!(i, TimelineItem::Message(m) if m.status >= MessageStatus::Sent))
        })
    });
    let unread = format!("Chat with {last}, 1 unread");
    wait_for(&mut alice, "the message counted", |h| {
        h.query_by_label(&unread).is_some()
    });
    assert_eq!(order(&alice), before, "the row stayed under the pointer");

    // The pointer leaves the list: now the row moves to the top.
    alice.get_by_label("⚙ Settings").hover();
    wait_for(&mut alice, "reordered", |h| order(h)[0] == last);
}

/// The contact list works from the keyboard: Tab from the search box reaches
/// a contact row (drawn with a focus ring), Enter opens that chat.
#[test]
fn tab_reaches_a_contact_and_enter_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, _bob, _) = alice_and_bob(dir.path());

    alice.get_by_label("Search messages").focus();
    alice.step();
    let mut reached = false;
    for _ in 0..8 {
        alice.key_press(egui::Key::Tab);
        alice.step();
        if alice.get_by_label_contains("Chat with Bob").is_focused() {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached the contact row");
    alice.key_press(egui::Key::Enter);
    wait_for(&mut alice, "the chat open", |h| {
        matches!(h.state().pane(), cairn_desktop::Pane::Chat(_))
    });
}
