//! `cairn-cli` end to end: two profiles chatting through real relay processes.
//!
//! Every step is a separate CLI process on real profile directories, over
//! `wss://` with the relay's certificate pin.

use crate::cli_support::{MARKER, User, assert_no_marker, connect, texts};
use cairn_tests::{RelayOptions, RelayProcess};

#[test]
fn two_profiles_chat_both_ways_through_one_relay() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    connect(&alice, &bob);

    let sent = alice.json(&["send", "Bob", &format!("hello bob {MARKER}")]);
    assert_eq!(sent[0].get("status"), "sent", "{sent:?}");
    let got = bob.json(&["recv"]);
    assert_eq!(texts(&got), vec![format!("hello bob {MARKER}")]);
    bob.ok(&["send", "alice", "hi alice"]);
    let got = alice.json(&["recv"]);
    assert_eq!(texts(&got), vec!["hi alice"]);
    // Bob's delivery receipt reached Alice with Bob's reply.
    assert!(
        got.iter()
            .any(|e| e.get("type") == "status" && e.get("status") == "delivered"),
        "{got:?}"
    );

    // Nothing is shown twice.
    assert!(texts(&bob.json(&["recv"])).is_empty());
    let history = alice.json(&["history", "Bob"]);
    assert_eq!(
        texts(&history),
        vec![format!("hello bob {MARKER}"), "hi alice".into()]
    );
    assert_eq!(history[0].get("direction"), "out");
    assert_eq!(history[0].get("status"), "delivered");

    // Search, contacts.
    let hits = bob.json(&["search", "hello"]);
    assert_eq!(hits.len(), 1);
    let contacts = alice.json(&["contacts"]);
    assert_eq!(contacts[0].get("name"), "Bob");
    assert_eq!(contacts[0].get("verified"), "false");

    // The relay saw only ciphertext; the profiles are encrypted too.
    assert_no_marker(relay.data_dir());
    assert!(!relay.logs().contains(MARKER));
    assert_no_marker(tmp.path());
}

#[test]
fn safety_numbers_match_and_wrong_digits_do_not_verify() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    connect(&alice, &bob);

    let a = alice.json(&["fingerprint", "Bob"]);
    let b = bob.json(&["fingerprint", "alice"]);
    let digits = a[0].get("safety_number");
    assert_eq!(digits.len(), 60);
    assert_eq!(a[0].get("safety_number"), b[0].get("safety_number"));
    // Human output groups the same digits.
    let text = alice.ok(&["fingerprint", "Bob"]);
    assert_eq!(text.trim().replace(' ', ""), digits);

    let mut wrong = digits.clone().into_bytes();
    wrong[59] = if wrong[59] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    let out = bob.run(&["verify", "alice", "--safety-number", &wrong]);
    assert!(!out.success());
    assert!(out.stderr.contains("does not match"), "{}", out.stderr);
    assert_eq!(bob.json(&["contacts"])[0].get("verified"), "false");

    bob.ok(&["verify", "alice", "--safety-number", &text]);
    assert_eq!(bob.json(&["contacts"])[0].get("verified"), "true");
    // Withdrawn, then marked from a screenshot of Alice's QR code.
    bob.ok(&["unverify", "alice"]);
    assert_eq!(bob.json(&["contacts"])[0].get("verified"), "false");
    // Alice's QR code (her side's payload), as a picture she sends Bob; a
    // picture of Bob's own screen verifies nothing.
    let hers = alice.json(&["fingerprint", "Bob"])[0].get("qr_payload");
    let picture = tmp.path().join("alice-qr.png");
    qr_png(&hex::decode(&hers).unwrap(), &picture);
    let own = bob.json(&["fingerprint", "alice"])[0].get("qr_payload");
    let own_picture = tmp.path().join("bob-qr.png");
    qr_png(&hex::decode(&own).unwrap(), &own_picture);
    let refused = bob.run(&[
        "verify",
        "alice",
        "--qr-image",
        own_picture.to_str().unwrap(),
    ]);
    assert!(!refused.success());
    assert!(
        refused.stderr.contains("your own QR code"),
        "{}",
        refused.stderr
    );
    let missing = bob.run(&["verify", "alice", "--qr-image", "/nonexistent/qr.png"]);
    assert!(!missing.success());
    assert!(
        missing.stderr.contains("/nonexistent/qr.png"),
        "{}",
        missing.stderr
    );
    bob.ok(&["verify", "alice", "--qr-image", picture.to_str().unwrap()]);
    assert_eq!(bob.json(&["contacts"])[0].get("verified"), "true");
    // Withdrawn again, then marked after comparing both screens.
    bob.ok(&["unverify", "alice"]);
    assert_eq!(bob.json(&["contacts"])[0].get("verified"), "false");
    alice.ok(&["verify", "Bob", "--they-match"]);
    assert_eq!(alice.json(&["contacts"])[0].get("verified"), "true");
    let history = bob.json(&["history", "alice"]);
    assert!(
        history.iter().any(|e| e.get("kind") == "unverified"),
        "{history:?}"
    );
}

