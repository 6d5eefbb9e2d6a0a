//! The admin listener of a real relay process (issue 16 item 6): an admin
//! token for everything but `/healthz`, its own connection cap, and no
//! unauthenticated listener off loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use cairn_tests::binaries::binary;
use cairn_tests::{RelayOptions, RelayProcess, run_binary};

fn with_args(args: &[&str]) -> RelayOptions {
    RelayOptions {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..RelayOptions::default()
    }
}

#[test]
fn metrics_need_an_admin_token_and_healthz_does_not() {
    let relay = RelayProcess::start(with_args(&["--admin-auth", "token"]));
    let admin = relay.create_token("admin");
    let user = relay.create_token("user");

    assert_eq!(
        relay.admin_request("GET", "/healthz", None),
        (200, "ok\n".into())
    );
    let (status, body) = relay.admin_request("GET", "/metrics", None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("admin token"), "the refusal says why: {body}");
    assert_eq!(relay.admin_request("GET", "/metrics", Some(&user)).0, 403);
    assert_eq!(
        relay
            .admin_request("GET", "/metrics", Some("cairn_wrong"))
            .0,
        401
    );
    let (status, text) = relay.admin_request("GET", "/metrics", Some(&admin));
    assert_eq!(status, 200);
    assert!(
        text.contains("cairn_relay_admin_unauthorized_total 3\n"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
    assert_eq!(relay.admin_request("GET", "/nowhere", Some(&admin)).0, 404);
    assert_eq!(relay.admin_request("POST", "/metrics", Some(&admin)).0, 405);

    // `cairn-relay bans` reads the token from a file, never from its arguments.
    let bans = |extra: &[&str]| {
        let addr = relay.admin_addr().to_string();
        let mut args = vec!["bans", "list", "--admin", addr.as_str()];
        args.extend_from_slice(extra);
        run_binary(
            "cairn-relay",
            "cairn-relay",
            &args,
            &[],
            None,
            Duration::from_secs(60),
        )
    };
    let refused = bans(&[]);
    assert!(!refused.success());
    assert!(
        refused.stderr.contains("--token-file"),
        "{}",
        refused.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-token");
    std::fs::write(&file, format!("{admin}\n")).unwrap();
    let listed = bans(&["--token-file", file.to_str().unwrap()]);
    assert!(listed.success(), "{}", listed.stderr);
    assert_eq!(listed.stdout.trim(), "no bans in force");
}

#[test]
fn the_admin_listener_has_its_own_connection_cap() {
    let relay = RelayProcess::start(with_args(&["--admin-max-connections", "2"]));
    // Two idle connections take both slots …
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(relay.admin_addr()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // … so a third is closed at once, unanswered.
    let mut third = TcpStream::connect(relay.admin_addr()).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(third.read(&mut buf).unwrap_or(0), 0, "closed, not served");
    drop(held);
    // Slots free again once the holders leave.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if relay.admin_request("GET", "/metrics", None).0 == 200 {
            let refused = relay.metric("cairn_relay_admin_refused_total").unwrap();
            assert!(refused >= 1, "the third connection was counted: {refused}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slots never freed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_unauthenticated_admin_listener_off_loopback_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(binary("cairn-relay", "cairn-relay"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "0.0.0.0:0", "--admin-auth", "none"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--admin-auth token"), "{stderr}");
}
