//! An invite link is a way to start one conversation, not a way into it
//! (PROTOCOL.md §2, §7.1, §8.2, §10.4): once used, the short link finds
//! nothing and a second person is told so on their own side; someone who
//! fetched the invite before is refused at the inviter, stays "waiting for
//! confirmation", and reaches no chat, since the conversation has moved off
//! the invite's mailbox.

use crate::cli_support::{User, texts};
use cairn_tests::wire::fetch_invite;
use cairn_tests::{RelayOptions, RelayProcess};

#[test]
fn a_used_invite_reaches_no_conversation() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let alice = User::new(tmp.path(), "Alice", relay.address());
    let bob = User::new(tmp.path(), "Bob", relay.address());
    let eve = User::new(tmp.path(), "Eve", relay.address());

    let invite = alice.ok(&["invite"]);
    let invite = invite.trim();
    assert!(invite.len() < 130, "a short link: {invite}");
    // Mallory fetches the invite itself while it is still there.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fetched = runtime.block_on(fetch_invite(invite)).to_uri();
    bob.ok(&["accept", invite, "--name", "alice"]);
    let contacts = bob.json(&["contacts"]);
    assert_eq!(contacts[0].get("confirmed"), "false", "{contacts:?}");
    bob.ok(&["send", "alice", "sent before Alice completed"]);
    let got = alice.json(&["recv"]);
    assert!(got.iter().any(|e| e.get("type") == "contact_added"));
    assert_eq!(texts(&got), vec!["sent before Alice completed"]);
    // Alice's first message (her mailbox move) confirms the contact for Bob.
    bob.json(&["recv"]);
    let contacts = bob.json(&["contacts"]);
    assert_eq!(contacts[0].get("confirmed"), "true", "{contacts:?}");

    // Eve uses the same link: it finds nothing, and she is told why.
    let refused = eve.run(&["accept", invite, "--name", "alice"]);
    assert!(!refused.success());
    assert!(
        refused.stderr.contains("already used"),
        "{}",
        refused.stderr
    );
    assert!(eve.json(&["contacts"]).is_empty());

    // With the fetched invite she gets further: refused at Alice, nothing in
    // Bob's conversation.
    eve.ok(&["accept", &fetched, "--name", "alice"]);
    eve.ok(&["send", "alice", "let me in"]);
    let got = alice.json(&["recv"]);
    assert!(texts(&got).is_empty(), "{got:?}");
    assert!(
        got.iter()
            .all(|e| e.get("type") != "contact_added" && e.get("contact") != "Bob"),
        "{got:?}"
    );
    let history = alice.json(&["history", "Bob"]);
    assert!(
        history.iter().all(|e| e.get("kind") != "rejected"),
        "{history:?}"
    );
    eve.json(&["recv"]);
    let contacts = eve.json(&["contacts"]);
    assert_eq!(contacts[0].get("confirmed"), "false", "{contacts:?}");

    // The conversation goes on, on the new mailboxes.
    alice.ok(&["send", "Bob", "hello Bob"]);
    assert_eq!(texts(&bob.json(&["recv"])), vec!["hello Bob"]);
    bob.ok(&["send", "alice", "hello again"]);
    assert_eq!(texts(&alice.json(&["recv"])), vec!["hello again"]);
}