#[test]
fn chat_across_two_relays_and_offline_delivery() {
    let relay_a = RelayProcess::start(RelayOptions::default());
    let relay_b = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay_a.address());
    let bob = User::new(tmp.path(), "Bob", relay_b.address());
    connect(&alice, &bob);

    // Bob is offline (no process running) while Alice writes three messages.
    for i in 0..3 {
        alice.ok(&["send", "Bob", &format!("offline {i}")]);
    }
    // Bob comes online later and gets all of them, in order, once.
    let got = bob.json(&["recv"]);
    assert_eq!(texts(&got), vec!["offline 0", "offline 1", "offline 2"]);
    bob.ok(&["send", "alice", "back online"]);
    assert_eq!(texts(&alice.json(&["recv"])), vec!["back online"]);
    assert!(texts(&bob.json(&["recv"])).is_empty());
}

#[test]
fn export_import_restores_a_working_profile() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    connect(&alice, &bob);
    alice.ok(&["send", "Bob", &format!("before backup {MARKER}")]);
    bob.ok(&["recv"]);

    let backup = tmp.path().join("bob.backup");
    let backup_s = backup.to_string_lossy().into_owned();
    bob.ok(&["export", &backup_s]);
    let restored = User {
        dir: tmp.path().join("bob-restored"),
    };
    restored.ok(&["import", &backup_s]);
    let history = restored.json(&["history", "alice"]);
    assert_eq!(texts(&history), vec![format!("before backup {MARKER}")]);
    assert_no_marker(tmp.path());
}

#[test]
fn identity_change_is_held_until_accepted() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    connect(&alice, &bob);
    let before = bob.json(&["fingerprint", "alice"])[0].get("safety_number");
    bob.ok(&["verify", "alice", "--safety-number", &before]);

    alice.ok(&["rotate-identity"]);
    alice.ok(&["send", "Bob", "from my new key"]);
    let got = bob.json(&["recv"]);
    assert!(texts(&got).is_empty(), "held: {got:?}");
    assert!(got.iter().any(|e| e.get("kind") == "key_change"), "{got:?}");
    assert!(got.iter().any(|e| e.get("type") == "held"), "{got:?}");
    assert_eq!(bob.json(&["contacts"])[0].get("pending_key_change"), "true");
    let blocked = bob.run(&["send", "alice", "hello?"]);
    assert!(!blocked.success());
    assert!(
        blocked.stderr.contains("identity key changed"),
        "{}",
        blocked.stderr
    );

    bob.ok(&["accept-key", "alice"]);
    let contact = &bob.json(&["contacts"])[0];
    assert_eq!(contact.get("verified"), "false");
    let after = contact.get("safety_number");
    assert_ne!(after, before);
    assert_eq!(
        after,
        alice.json(&["fingerprint", "Bob"])[0].get("safety_number")
    );
    assert_eq!(
        texts(&bob.json(&["history", "alice"])),
        vec!["from my new key"]
    );
    bob.ok(&["send", "alice", "accepted"]);
    assert_eq!(texts(&alice.json(&["recv"])), vec!["accepted"]);
}

/// `data` as a QR code picture (4 pixels per module, 4-module quiet zone), saved as PNG.
fn qr_png(data: &[u8], path: &std::path::Path) {
    let code = qrcode::QrCode::new(data).unwrap();
    let (width, colors) = (code.width() as u32, code.to_colors());
    let side = (width + 8) * 4;
    let picture = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / 4, y / 4);
        let inside = (4..width + 4).contains(&mx) && (4..width + 4).contains(&my);
        let dark = inside && colors[((my - 4) * width + mx - 4) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    picture.save(path).unwrap();
}
