//! The `cairn-relay` binary's command line: token management on a data
//! directory. (Also makes `cargo test --workspace` build the binaries the
//! end-to-end tests in `tests/` start.)

#![allow(
    clippy::expect_used,
    reason = "test helper: failing to run the binary fails the test"
)]

use std::process::Command;

fn relay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-relay"))
        .args(args)
        .output()
        .expect("run cairn-relay")
}

#[test]
fn token_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = relay(&[
        "token",
        "--data-dir",
        d,
        "create",
        "--role",
        "admin",
        "--expires",
        "30d",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap();
    assert!(secret.trim().starts_with("cairn_"));

    let out = relay(&["token", "--data-dir", d, "list"]);
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.contains("admin") && list.contains("active"), "{list}");
    assert!(!list.contains(secret.trim()), "secrets are never listed");
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    assert!(
        relay(&["token", "--data-dir", d, "revoke", &id])
            .status
            .success()
    );
    let list = String::from_utf8(relay(&["token", "--data-dir", d, "list"]).stdout).unwrap();
    assert!(list.contains("revoked"), "{list}");
    assert!(
        !relay(&["token", "--data-dir", d, "revoke", "nope"])
            .status
            .success()
    );
}

#[test]
fn help_and_version() {
    let out = relay(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("cairn-relay "));
    let out = relay(&["serve", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--insecure-plaintext") && help.contains("CAIRN_RELAY_LISTEN"));
}
