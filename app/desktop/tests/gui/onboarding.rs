//! First run, lock, wrong passphrase, unlock: driven through the real UI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{app, app_with_prefs, click, onboard, type_into, wait_for};
use cairn_desktop::{Pane, Phase};
use egui_kittest::kittest::Queryable;

const PASS: &str = "correct horse battery staple";

#[test]
fn onboarding_lock_wrong_passphrase_then_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    onboard(&mut h, "Alice", PASS, None);
    assert!(h.query_by_label_contains("No contacts yet").is_some());

    // Settings shows the built-in relay and the lock button.
    h.get_by_label("⚙ Settings").click();
    h.step();
    assert_eq!(h.state().pane(), &Pane::Settings);
    assert!(h.query_by_label_contains("(home)").is_some());
    click(&mut h, "🔒 Lock Cairn");
    wait_for(&mut h, "lock", |h| h.state().phase() == Phase::Unlock);

    type_into(&mut h, "Passphrase", "not my passphrase");
    click(&mut h, "Unlock");
    wait_for(&mut h, "refusal", |h| {
        h.query_by_label_contains("Wrong passphrase").is_some()
    });
    assert_eq!(h.state().phase(), Phase::Unlock);

    // The field has the keyboard again: type and press Enter, no click.
    wait_for(&mut h, "focus back in the field", |h| {
        h.get_by_label("Passphrase").is_focused()
    });
    h.event(egui::Event::Text(PASS.into()));
    h.step();
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "unlock", |h| h.state().phase() == Phase::Main);
    assert!(h.query_by_label_contains("Wrong passphrase").is_none());
}

#[test]
fn create_needs_matching_passphrases() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    wait_for(&mut h, "first run", |h| h.state().phase() == Phase::Create);
    // What the built-in relay can and cannot do is said before it starts…
    let reach = "Reachable only from this computer, and only while Cairn is open";
    assert!(h.query_by_label_contains(reach).is_some());
    click(&mut h, "Start built-in relay");
    wait_for(&mut h, "relay", |h| h.state().local_relay().is_some());
    // …and while it runs.
    assert!(h.query_by_label_contains(reach).is_some());
    type_into(
        &mut h,
        "Your name (sent when you accept an invite)",
        "Alice",
    );
    type_into(&mut h, "Passphrase", PASS);
    type_into(&mut h, "Confirm passphrase", "something else entirely");
    assert!(h.query_by_label("The passphrases do not match.").is_some());
    // Disabled button: clicking does nothing.
    click(&mut h, "Create profile");
    for _ in 0..10 {
        h.step();
    }
    assert_eq!(h.state().phase(), Phase::Create);

    // Enter in the confirmation field creates the profile once everything matches.
    h.get_by_label("Confirm passphrase").focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Confirm passphrase").type_text(PASS);
    h.step();
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "created by Enter", |h| {
        h.state().phase() == Phase::Main
    });
}

#[test]
fn create_refuses_a_passphrase_the_core_rule_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    wait_for(&mut h, "first run", |h| h.state().phase() == Phase::Create);
    click(&mut h, "Start built-in relay");
    wait_for(&mut h, "relay", |h| h.state().local_relay().is_some());
    type_into(
        &mut h,
        "Your name (sent when you accept an invite)",
        "Alice",
    );
    // Twelve characters, letters and digits: the old meter's "Fair" let it through.
    type_into(&mut h, "Passphrase", "password1234");
    type_into(&mut h, "Confirm passphrase", "password1234");
    // The core's reason and what would pass are shown under the field.
    assert!(h.query_by_label_contains("too easy to guess").is_some());
    assert!(
        h.query_by_label_contains("four or more random words")
            .is_some()
    );
    click(&mut h, "Create profile");
    for _ in 0..10 {
        h.step();
    }
    assert_eq!(h.state().phase(), Phase::Create);
    assert!(!dir.path().join("profile").exists());
}

