//! Open invites: listed with their expiry, revocable, and a used one leaves
//! the screen; whoever tries the used link next is told so on their side.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{accept_invite, app, click, onboard, type_into, wait_for};
use egui_kittest::kittest::Queryable;

fn short(id: &[u8; 32]) -> String {
    format!("{:02x}{:02x}{:02x}", id[0], id[1], id[2])
}

#[test]
fn open_invites_are_listed_revocable_and_a_used_one_leaves_the_screen() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let dir_c = tempfile::tempdir().unwrap();
    let mut alice = app(dir_a.path());
    onboard(&mut alice, "Alice", "alice passphrase 123", None);
    let relay = alice.state().local_relay().unwrap().to_owned();

    alice.get_by_label("➕ Add contact").click();
    wait_for(&mut alice, "first invite", |h| {
        h.state().open_invites().len() == 1
    });
    let first = alice.state().open_invites()[0].clone();
    assert_eq!(alice.state().invite(), Some(first.uri.as_str()));
    click(&mut alice, "New invite");
    wait_for(&mut alice, "second invite", |h| {
        h.state().open_invites().len() == 2
    });
    let second = alice.state().open_invites()[1].clone();
    assert_eq!(alice.state().invite(), Some(second.uri.as_str()));
    // Both listed with their expiry (the pane's own text says it too).
    assert!(
        alice
            .query_by_label(&format!("Invite {} (shown)", short(&second.id)))
            .is_some()
    );
    assert!(
        alice
            .query_by_label(&format!("Invite {}", short(&first.id)))
            .is_some()
    );
    assert!(alice.query_all_by_label("expires in 7 days").count() == 2);

    // Opening the pane again shows the same invite: no new mailbox each time.
    alice.get_by_label("⚙ Settings").click();
    alice.step();
    alice.get_by_label("➕ Add contact").click();
    for _ in 0..20 {
        alice.step();
    }
    assert_eq!(alice.state().open_invites().len(), 2);

    // The first one, sent to the wrong person, is revoked.
    click(&mut alice, &format!("Revoke {}", short(&first.id)));
    wait_for(&mut alice, "revoked", |h| {
        h.state().open_invites().len() == 1
    });
    assert_eq!(alice.state().open_invites()[0].uri, second.uri);

    // Bob uses the second: it leaves Alice's screen.
    let mut bob = app(dir_b.path());
    onboard(&mut bob, "Bob", "bob passphrase 456", Some(&relay));
    accept_invite(&mut bob, &second.uri, "Alice");
    wait_for(&mut alice, "Bob added", |h| {
        h.query_by_label_contains("Chat with Bob").is_some()
    });
    wait_for(&mut alice, "the used invite gone", |h| {
        h.state().invite() != Some(second.uri.as_str())
            && h.state().open_invites().iter().all(|i| i.uri != second.uri)
    });

    // Carol got the same link: her app says it is used up, and she has no
    // contact that would wait forever (PROTOCOL.md §7.1). (Alice's app
    // deletes the sealed invite at the relay right after the handshake.)
    wait_for(&mut alice, "the sealed invite deleted", |_| {
        !cairn_core::testing::sealed_invite_waits(&second.uri)
    });
    let mut carol = app(dir_c.path());
    onboard(&mut carol, "Carol", "carol passphrase 789", Some(&relay));
    carol.get_by_label("➕ Add contact").click();
    carol.step();
    type_into(&mut carol, "Invite link", &second.uri);
    type_into(&mut carol, "Contact name", "Alice");
    click(&mut carol, "Add contact");
    wait_for(&mut carol, "the refusal", |h| {
        h.state().accept_error().is_some()
    });
    let error = carol.state().accept_error().unwrap().to_owned();
    assert!(error.contains("already used"), "{error}");
    assert!(carol.query_by_label_contains("Chat with Alice").is_none());
    assert!(
        carol.query_by_label_contains(&error).is_some(),
        "shown: {error}"
    );
}
