//! `cairn-cli relays home`: moving to another home relay takes the
//! conversations along (PROTOCOL.md §10.4). Alice's contact follows her signed
//! mailbox move; with her old relay gone, his messages still reach her. A relay
//! that cannot be reached changes nothing.

use crate::cli_support::{User, texts};
use cairn_tests::{RelayOptions, RelayProcess};

#[test]
fn a_new_home_relay_takes_the_conversation_along() {
    let bobs = RelayProcess::start(RelayOptions::default());
    let mut old = RelayProcess::start(RelayOptions::default());
    let new = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let bob = User::new(tmp.path(), "Bob", bobs.address());
    let alice = User::new(tmp.path(), "Alice", old.address());
    // Bob invites; Alice accepts (her reply mailbox is on her home relay) and
    // follows Bob off his invite's mailbox.
    let invite = bob.ok(&["invite"]);
    alice.ok(&["accept", invite.trim(), "--name", "Bob"]);
    bob.ok(&["recv"]);
    let got = alice.json(&["recv"]);
    assert!(got.iter().all(|e| e.get("kind") != "rejected"), "{got:?}");

    // An unreachable relay: refused, nothing changed.
    let nowhere = "wss://127.0.0.1:9/#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let refused = alice.run(&["relays", "home", nowhere]);
    assert!(!refused.success(), "{refused:?}");
    assert!(refused.stderr.contains("moving to"), "{refused:?}");
    let home = alice.json(&["relays", "list"]);
    assert_eq!(home[0].get("address"), old.address().to_string());

    let moved = alice.json(&["relays", "home", &new.address().to_string()]);
    assert_eq!(moved[0].get("type"), "home_relay", "{moved:?}");
    assert_eq!(moved[0].get("moving"), "1", "{moved:?}");
    let home = alice.json(&["relays", "list"]);
    assert_eq!(home[0].get("address"), new.address().to_string());
    assert_eq!(home[0].get("home"), "true");

    // Bob follows the move; Alice reads his confirmation.
    bob.ok(&["recv"]);
    alice.ok(&["recv"]);

    // Alice's old relay goes away: Bob still reaches her, through the new
    // one. (Until the grace period after Bob's confirmation is over Alice
    // still reads the old mailbox, so `recv` reports that relay down.)
    old.kill();
    bob.ok(&["send", "Alice", "through the new relay"]);
    let got = alice.run(&["--json", "recv"]);
    assert!(
        got.stdout.contains("\"text\":\"through the new relay\""),
        "{got:?}"
    );
    assert!(got.stderr.contains(&old.address().to_string()), "{got:?}");
    alice.ok(&["send", "Bob", "and back"]);
    assert_eq!(texts(&bob.json(&["recv"])), vec!["and back"]);
}
