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

fn cli_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn-cli"));
    cmd.args(args)
        .env("CAIRN_PASSPHRASE", "correct horse battery staple")
        .env_remove("CAIRN_PROFILE")
        .env_remove("CAIRN_BACKUP_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cairn-cli")
}

#[test]
fn a_weak_passphrase_is_refused_at_init_and_export_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p");
    let p = profile.to_str().unwrap();
    let init = [
        "--profile",
        p,
        "init",
        "--name",
        "alice",
        "--relay",
        "ws://127.0.0.1:7447/",
        "--offline",
    ];
    // Twelve characters with letters and digits: the desktop's old meter said "Fair".
    let out = cli_with(&init, &[("CAIRN_PASSPHRASE", "password1234")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("too easy to guess"), "{err}");
    assert!(err.contains("four or more random words"), "{err}");
    assert!(!profile.exists());
    // The same rule for the passphrase protecting a backup.
    assert!(cli_with(&init, &[]).status.success(), "init");
    let backup = dir.path().join("backup.cairn");
    let export = ["--profile", p, "export", backup.to_str().unwrap()];
    let out = cli_with(&export, &[("CAIRN_BACKUP_PASSPHRASE", "Summer2024!")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("weak passphrase") && err.contains("CAIRN_BACKUP_PASSPHRASE"),
        "{err}"
    );
    assert!(!backup.exists());
    let out = cli_with(
        &export,
        &[("CAIRN_BACKUP_PASSPHRASE", "velvet harbour 42 lanterns")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(backup.exists());
}
