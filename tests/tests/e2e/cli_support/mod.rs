//! Shared helpers for the `cli_*` end-to-end tests: a CLI user with a
//! profile directory, JSON-line reading, and plaintext scanning.
#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};

#[allow(unused_imports)] // not every test uses every helper
pub use cairn_tests::cli::{CliUser as User, JsonLine as Json, PASS, texts};

pub const MARKER: &str = "PLAINTEXT-MARKER-e2e-51c0";

/// Alice invites, Bob accepts as "alice", Alice receives the handshake.
pub fn connect(alice: &User, bob: &User) {
    let invite = alice.ok(&["invite"]);
    let invite = invite.trim();
    assert!(invite.starts_with("cairn:"), "{invite}");
    bob.ok(&["accept", invite, "--name", "alice"]);
    let events = alice.json(&["recv"]);
    assert!(
        events
            .iter()
            .any(|e| e.get("type") == "contact_added" && e.get("name") == "Bob"),
        "{events:?}"
    );
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn assert_no_marker(dir: &Path) {
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
            "{} contains the plaintext marker",
            file.display()
        );
    }
}
