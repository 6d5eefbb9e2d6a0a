//! Two real app instances, one real relay (the built-in one of the first):
//! invite, accept, send, receive, read receipts, verification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{app, click, drop_file, onboard, qr_picture, type_into, wait_for};
use cairn_core::client::TimelineItem;
use cairn_core::store::MessageStatus;
use cairn_desktop::{Pane, Phase};
use egui_kittest::kittest::Queryable;

fn has_message(
    timeline: Option<&cairn_desktop::chat::window::Timeline>,
    text: &str,
) -> Option<MessageStatus> {
    timeline?.items.iter().find_map(|i| match i {
        TimelineItem::Message(m) if m.body == text => Some(m.status),
        _ => None,
    })
}

#[test]
fn invite_accept_send_receive_and_verify() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let mut alice = app(dir_a.path());
    onboard(&mut alice, "Alice", "alice passphrase 123", None);
    let relay = alice.state().local_relay().unwrap().to_owned();
    let mut bob = app(dir_b.path());
    onboard(&mut bob, "Bob", "bob passphrase 456", Some(&relay));

    // Alice's invite, shown as text (and a QR image).
    alice.get_by_label("➕ Add contact").click();
    wait_for(&mut alice, "invite", |h| h.state().invite().is_some());
    assert!(alice.query_by_label("QR code of your invite").is_some());
    let invite = alice.state().invite().unwrap().to_owned();

    // Bob first pastes a broken link: the error shows and nothing typed is lost.
    bob.get_by_label("➕ Add contact").click();
    bob.step();
    type_into(&mut bob, "Invite link", "cairn:not-an-invite");
    type_into(&mut bob, "Contact name", "Alice");
    click(&mut bob, "Add contact");
    wait_for(&mut bob, "the refusal", |h| {
        h.state().accept_error().is_some()
    });
    let refusal = bob.state().accept_error().unwrap().to_owned();
    assert!(bob.query_by_label(&refusal).is_some(), "{refusal}");
    assert_eq!(
        bob.get_by_label("Contact name").value().as_deref(),
        Some("Alice")
    );
    assert!(bob.query_by_label("Chat with Alice").is_none());

    // Then the real one, and Enter in the name field adds the contact.
    bob.get_by_label("Invite link").focus();
    bob.step();
    bob.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    bob.get_by_label("Invite link").type_text(&invite);
    bob.step();
    bob.get_by_label("Contact name").focus();
    bob.step();
    bob.key_press(egui::Key::Enter);
    wait_for(&mut bob, "Alice in Bob's list", |h| {
        h.query_by_label("Chat with Alice").is_some()
    });
    wait_for(&mut alice, "Bob in Alice's list", |h| {
        h.query_by_label_contains("Chat with Bob").is_some()
    });

    // Bob writes; Shift+Enter is a new line in the draft, Enter sends.
    bob.get_by_label("Chat with Alice").click();
    bob.step();
    type_into(&mut bob, "Message", "two");
    bob.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::Enter);
    bob.step();
    assert!(
        bob.state().timeline().is_none_or(|t| t.items.is_empty()),
        "Shift+Enter sent the draft"
    );
    bob.get_by_label("Message").type_text("lines");
    bob.key_press(egui::Key::Enter);
    bob.step();
    wait_for(&mut bob, "two-line message in Bob's chat", |h| {
        has_message(h.state().timeline(), "two\nlines").is_some()
    });
    type_into(&mut bob, "Message", "hello from bob");
    bob.key_press(egui::Key::Enter);
    bob.step();
    wait_for(&mut bob, "message in Bob's chat", |h| {
        has_message(h.state().timeline(), "hello from bob").is_some()
    });

    // Alice sees it: unread in the list, then in the chat.
    wait_for(&mut alice, "unread badge", |h| {
        h.query_by_label("Chat with Bob, 2 unread").is_some()
    });
    alice.get_by_label("Chat with Bob, 2 unread").click();
    wait_for(&mut alice, "message shown", |h| {
        h.query_by_label("hello from bob").is_some()
    });

    // Bob's message goes to "read" once Alice has opened the chat.
    wait_for(&mut bob, "read receipt", |h| {
        has_message(h.state().timeline(), "hello from bob") == Some(MessageStatus::Read)
    });

    // Same safety number on both sides, shown in groups.
    let number = |h: &egui_kittest::Harness<'static, cairn_desktop::CairnApp>, name: &str| {
        h.state()
            .contacts()
            .iter()
            .find(|c| c.contact.name == name)
            .unwrap()
            .contact
            .safety_number
            .clone()
    };
    let on_alice = number(&alice, "Bob");
    let on_bob = number(&bob, "Alice");
    assert_eq!(on_alice, on_bob);
    click(&mut alice, "Verify safety number");
    assert!(matches!(alice.state().pane(), Pane::Verify(_)));
    assert!(alice.query_by_label(&on_alice[0..5]).is_some());
    // The QR code follows as soon as the backend computed its payload.
    wait_for(&mut alice, "the QR code", |h| {
        h.query_by_label("QR code of the safety number").is_some()
    });

    // A wrong number is refused.
    let mut wrong = on_bob.clone();
    wrong.replace_range(0..1, if wrong.starts_with('1') { "2" } else { "1" });
    type_into(&mut alice, "Their safety number", &wrong);
    click(&mut alice, "Mark as verified");
    wait_for(&mut alice, "mismatch message", |h| {
        h.query_all_by_label_contains("does not match")
            .next()
            .is_some()
    });
    assert!(!alice.state().contacts()[0].contact.verified);

    // Bob types Alice's number, grouped as she reads it out: verified.
    bob.get_by_label("Chat with Alice").click();
    bob.step();
    click(&mut bob, "Verify safety number");
    let grouped: Vec<String> = on_alice
        .as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    type_into(&mut bob, "Their safety number", &grouped.join(" "));
    bob.key_press(egui::Key::Enter); // Enter in the field marks it, like the button.
    wait_for(&mut bob, "verified", |h| {
        h.state().contacts().iter().any(|c| c.contact.verified)
    });
    assert!(bob.query_by_label("✔ Verified").is_some());
    // A verification can be withdrawn, and is said so in the chat.
    click(&mut bob, "Clear verification");
    wait_for(&mut bob, "not verified", |h| {
        h.state().contacts().iter().all(|c| !c.contact.verified)
    });
    assert!(bob.query_by_label("Not verified yet").is_some());

    // Bob drops pictures of QR codes on the pane: something else, and his
    // own code (a screenshot of his own screen), are named for what they
    // are; a screenshot of Alice's code verifies her again (§13).
    let pictures = tempfile::tempdir().unwrap();
    let other = qr_picture(pictures.path(), "other.png", b"https://example.org/");
    drop_file(&mut bob, &other);
    wait_for(&mut bob, "not a safety number", |h| {
        h.query_all_by_label_contains("not a Cairn safety number")
            .next()
            .is_some()
    });
    wait_for(&mut bob, "his own code drawn", |h| {
        h.state().safety_qr().is_some()
    });
    let own = bob.state().safety_qr().unwrap().to_vec();
    drop_file(&mut bob, &qr_picture(pictures.path(), "bob.png", &own));
    wait_for(&mut bob, "his own code refused", |h| {
        h.query_all_by_label_contains("your own QR code")
            .next()
            .is_some()
    });
    assert!(bob.state().contacts().iter().all(|c| !c.contact.verified));
    wait_for(&mut alice, "her code drawn", |h| {
        h.state().safety_qr().is_some()
    });
    let hers = alice.state().safety_qr().unwrap().to_vec();
    assert_ne!(hers, own, "each side shows its own direction");
    drop_file(&mut bob, &qr_picture(pictures.path(), "alice.png", &hers));
    wait_for(&mut bob, "verified from the picture", |h| {
        h.state().contacts().iter().any(|c| c.contact.verified)
    });

    // Alice compares both screens side by side: "They match" is enough.
    click(&mut alice, "✔ They match");
    wait_for(&mut alice, "verified by comparison", |h| {
        h.state().contacts().iter().any(|c| c.contact.verified)
    });

    // Search finds the message from what is typed so far; the hit opens
    // the chat with the message highlighted, and clearing the search
    // clears the highlight.
    type_into(&mut alice, "Search messages", "hel");
    wait_for(&mut alice, "search hit", |h| {
        h.query_by_label_contains("hello from bob").is_some()
    });
    alice.get_by_label_contains("hello from bob").click();
    wait_for(&mut alice, "the hit highlighted", |h| {
        h.state().highlighted().is_some()
    });
    alice.get_by_label("Search messages").focus();
    alice.step();
    alice.key_press(egui::Key::Escape);
    wait_for(&mut alice, "the highlight gone", |h| {
        h.state().highlighted().is_none()
    });

    // A draft survives locking and unlocking.
    alice.get_by_label_contains("Chat with Bob").click();
    alice.step();
    type_into(&mut alice, "Message", "half-written thought");
    alice.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    wait_for(&mut alice, "locked", |h| h.state().phase() == Phase::Unlock);
    type_into(&mut alice, "Passphrase", "alice passphrase 123");
    click(&mut alice, "Unlock");
    wait_for(&mut alice, "unlocked", |h| h.state().phase() == Phase::Main);
    wait_for(&mut alice, "Bob listed", |h| {
        h.query_by_label_contains("Chat with Bob").is_some()
    });
    alice.get_by_label_contains("Chat with Bob").click();
    wait_for(&mut alice, "the draft back", |h| {
        h.query_by_label("Message")
            .and_then(|n| n.value())
            .as_deref()
            == Some("half-written thought")
    });
}
