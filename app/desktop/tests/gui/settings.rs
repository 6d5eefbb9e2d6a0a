//! Settings are wired to the core: renaming a contact and ourselves, extra
//! relays (refused when malformed, checked, removable), theme saved.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{
    accept_invite, app, click, click_label, onboard, show_invite, type_into, wait_for,
};
use cairn_desktop::{Pane, Phase};
use egui_kittest::kittest::Queryable;

#[test]
fn rename_contact_and_self_and_manage_relays() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let mut alice = app(dir_a.path());
    onboard(&mut alice, "Alice", "alice passphrase 123", None);
    let relay = alice.state().local_relay().unwrap().to_owned();
    let mut bob = app(dir_b.path());
    onboard(&mut bob, "Bob", "bob passphrase 456", Some(&relay));

    let invite = show_invite(&mut alice);
    accept_invite(&mut bob, &invite, "Alice");

    // Rename the contact: the list and an open chat follow.
    bob.get_by_label("Chat with Alice").click();
    bob.step();
    bob.get_by_label("⚙ Settings").click();
    bob.step();
    assert_eq!(bob.state().pane(), &Pane::Settings);
    type_into(
        &mut bob,
        "Rename a contact (only you see this name)",
        "Alice Liddell",
    );
    click(&mut bob, "Rename");
    wait_for(&mut bob, "renamed in the list", |h| {
        h.query_by_label("Chat with Alice Liddell").is_some()
    });
    assert!(bob.query_by_label("Chat with Alice").is_none());
    assert!(
        bob.state()
            .contacts()
            .iter()
            .any(|c| c.contact.name == "Alice Liddell")
    );

    // Our own display name goes to the core.
    let name_field = "Your display name (sent when you accept an invite)";
    bob.get_by_label(name_field).focus();
    bob.step();
    bob.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    bob.get_by_label(name_field).type_text("Robert");
    bob.step();
    click(&mut bob, "Save name");
    wait_for(&mut bob, "name saved", |h| {
        h.state().profile_name() == Some("Robert")
    });

    // Extra relays: a malformed address is refused; a valid one is listed,
    // checked (nothing listens there: unreachable), and can be removed.
    let relay_field =
        "Add a relay (wss://host:port/#pin): checked here, and offered when you create an invite";
    type_into(&mut bob, relay_field, "not a relay");
    click(&mut bob, "Add relay");
    assert!(bob.query_by_label_contains("Not a relay address").is_some());
    let (_, pin) = relay.split_once('#').unwrap();
    let dead = format!("wss://127.0.0.1:9/#{pin}");
    bob.get_by_label(relay_field).focus();
    bob.step();
    bob.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    bob.get_by_label(relay_field).type_text(&dead);
    bob.step();
    click(&mut bob, "Add relay");
    wait_for(&mut bob, "extra relay listed", |h| {
        h.query_by_label_contains("127.0.0.1:9/ (extra)").is_some()
    });
    wait_for(&mut bob, "extra relay checked", |h| {
        h.query_by_label("✖ unreachable").is_some()
    });
    click(&mut bob, "Remove");
    wait_for(&mut bob, "extra relay removed", |h| {
        h.query_by_label_contains("(extra)").is_none()
    });

    // Theme: the choice applies at once.
    click_label(&mut bob, "Dark");
    assert!(bob.ctx.global_style().visuals.dark_mode);
}

/// Extra relays saved in `prefs.json` by older versions move into the
/// encrypted profile at unlock and disappear from the plaintext file.
#[test]
fn legacy_extra_relays_move_into_the_profile() {
    use std::sync::Arc;
    use std::time::Duration;

    use cairn_core::client::Client;
    use cairn_core::profile::kdf::KdfParams;
    use cairn_desktop::backend::BackendConfig;
    use cairn_desktop::clock::{Clock, Zone};
    use cairn_desktop::{AppOptions, CairnApp};
    use egui_kittest::Harness;

    let dir = tempfile::tempdir().unwrap();
    let prefs_path = dir.path().join("prefs.json");
    let legacy = "ws://127.0.0.1:9/";
    std::fs::write(
        &prefs_path,
        format!(r#"{{"theme":"Dark","extra_relays":["{legacy}","not a relay"]}}"#),
    )
    .unwrap();
    let mut backend = BackendConfig::new(dir.path().to_path_buf(), Clock::stepping(1));
    backend.kdf = KdfParams::INSECURE_FOR_TESTS;
    let options = AppOptions {
        backend,
        prefs_path: Some(prefs_path.clone()),
        builtin_port: 0,
        zone: Zone::utc(),
    };
    let app = CairnApp::new(options, Arc::new(|| {})).unwrap();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 720.0))
        .build_ui_state(|ui, app: &mut CairnApp| app.frame(ui), app);
    onboard(&mut h, "Carol", "carol passphrase 789", None);
    h.get_by_label("⚙ Settings").click();
    h.step();
    wait_for(&mut h, "legacy relay listed as extra", |h| {
        h.query_by_label_contains("127.0.0.1:9/ (extra)").is_some()
    });
    wait_for(&mut h, "prefs.json rewritten without relays", |_| {
        std::fs::read_to_string(&prefs_path)
            .is_ok_and(|t| !t.contains("extra_relays") && t.contains("Dark"))
    });
    drop(h);
    // The relay is in the encrypted profile (the malformed entry was dropped).
    // The backend thread may still hold the profile (exclusive lock) for a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let client = loop {
        match Client::open(&dir.path().join("profile"), b"carol passphrase 789") {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() > deadline => panic!("reopen: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert_eq!(client.extra_relays().unwrap(), [legacy]);
}

#[test]
fn private_relays_are_refused_until_allowed_in_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    onboard(&mut h, "Dana", "dana passphrase 314", None);
    h.get_by_label("⚙ Settings").click();
    h.step();
    let toggle = "Allow relays on private networks in invites (for testing on a LAN)";
    wait_for(&mut h, "setting shown", |h| {
        h.query_by_label(toggle).is_some()
    });
    assert!(!h.state().allow_private_relays());
    click_label(&mut h, toggle);
    wait_for(&mut h, "setting stored", |h| {
        h.state().allow_private_relays()
    });
    click_label(&mut h, toggle);
    wait_for(&mut h, "setting cleared", |h| {
        !h.state().allow_private_relays()
    });
}

#[test]
fn an_idle_profile_locks_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    onboard(&mut h, "Dana", "dana passphrase 4711", None);
    h.state_mut().prefs_mut().auto_lock_minutes = 1;
    // kittest advances 1/60 s of UI time per step: a minute without input.
    for _ in 0..(60 * 60 + 30) {
        h.step();
    }
    wait_for(&mut h, "locked after a minute idle", |h| {
        h.state().phase() == Phase::Unlock
    });
}

#[test]
fn notifications_name_the_sender_but_keep_the_text_by_default() {
    use cairn_desktop::prefs::{NotificationContent, Prefs};
    assert_eq!(
        Prefs::default().notifications,
        NotificationContent::NameOnly
    );
}
