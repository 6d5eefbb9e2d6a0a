//! Walks the main screens at the window size of scripts/screenshots (1100x720)
//! and prints each clicked widget's centre: rerun with `--nocapture` and
//! update the coordinates in the script when the layout changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use crate::support::*;
use egui_kittest::kittest::Queryable;

fn p(h: &egui_kittest::Harness<'static, cairn_desktop::CairnApp>, var: &str, label: &str) {
    let n = h.get_by_label(label);
    let c = n.rect().center();
    println!("PROBE {var}=\"{} {}\"", c.x.round(), c.y.round());
}

#[test]
fn screenshot_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    wait_for(&mut h, "create", |h| {
        h.state().phase() == cairn_desktop::Phase::Create
    });
    p(&h, "START_RELAY", "Start built-in relay");
    click(&mut h, "Start built-in relay");
    wait_for(&mut h, "relay", |h| h.state().local_relay().is_some());
    p(
        &h,
        "NAME_FIELD",
        "Your name (sent when you accept an invite)",
    );
    p(&h, "PASS_FIELD", "Passphrase");
    p(&h, "CONFIRM_FIELD", "Confirm passphrase");
    p(&h, "CREATE_BUTTON", "Create profile");
    type_into(
        &mut h,
        "Your name (sent when you accept an invite)",
        "Alice",
    );
    type_into(&mut h, "Passphrase", "velvet harbour 42 lanterns");
    type_into(&mut h, "Confirm passphrase", "velvet harbour 42 lanterns");
    p(&h, "CREATE_BUTTON2", "Create profile");
    click(&mut h, "Create profile");
    wait_for(&mut h, "main", |h| {
        h.state().phase() == cairn_desktop::Phase::Main
    });
    let relay = h.state().local_relay().unwrap().to_owned();
    let mut b = app(dir2.path());
    onboard(&mut b, "Carol", "carol passphrase 99", Some(&relay));
    b.get_by_label("➕ Add contact").click();
    wait_for(&mut b, "invite", |h| h.state().invite().is_some());
    let invite = b.state().invite().unwrap().to_owned();
    h.get_by_label("➕ Add contact").click();
    wait_for(&mut h, "invite a", |h| h.state().invite().is_some());
    p(&h, "INVITE_FIELD", "Invite link");
    p(&h, "CONTACT_NAME_FIELD", "Contact name");
    p(&h, "NEW_INVITE", "New invite");
    type_into(&mut h, "Invite link", &invite);
    type_into(&mut h, "Contact name", "Carol");
    let n = h.get_by_role_and_label(egui::accesskit::Role::Button, "Add contact");
    let c = n.rect().center();
    println!("PROBE ADD_BUTTON=\"{} {}\"", c.x.round(), c.y.round());
    click(&mut h, "Add contact");
    wait_for(&mut h, "carol", |h| {
        h.query_by_label_contains("Chat with Carol").is_some()
    });
    let c = h.get_by_label_contains("Chat with Carol").rect().center();
    println!("PROBE CAROL_ROW=\"{} {}\"", c.x.round(), c.y.round());
    h.get_by_label_contains("Chat with Carol").click();
    wait_for(&mut h, "chat", |h| h.query_by_label("Message").is_some());
    p(&h, "COMPOSER", "Message");
    let n = h.get_by_role_and_label(egui::accesskit::Role::Button, "Verify safety number");
    let c = n.rect().center();
    println!("PROBE VERIFY_BUTTON=\"{} {}\"", c.x.round(), c.y.round());
    click(&mut h, "Verify safety number");
    p(&h, "THEIR_NUMBER_FIELD", "Their safety number");
    p(&h, "MARK_VERIFIED", "Mark as verified");
    h.get_by_label("⚙ Settings").click();
    h.step();
    h.step();
    p(&h, "DARK_RADIO", "Dark");
    // The dark radio must be on screen (not below the fold) for the script's click.
    assert!(h.get_by_label("Dark").rect().bottom() < 712.0);
}