#[test]
fn create_checks_a_pasted_relay_first_and_keeps_the_form_on_a_wrong_pin() {
    // A real relay (another app's built-in one), pasted with a wrong pin.
    let relay_dir = tempfile::tempdir().unwrap();
    let mut other = app(relay_dir.path());
    wait_for(&mut other, "first run", |h| {
        h.state().phase() == Phase::Create
    });
    click(&mut other, "Start built-in relay");
    wait_for(&mut other, "relay", |h| h.state().local_relay().is_some());
    let good = other.state().local_relay().unwrap().to_owned();
    let (base, _) = good.split_once('#').unwrap();
    let wrong = format!("{base}#{}", "A".repeat(43));

    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    wait_for(&mut h, "first run", |h| h.state().phase() == Phase::Create);
    h.get_by_label("Use a relay address someone gave me")
        .click();
    h.step();
    type_into(&mut h, "Relay address (wss://host:port/#pin)", &wrong);
    type_into(
        &mut h,
        "Your name (sent when you accept an invite)",
        "Alice",
    );
    type_into(&mut h, "Passphrase", PASS);
    type_into(&mut h, "Confirm passphrase", PASS);
    click(&mut h, "Create profile");
    wait_for(&mut h, "the pin error", |h| {
        h.query_by_label_contains("does not match its pin")
            .is_some()
    });
    assert_eq!(h.state().phase(), Phase::Create);
    assert!(!dir.path().join("profile").exists());
    // Nothing typed is lost: fix the pin and create.
    let field = "Relay address (wss://host:port/#pin)";
    h.get_by_label(field).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(field).type_text(&good);
    h.step();
    click(&mut h, "Create profile");
    wait_for(&mut h, "main window", |h| h.state().phase() == Phase::Main);
}

/// Closing the window closes the profile before the process may exit: no
/// write-ahead log is left open (a process exiting while the backend thread
/// still closed SQLCipher crashed in its teardown).
#[test]
fn dropping_the_app_closes_the_profile_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    crate::support::onboard(&mut h, "Alice", PASS, None);
    let wal = |dir: &std::path::Path| {
        std::fs::read_dir(dir.join("profile"))
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with("-wal"))
    };
    assert!(wal(dir.path()), "an open profile has its write-ahead log");
    drop(h);
    assert!(!wal(dir.path()), "closed before the app was gone");
}

/// The built-in relay's port is taken (another Cairn, a relay run by hand):
/// the first start takes the next free port and remembers that one, not the
/// one that failed; a later launch whose remembered port is taken says so in
/// plain words and does not move (contacts know the relay by that port).
#[test]
fn a_taken_builtin_port_is_skipped_on_first_start_and_explained_later() {
    use cairn_desktop::prefs::Prefs;
    let dir = tempfile::tempdir().unwrap();
    let prefs = dir.path().join("prefs.json");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();

    let mut h = app_with_prefs(&dir.path().join("first"), &prefs, port);
    wait_for(&mut h, "first-run screen", |h| {
        h.state().phase() == Phase::Create
    });
    click(&mut h, "Start built-in relay");
    wait_for(&mut h, "built-in relay", |h| {
        h.state().local_relay().is_some()
    });
    let address: cairn_protocol::relay_address::RelayAddress =
        h.state().local_relay().unwrap().parse().unwrap();
    assert_ne!(address.port(), port);
    let listen = format!("127.0.0.1:{}", address.port());
    wait_for(&mut h, "the port it got remembered", |_| {
        Prefs::load(&prefs).builtin_relay.as_deref() == Some(listen.as_str())
    });
    drop(h);

    // A later launch whose relay's port another program now holds.
    let remembered = Prefs {
        builtin_relay: Some(format!("127.0.0.1:{port}")),
        ..Prefs::load(&prefs)
    };
    remembered.save(&prefs).unwrap();
    let mut h = app_with_prefs(&dir.path().join("second"), &prefs, port);
    let said = format!("port {port} is used by another program");
    wait_for(&mut h, "the explanation", |h| {
        h.query_by_label_contains(&said).is_some()
    });
    assert!(h.state().local_relay().is_none());
    assert_eq!(
        Prefs::load(&prefs).builtin_relay,
        Some(format!("127.0.0.1:{port}")),
        "not moved"
    );
}
