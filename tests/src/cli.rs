//! Driving `cairn-cli` as a user would: one profile directory per user, the
//! passphrase in the environment, `--json` lines read field by field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_protocol::relay_address::RelayAddress;

use crate::{RunOutput, run_binary};

/// The passphrase every test profile uses.
pub const PASS: &str = "correct horse battery staple";

/// A `cairn-cli` user with a profile directory.
pub struct CliUser {
    /// The profile directory (`--profile`).
    pub dir: PathBuf,
}

impl CliUser {
    /// Creates the profile `root/name` on `relay` (`cairn-cli init`).
    pub fn new(root: &Path, name: &str, relay: &RelayAddress) -> Self {
        Self::init(root, name, relay, &[])
    }

    /// Creates the profile without reaching its relay (`init --offline`), for
    /// tests of commands that need no relay.
    pub fn offline(root: &Path, name: &str, relay: &RelayAddress) -> Self {
        Self::init(root, name, relay, &["--offline"])
    }

    fn init(root: &Path, name: &str, relay: &RelayAddress, extra: &[&str]) -> Self {
        let user = Self {
            dir: root.join(name),
        };
        let relay = relay.to_string();
        let mut args = vec!["init", "--name", name, "--relay", &relay];
        args.extend_from_slice(extra);
        if relay.starts_with("ws://") {
            // Test relays without TLS listen on loopback only.
            args.push("--allow-plaintext-loopback");
        }
        let out = user.run(&args);
        assert!(out.success(), "init: {}", out.stderr);
        user
    }

    /// Runs one command on this profile.
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
            Duration::from_secs(90),
        )
    }

    /// Runs one command that must succeed; its stdout.
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

    /// The lines of a `--json` command.
    pub fn json(&self, args: &[&str]) -> Vec<JsonLine> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.ok(&all)
            .lines()
            .map(|l| JsonLine(l.to_owned()))
            .collect()
    }
}

/// One flat JSON object line as printed by `--json` (the harness has no JSON
/// dependency; the CLI prints compact serde_json, which this reads field by field).
#[derive(Debug, Clone)]
pub struct JsonLine(pub String);

impl JsonLine {
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

/// Texts of the `message` lines.
pub fn texts(lines: &[JsonLine]) -> Vec<String> {
    lines
        .iter()
        .filter(|v| v.get("type") == "message")
        .map(|v| v.get("text"))
        .collect()
}
