//! An encrypted backup written from Settings (passphrase typed twice) and
//! restored on the first-run screen of a new installation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{app, click, click_label, onboard, type_into, wait_for};
use cairn_desktop::{Pane, Phase};
use egui_kittest::kittest::Queryable;

const BACKUP_PASS: &str = "a long backup passphrase 2026";

#[test]
fn export_needs_the_passphrase_twice_and_the_backup_restores() {
    let dir_a = tempfile::tempdir().unwrap();
    let file = dir_a.path().join("alice.cairn-backup");
    let mut alice = app(dir_a.path());
    onboard(&mut alice, "Alice", "alice passphrase 123", None);
    alice.get_by_label("⚙ Settings").click();
    alice.step();
    assert_eq!(alice.state().pane(), &Pane::Settings);

    type_into(&mut alice, "Backup file to write", &file.to_string_lossy());
    type_into(&mut alice, "Backup passphrase", BACKUP_PASS);
    type_into(
        &mut alice,
        "Backup passphrase again",
        "a long backup passphrase 2025",
    );
    assert!(
        alice
            .query_by_label("The passphrases do not match.")
            .is_some()
    );
    // Disabled: neither the button nor Enter writes anything.
    click(&mut alice, "Export backup");
    alice.get_by_label("Backup passphrase again").focus();
    alice.step();
    alice.key_press(egui::Key::Enter);
    for _ in 0..10 {
        alice.step();
    }
    assert!(!file.exists());

    // Typed again correctly, Enter exports.
    alice.get_by_label("Backup passphrase again").focus();
    alice.step();
    alice.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    alice
        .get_by_label("Backup passphrase again")
        .type_text(BACKUP_PASS);
    alice.step();
    alice.key_press(egui::Key::Enter);
    wait_for(&mut alice, "the export notice", |h| {
        h.query_by_label_contains("Encrypted backup written")
            .is_some()
    });
    assert!(file.exists());

    // A new installation restores it.
    let dir_b = tempfile::tempdir().unwrap();
    let mut restored = app(dir_b.path());
    wait_for(&mut restored, "first run", |h| {
        h.state().phase() == Phase::Create
    });
    click_label(&mut restored, "Restore from an encrypted backup");
    type_into(&mut restored, "Backup file", &file.to_string_lossy());
    type_into(&mut restored, "Backup passphrase", BACKUP_PASS);
    click(&mut restored, "Restore backup");
    wait_for(&mut restored, "the restored profile", |h| {
        h.state().phase() == Phase::Main
    });
    assert_eq!(restored.state().profile_name(), Some("Alice"));
}
