//! Shared helpers for the `cli_*` end-to-end tests: a CLI user with a
//! profile directory, JSON-line reading, and plaintext scanning.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_tests::{RelayProcess, RunOutput, run_binary};

pub const PASS: &str = "correct horse battery staple";
pub const MARKER: &str = "PLAINTEXT-MARKER-e2e-51c0";

/// A CLI user with a profile directory.
pub struct User {
    pub dir: PathBuf,
}

impl User {
    pub fn new(root: &Path, name: &str, relay: &RelayProcess) -> Self {
        let user = Self {
            dir: root.join(name),
        };
        let out = user.run(&[
            "init",
            "--name",
            name,
            "--relay",
            &relay.address().to_string(),
        ]);
        assert!(out.success(), "init: {}", out.stderr);
        user
    }

    pub fn run(&self, args: &[&str]) -> RunOutput {
        let profile = self.dir.to_string_lossy().into_owned();
        let mut all = vec!["--profile", profile.as_str()];
        all.extend_from_slice(args);
        run_binary(
            "cairn-cli",
            "cairn-cli",
            &all,
            &[("CAIRN_PASSPHRASE", PASS)],
            None,
            Duration::from_secs(60),
        )
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.success(),
            "{args:?} failed: {}\n{}",
            out.stderr,
            out.stdout
        );
        out.stdout
    }

    /// JSON lines of a `--json` command.
    pub fn json(&self, args: &[&str]) -> Vec<Json> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.ok(&all).lines().map(|l| Json(l.to_owned())).collect()
    }
}

/// One flat JSON object line as printed by `--json` (the tests crate has no JSON
/// dependency; the CLI prints compact serde_json, which this reads field by field).
#[derive(Debug)]
pub struct Json(pub String);

impl Json {
    /// A top-level field as text: strings unquoted, numbers and booleans as written.
    pub fn get(&self, key: &str) -> String {
        let pat = format!("\"{key}\":");
        let Some(start) = self.0.find(&pat).map(|i| i + pat.len()) else {
            return String::new();
        };
        let rest = &self.0[start..];
        if let Some(body) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            out
        } else {
            rest.split([',', '}']).next().unwrap_or_default().to_owned()
        }
    }
}

/// Texts of messages in `--json` output.
pub fn texts(lines: &[Json]) -> Vec<String> {
    lines
        .iter()
        .filter(|v| v.get("type") == "message")
        .map(|v| v.get("text"))
        .collect()
}

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
