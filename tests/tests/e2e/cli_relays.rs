//! `cairn-cli relays list|add|remove` end to end through the real binary:
//! the extra relays live in the encrypted profile, addresses are checked,
//! and a plain `ws://` relay off this machine is refused with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_tests::cli::{CliUser, JsonLine};

const PIN: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

fn relays(user: &CliUser) -> Vec<(String, String)> {
    user.json(&["relays", "list"])
        .iter()
        .map(|l: &JsonLine| {
            assert_eq!(l.get("type"), "relay", "{l:?}");
            (l.get("address"), l.get("home"))
        })
        .collect()
}

#[test]
fn cli_relays_add_list_refuse_remove() {
    let tmp = tempfile::tempdir().unwrap();
    // Offline commands: the home relay need not be running.
    let home = RelayAddress::new("127.0.0.1", 7447, Transport::Tls { pin: [7; 32] }).unwrap();
    let alice = CliUser::offline(tmp.path(), "Alice", &home);
    let home_text = home.to_string();
    assert_eq!(relays(&alice), [(home_text.clone(), "true".into())]);

    // Added in canonical form, whatever the spelling.
    let extra = format!("wss://extra-relay.example.net:7447/#{PIN}");
    let added = alice.json(&[
        "relays",
        "add",
        &format!("  wss://extra-relay.example.net:7447#{PIN} "),
    ]);
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].get("type"), "relay_added");
    assert_eq!(added[0].get("address"), extra);
    // Plaintext stays possible for a development relay on this machine.
    let text = alice.ok(&["relays", "add", "ws://localhost:9"]);
    assert_eq!(text.trim(), "extra relay ws://localhost:9/ added");

    assert_eq!(
        relays(&alice),
        [
            (home_text.clone(), "true".into()),
            (extra.clone(), "false".into()),
            ("ws://localhost:9/".into(), "false".into()),
        ]
    );
    let listed = alice.ok(&["relays", "list"]);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            format!("{home_text}  (home)").as_str(),
            extra.as_str(),
            "ws://localhost:9/"
        ]
    );

    // Refusals: exit status 1, one clear line on stderr, nothing changed.
    let refused = |args: &[&str], expect: &[&str]| {
        let out = alice.run(args);
        assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        for e in expect {
            assert!(out.stderr.contains(e), "{args:?}: {}", out.stderr);
        }
    };
    refused(
        &["relays", "add", "ws://203.0.113.9:7447/"],
        &[
            "error: refusing plain ws:// relay ws://203.0.113.9:7447/",
            "only on this machine",
            "wss://HOST:PORT/#PIN",
        ],
    );
    refused(
        &["relays", "add", "ws://relay.example.org:7447"],
        &["refusing plain ws:// relay ws://relay.example.org:7447/"],
    );
    refused(
        &["relays", "add", "relay.example.org:7447"],
        &["invalid relay address", "wss://"],
    );
    refused(
        &["relays", "add", "wss://relay.example.org:7447/"],
        &["invalid relay address", "#PIN"],
    );
    refused(&["relays", "add", &extra], &["already in your list"]);
    refused(&["relays", "add", &home_text], &["already in your list"]);
    refused(
        &[
            "relays",
            "remove",
            "wss://nowhere.example:1/#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
        &["is not one of your extra relays"],
    );
    assert_eq!(relays(&alice).len(), 3);

    // Removal takes any spelling of a listed address.
    let removed = alice.json(&[
        "relays",
        "remove",
        &format!("wss://extra-relay.example.net:7447#{PIN}"),
    ]);
    assert_eq!(removed[0].get("type"), "relay_removed");
    assert_eq!(removed[0].get("address"), extra);
    refused(
        &["relays", "remove", &extra],
        &["is not one of your extra relays"],
    );
    assert_eq!(
        relays(&alice),
        [
            (home_text, "true".into()),
            ("ws://localhost:9/".into(), "false".into()),
        ]
    );

    // The list lives inside the encrypted profile: no file shows a host.
    for entry in walk(&alice.dir) {
        let bytes = std::fs::read(&entry).unwrap();
        let found = bytes
            .windows(b"extra-relay".len())
            .any(|w| w == b"extra-relay");
        assert!(!found, "{} holds a relay address in clear", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
