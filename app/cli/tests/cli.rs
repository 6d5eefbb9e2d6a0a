//! The `cairn-cli` binary's edges that need no relay: version, usage errors,
//! a missing profile, a refused relay address. (Also makes
//! `cargo test --workspace` build the binary the end-to-end tests in `tests/`
//! start, with the workspace's features, so they need not build it again.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-cli"))
        .args(args)
        .env("CAIRN_PASSPHRASE", "correct horse battery staple")
        .env_remove("CAIRN_PROFILE")
        .output()
        .expect("run cairn-cli")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_names_the_package_version() {
    let out = cli(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("cairn-cli {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let out = cli(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unrecognized subcommand 'frobnicate'"));
}

#[test]
fn a_missing_profile_is_reported_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("nobody");
    let out = cli(&["--profile", profile.to_str().unwrap(), "invite"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no Cairn profile in"),
        "{}",
        stderr(&out)
    );
    assert!(!profile.exists());
}

#[test]
fn a_remote_plaintext_relay_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let out = cli(&[
        "--profile",
        profile.to_str().unwrap(),
        "init",
        "--name",
        "alice",
        "--relay",
        "ws://203.0.113.9:7447/",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refusing plain ws:// relay"),
        "{}",
        stderr(&out)
    );
    assert!(!profile.exists());
}
