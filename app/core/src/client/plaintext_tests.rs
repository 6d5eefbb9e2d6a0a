//! Plain `ws://` relays off loopback never enter a profile: not as home
//! relay, extra relay, invite relay nor a handshake's reply relay.

use cairn_protocol::envelope::MailboxId;
use cairn_protocol::invite::Invite;
use zeroize::Zeroizing;

use super::tests::new_client;
use super::*;
use crate::store::EventKind;
use crate::testing::{carry_invite, pump};

const REMOTE: &str = "ws://203.0.113.9:7447/";

fn remote() -> RelayAddress {
    REMOTE.parse().unwrap()
}

fn is_refusal(r: &ClientError) -> bool {
    matches!(r, ClientError::PlaintextRelay(relay) if relay == REMOTE)
}

#[test]
fn init_refuses_remote_plaintext_home_relay() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Client::init(
        &InitOptions {
            dir: &tmp.path().join("p"),
            passphrase: b"pw",
            kdf: KdfParams::INSECURE_FOR_TESTS,
            name: "Alice",
            relay: remote(),
            access_token: None,
        },
        1,
    )
    .unwrap_err();
    assert!(is_refusal(&err), "{err:?}");
    assert!(err.to_string().contains("wss://HOST:PORT/#PIN"), "{err}");
    // Nothing was created.
    assert!(!tmp.path().join("p").exists());
}

#[test]
fn extra_relay_refuses_remote_plaintext_keeps_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = new_client(tmp.path(), "Alice");
    for text in [REMOTE, " ws://203.0.113.9:7447 "] {
        let err = c.add_extra_relay(text, 2).unwrap_err();
        assert!(is_refusal(&err), "{text}: {err:?}");
    }
    assert!(matches!(
        c.add_extra_relay("ws://relay.example.org:1/", 2),
        Err(ClientError::PlaintextRelay(_))
    ));
    c.add_extra_relay("ws://localhost:9/", 3).unwrap();
    c.add_extra_relay("ws://[::1]:9/", 4).unwrap();
    assert_eq!(
        c.extra_relays().unwrap(),
        ["ws://localhost:9/", "ws://[::1]:9/"]
    );
}

#[test]
fn invite_naming_remote_plaintext_relay_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bob = new_client(tmp.path(), "Bob");
    let someone = cairn_protocol::identity::Identity::generate(&mut rand::rng());
    let (invite, _pending) = Invite::create(
        &someone,
        remote(),
        MailboxId([3; 32]),
        1_000_000,
        &mut rand::rng(),
    );
    let err = bob.parse_invite(&invite.to_uri(), 2_000).unwrap_err();
    assert!(is_refusal(&err), "{err:?}");
    // Accepting an already-parsed invite checks again, and nothing is stored.
    let reply = bob.mint_mailbox();
    let err = bob.accept_invite(&invite, "x", &reply, 2_000).unwrap_err();
    assert!(is_refusal(&err), "{err:?}");
    assert!(bob.contacts().unwrap().is_empty());
    assert_eq!(bob.outbox_len().unwrap(), 0);
}

#[test]
fn handshake_naming_remote_plaintext_reply_relay_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let mb = alice.mint_mailbox();
    let created = alice
        .create_invite(&mb, &alice.mint_mailbox(), 1_000)
        .unwrap();
    let invite = carry_invite(&bob, &created, 2_000).unwrap();
    // A modified acceptor names a remote plaintext relay for Alice's replies.
    let reply = NewMailbox {
        id: MailboxId([9; 32]),
        relay: remote(),
        auth_seed: Zeroizing::new([5; 32]),
        send_key: Some(cairn_protocol::frames::SendKey::from_bytes([6; 32])),
    };
    bob.accept_invite(&invite, "alice", &reply, 2_000).unwrap();
    let report = pump(&mut bob, &mut alice, 3_000);
    assert!(alice.contacts().unwrap().is_empty());
    assert!(
        report.events.iter().any(|e| matches!(e,
            ClientEvent::Integrity { event }
                if event.contact.is_none() && event.kind == EventKind::Rejected && event.detail.contains(REMOTE))),
        "{:?}",
        report.events
    );
    // The envelope is still acked (processed), and the invite stays open.
    assert_eq!(report.acks.len(), 1);
    let open = alice.store().read().pending_invites_for(&mb.id.0).unwrap();
    assert_eq!(open.len(), 1);
}
