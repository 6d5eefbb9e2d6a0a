//! The policy file (issue 16 item 3) on a real relay process: the two
//! shipped examples, `policy check`, and a reload on SIGHUP that keeps
//! connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_protocol::frames::{ClientFrame, ErrorCode, RelayFrame};
use cairn_tests::binaries::workspace_root;
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::relay::signal;
use cairn_tests::wire::{connect, request};
use cairn_tests::{RelayOptions, RelayProcess, run_binary};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

fn example(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("relay/dist").join(name)).unwrap()
}

fn relay_with(policy: &Path, extra: &[&str]) -> RelayProcess {
    let mut args = vec!["--policy".to_owned(), policy.display().to_string()];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    RelayProcess::start(RelayOptions::plaintext().args(args))
}

/// One `Send` from `source` over a raw plaintext WebSocket; the relay's answer.
async fn send_from(source: &str, relay: SocketAddr) -> Option<ErrorCode> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let tcp = socket.connect(relay).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{relay}/"), tcp)
        .await
        .unwrap();
    let (m, _) = mailbox();
    let env = envelope(m, message_id(), 1024, b"x");
    let frame = request(5, ClientFrame::Send { envelope: &env });
    ws.send(Message::Binary(Bytes::from(frame))).await.unwrap();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Binary(raw) = msg {
            match RelayFrame::decode(&raw).unwrap() {
                (5, RelayFrame::Ok) => return None,
                (5, RelayFrame::Error { code, .. }) => return Some(code),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn family_relay_only_family_tokens_create_and_anyone_sends() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, example("policy-family.toml")).unwrap();
    let relay = relay_with(&file, &[]);
    let family = relay.create_token_labelled("user", "family");
    let neighbour = relay.create_token_labelled("user", "neighbours");
    let (c, _in) = connect(relay.address()).await;
    let (m, key) = mailbox();
    let refused = c
        .create_mailbox(m, &key.verifying_key(), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Denied), "{refused}");
    let refused = c
        .create_mailbox(m, &key.verifying_key(), Some(&neighbour))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Denied));
    c.create_mailbox(m, &key.verifying_key(), Some(&family))
        .await
        .expect("a family token creates");
    // Anyone may send to a family member.
    let addr: SocketAddr = format!("127.0.0.1:{}", relay.address().port())
        .parse()
        .unwrap();
    assert_eq!(
        send_from("127.0.0.5", addr).await,
        Some(ErrorCode::NoSuchMailbox),
        "not Denied"
    );
    c.send(envelope(m, message_id(), 1024, b"hi"))
        .await
        .unwrap();
    assert!(
        relay
            .metric("cairn_relay_refusals_total{reason=\"denied\"}")
            .unwrap()
            >= 2
    );

    // `policy check` says the same, rule by rule.
    let check = run_binary(
        "cairn-relay",
        "cairn-relay",
        [
            "policy",
            "check",
            file.to_str().unwrap(),
            "--action",
            "create",
            "--role",
            "user",
            "--label",
            "neighbours",
            "--time",
            "12:00",
        ],
        &[],
        None,
        Duration::from_secs(60),
    );
    assert!(check.success(), "{}", check.stderr);
    assert!(check.stdout.contains("2 rules, valid"), "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("does not match: it needs a token labelled [\"family\"]"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("DENIED by rule 2 (\"nobody else creates\")"),
        "{}",
        check.stdout
    );
}

#[tokio::test]
async fn office_relay_admits_senders_only_from_its_network() {
    // The shipped example with the office network moved onto loopback:
    // 127.0.0.1 is the office, 127.0.0.2 is outside.
    let text = example("policy-office.toml")
        .replace("10.20.0.0/16", "127.0.0.1/32")
        .replace(", \"2001:db8:20::/48\"", "");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, text).unwrap();
    let relay = relay_with(&file, &[]);
    let laptop = relay.create_token_full("user", "office-laptop-7", Some("90d"));
    let forever = relay.create_token_full("user", "office-desk", None);
    let (c, _in) = connect(relay.address()).await;
    let (m, key) = mailbox();
    assert_eq!(
        c.create_mailbox(m, &key.verifying_key(), Some(&forever))
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::Denied),
        "a token that never expires"
    );
    c.create_mailbox(m, &key.verifying_key(), Some(&laptop))
        .await
        .unwrap();
    c.send(envelope(m, message_id(), 1024, b"inside"))
        .await
        .expect("inside the network");
    let addr: SocketAddr = format!("127.0.0.1:{}", relay.address().port())
        .parse()
        .unwrap();
    assert_eq!(
        send_from("127.0.0.2", addr).await,
        Some(ErrorCode::Denied),
        "outside"
    );
    assert_eq!(
        relay.metric("cairn_relay_bans_total"),
        Some(0),
        "a policy's answer is not an offence"
    );
}

#[tokio::test]
async fn sighup_reloads_the_policy_and_keeps_connections() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, example("policy-family.toml")).unwrap();
    let relay = relay_with(&file, &[]);
    // A hangup as soon as the address is out reloads; it must not kill the
    // relay (SIGHUP's default action) before it serves.
    signal(relay.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !relay.logs().contains("policy file reloaded") {
        assert!(alive(relay.pid()), "the relay died of an early SIGHUP");
        assert!(Instant::now() < deadline, "no reload in the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (c, _in) = connect(relay.address()).await;
    let (m, key) = mailbox();
    assert_eq!(
        c.create_mailbox(m, &key.verifying_key(), None)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::Denied)
    );
    // A broken file is refused whole; the old policy stays.
    std::fs::write(
        &file,
        "[[rule]]\nactions = [\"create\"]\ndecision = \"perhaps\"\n",
    )
    .unwrap();
    signal(relay.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !relay.logs().contains("NOT reloaded") {
        assert!(Instant::now() < deadline, "no reload error in the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        c.create_mailbox(m, &key.verifying_key(), None)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::Denied)
    );
    // An empty policy allows what the flags allow, on the same connection.
    std::fs::write(&file, "").unwrap();
    signal(relay.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.create_mailbox(m, &key.verifying_key(), None).await {
            Ok(()) => break,
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::Denied)),
        }
        assert!(Instant::now() < deadline, "the new policy never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!c.is_closed(), "the connection survived both reloads");
    assert_eq!(relay.logs().matches("policy file reloaded").count(), 2);
}

/// Whether a child process is still running (not exited, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

#[test]
fn a_relay_with_a_broken_policy_file_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(
        &file,
        "[[rule]]\nactions = [\"fly\"]\ndecision = \"allow\"\n",
    )
    .unwrap();
    let out = run_binary(
        "cairn-relay",
        "cairn-relay",
        [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-admin",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--policy",
            file.to_str().unwrap(),
        ],
        &[],
        None,
        Duration::from_secs(60),
    );
    assert!(!out.success());
    assert!(out.stderr.contains("fly"), "{}", out.stderr);
}
