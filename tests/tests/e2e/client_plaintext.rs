//! Plain `ws://` only to this machine, end to end: the relay client dials a
//! loopback plaintext relay but refuses the same relay reached through a
//! non-loopback address, and `cairn-cli` refuses an invite naming such a relay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_protocol::envelope::MailboxId;
use cairn_protocol::identity::Identity;
use cairn_protocol::invite::Invite;
use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_relay_client::{ClientError, ConnectOptions, RelayClient};
use cairn_tests::cli::CliUser;
use cairn_tests::fixtures::mailbox;
use cairn_tests::{RelayOptions, RelayProcess};

/// The same relay at another host name or IP.
fn at(host: &str, relay: &RelayAddress) -> RelayAddress {
    RelayAddress::new(host, relay.port(), Transport::Plaintext).unwrap()
}

#[tokio::test]
async fn client_plaintext_only_to_loopback_hosts() {
    let relay = RelayProcess::start(RelayOptions::plaintext());
    assert_eq!(relay.address().transport(), Transport::Plaintext);

    // Loopback works, by IP and by name.
    for address in [relay.address().clone(), at("localhost", relay.address())] {
        let (client, _deliveries) = RelayClient::connect(&address, ConnectOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{address}: {e}"));
        let (mbox, key) = mailbox();
        client
            .create_mailbox(mbox, &key.verifying_key(), None)
            .await
            .unwrap();
    }

    // Linux routes 0.0.0.0 to this machine, so the relay *is* reachable
    // there over raw TCP: refusing it is the client's own decision.
    let port = relay.address().port();
    let raw = tokio::net::TcpStream::connect(("0.0.0.0", port)).await;
    assert!(raw.is_ok(), "0.0.0.0:{port} not reachable: {raw:?}");
    drop(raw);
    for host in ["0.0.0.0", "203.0.113.9", "relay.example.org"] {
        let address = at(host, relay.address());
        let started = std::time::Instant::now();
        let err = RelayClient::connect(&address, ConnectOptions::default())
            .await
            .err()
            .expect("refused");
        match &err {
            ClientError::PlaintextNotLoopback { relay } => assert_eq!(relay, &address.to_string()),
            other => panic!("{address}: expected PlaintextNotLoopback, got {other:?}"),
        }
        assert!(!err.is_retryable());
        // Refused before dialling: no connect timeout, no DNS wait.
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn client_plaintext_invite_off_loopback_is_refused_by_cli() {
    let relay = RelayProcess::start(RelayOptions::default());
    let tmp = tempfile::tempdir().unwrap();
    let bob = CliUser::new(tmp.path(), "Bob", relay.address());

    // A validly signed invite whose relay is plain ws:// to a remote host.
    let someone = Identity::generate(&mut rand::rng());
    let remote = RelayAddress::new("203.0.113.9", 7447, Transport::Plaintext).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (invite, _pending) = Invite::create(
        &someone,
        remote,
        MailboxId([4; 32]),
        now + 3600,
        &mut rand::rng(),
    );
    let out = bob.run(&["accept", &invite.to_uri(), "--name", "Mallory"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("refusing plain ws:// relay ws://203.0.113.9:7447/"),
        "{}",
        out.stderr
    );
    // Nothing was stored: no contact, and the invite was not used up.
    assert!(bob.json(&["contacts"]).is_empty());

    // The same rule for a home relay at `init`.
    let out = CliUser {
        dir: tmp.path().join("Carol"),
    }
    .run(&["init", "--name", "Carol", "--relay", "ws://0.0.0.0:7447/"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("refusing plain ws:// relay ws://0.0.0.0:7447/"),
        "{}",
        out.stderr
    );
    assert!(!tmp.path().join("Carol").exists());
}
