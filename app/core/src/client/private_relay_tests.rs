//! Relays on private and local networks named by someone else are refused
//! unless the user allowed them (PROTOCOL.md §6, "private-relay rule").

use cairn_protocol::envelope::MailboxId;
use cairn_protocol::invite::Invite;
use cairn_protocol::relay_address::NonPublicHost;
use zeroize::Zeroizing;

use super::tests::new_client;
use super::*;
use crate::store::EventKind;
use crate::testing::{carry_invite, pump};

const PIN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn invite_on(relay: &str) -> Invite {
    let someone = cairn_protocol::identity::Identity::generate(&mut rand::rng());
    let relay: RelayAddress = relay.parse().unwrap();
    Invite::create(
        &someone,
        relay,
        MailboxId([3; 32]),
        1_000_000,
        &mut rand::rng(),
    )
    .0
}

/// A profile whose home relay is on the internet.
fn public_client(dir: &std::path::Path) -> Client {
    Client::init(
        &InitOptions {
            dir,
            passphrase: b"pw",
            kdf: KdfParams::INSECURE_FOR_TESTS,
            name: "Bob",
            relay: format!("wss://relay.example.org:7447/#{PIN}")
                .parse()
                .unwrap(),
            access_token: None,
        },
        1,
    )
    .unwrap()
}

#[test]
fn invites_naming_private_relays_are_refused_until_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bob = public_client(&tmp.path().join("b"));
    assert!(!bob.allow_private_relays().unwrap());
    for (host, kind) in [
        ("192.168.1.5", NonPublicHost::Private),
        ("[fe80::1]", NonPublicHost::LinkLocal),
        ("100.64.1.1", NonPublicHost::SharedAddressSpace),
        ("127.0.0.1", NonPublicHost::Loopback),
        ("localhost", NonPublicHost::Loopback),
    ] {
        let invite = invite_on(&format!("wss://{host}:7447/#{PIN}"));
        let err = bob.parse_invite(&invite.to_uri(), 2_000).unwrap_err();
        assert!(
            matches!(&err, ClientError::PrivateRelay { kind: k, .. } if *k == kind),
            "{host}: {err:?}"
        );
        assert!(err.to_string().contains("allow-private"), "{err}");
        // Accepting an already-parsed invite checks again; nothing is stored.
        let err = bob
            .accept_invite(&invite, "x", &bob.mint_mailbox(), 2_000)
            .unwrap_err();
        assert!(matches!(err, ClientError::PrivateRelay { .. }), "{err:?}");
    }
    assert!(bob.contacts().unwrap().is_empty());
    // A public relay is fine; a private one once the user allows them (LAN testing).
    bob.parse_invite(
        &invite_on(&format!("wss://203.0.114.9:7447/#{PIN}")).to_uri(),
        2_000,
    )
    .unwrap();
    bob.set_allow_private_relays(true).unwrap();
    assert!(bob.allow_private_relays().unwrap());
    let lan = invite_on(&format!("wss://192.168.1.5:7447/#{PIN}"));
    bob.parse_invite(&lan.to_uri(), 2_000).unwrap();
    bob.accept_invite(&lan, "lan", &bob.mint_mailbox(), 2_000)
        .unwrap();
    bob.set_allow_private_relays(false).unwrap();
    assert!(!bob.allow_private_relays().unwrap());
}

#[test]
fn loopback_relays_are_allowed_when_the_home_relay_is_loopback_too() {
    let tmp = tempfile::tempdir().unwrap();
    // Home relay ws://127.0.0.1:7447/: a development setup on one machine.
    let bob = new_client(tmp.path(), "Bob");
    for relay in [
        "ws://127.0.0.1:9/".to_owned(),
        format!("wss://localhost:9/#{PIN}"),
    ] {
        bob.parse_invite(&invite_on(&relay).to_uri(), 2_000)
            .unwrap();
    }
    // ... but not the rest of the private ranges.
    let err = bob
        .parse_invite(
            &invite_on(&format!("wss://10.0.0.1:9/#{PIN}")).to_uri(),
            2_000,
        )
        .unwrap_err();
    assert!(matches!(err, ClientError::PrivateRelay { .. }), "{err:?}");
}

#[test]
fn a_handshake_naming_a_private_reply_relay_is_rejected_until_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let private = format!("wss://10.20.30.40:7447/#{PIN}");
    let handshake = |alice: &mut Client, bob: &mut Client, n: u8| {
        let mb = alice.mint_mailbox();
        let created = alice
            .create_invite(&mb, &alice.mint_mailbox(), 1_000)
            .unwrap();
        let invite = carry_invite(bob, &created, 2_000).unwrap();
        // A modified acceptor names a host on Alice's network for her replies.
        let reply = NewMailbox {
            id: bob.mint_mailbox().id,
            relay: private.parse().unwrap(),
            auth_seed: Zeroizing::new([5; 32]),
            send_key: Some(cairn_protocol::frames::SendKey::from_bytes([6; 32])),
        };
        bob.accept_invite(&invite, &format!("alice{n}"), &reply, 2_000)
            .unwrap();
        (mb, pump(bob, alice, 3_000))
    };
    let (mb, report) = handshake(&mut alice, &mut bob, 1);
    assert!(alice.contacts().unwrap().is_empty());
    assert!(
        report.events.iter().any(|e| matches!(e,
            ClientEvent::Integrity { event }
                if event.contact.is_none() && event.kind == EventKind::Rejected && event.detail.contains(&private)
                    && event.detail.contains("private network"))),
        "{:?}",
        report.events
    );
    // The invite stays open for the real acceptor.
    assert_eq!(
        alice
            .store()
            .read()
            .pending_invites_for(&mb.id.0)
            .unwrap()
            .len(),
        1
    );
    alice.set_allow_private_relays(true).unwrap();
    let (_, report) = handshake(&mut alice, &mut bob, 2);
    assert!(
        matches!(&report.events[..], [ClientEvent::ContactAdded { .. }]),
        "{:?}",
        report.events
    );
}
