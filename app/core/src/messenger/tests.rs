//! The messenger against a real relay running in this process (plaintext
//! loopback): push-driven delivery, receipts, separate connections, outages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_protocol::envelope::{BodyKind, MailboxId, MessageId, write_header};
use cairn_protocol::frames::{ErrorCode, SendKey};
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay::Relay;
use cairn_relay::config::{RelayConfig, TransportConfig};
use cairn_relay_client::{ConnectOptions, RelayClient};
use tokio::sync::oneshot;

use super::*;
use crate::store::MessageStatus;
use crate::testing::{FrameLog, new_client_on};

/// A relay on loopback that can be stopped and started again on the same port.
struct TestRelay {
    dir: PathBuf,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
}

impl TestRelay {
    async fn start(dir: &Path, port: u16) -> (Self, RelayAddress) {
        Self::start_with(dir, port, |_| {}).await
    }

    /// Without the per-connection and per-address send rates, for a test
    /// that queues a backlog faster than a person would.
    async fn start_unthrottled(dir: &Path) -> (Self, RelayAddress) {
        Self::start_with(dir, 0, |c| {
            c.limits.per_connection.per_second = 0.0;
            c.limits.per_ip.per_second = 0.0;
        })
        .await
    }

    async fn start_with(
        dir: &Path,
        port: u16,
        adjust: impl FnOnce(&mut RelayConfig),
    ) -> (Self, RelayAddress) {
        let mut config = RelayConfig::new(format!("127.0.0.1:{port}").parse().unwrap(), dir.into());
        config.transport = TransportConfig::Plaintext;
        adjust(&mut config);
        let relay = Relay::bind(config).await.unwrap();
        let address = relay.address().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(relay.run(async {
            let _ = stopped.await;
        }));
        let port = address.port();
        (
            Self {
                dir: dir.into(),
                port,
                stop: Some(stop),
            },
            address,
        )
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    async fn restart(&mut self) {
        self.stop();
        let (again, _) = Self::start(&self.dir, self.port).await;
        *self = again;
    }
}

fn config() -> MessengerConfig {
    MessengerConfig {
        dial: DialOptions {
            allow_plaintext_loopback: true,
            ..DialOptions::default()
        },
        ..MessengerConfig::default()
    }
}

/// A client on `relay` whose receipts leave within 20–60 ms.
fn client(dir: &Path, name: &str, relay: &RelayAddress) -> Client {
    let mut c = new_client_on(dir, name, relay.clone(), 1_000);
    c.set_receipt_delay(Duration::from_millis(20), Duration::from_millis(60));
    c
}

/// Waits (at most 20 s) for an event `pick` accepts; returns what it picked.
async fn expect<T>(
    events: &mut Events,
    what: &str,
    mut pick: impl FnMut(&MessengerEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => {
                if let Some(t) = pick(&event) {
                    return t;
                }
            }
            Ok(None) => panic!("messenger stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn message_text(e: &MessengerEvent) -> Option<String> {
    match e {
        MessengerEvent::Client(ClientEvent::Message { message }) => Some(message.body.clone()),
        _ => None,
    }
}

fn status(e: &MessengerEvent) -> Option<MessageStatus> {
    match e {
        MessengerEvent::Client(ClientEvent::StatusChanged { status, .. }) => Some(*status),
        _ => None,
    }
}

/// Someone who knows `mailbox`'s id writes an envelope-shaped 1 KiB to it
/// on a connection of their own (with `key`, if any): the relay's error code,
/// `None` if it stored it.
async fn stranger_sends(
    relay: &RelayAddress,
    mailbox: [u8; 32],
    key: Option<&SendKey>,
) -> Option<ErrorCode> {
    let (stranger, _deliveries) = RelayClient::connect(relay, ConnectOptions::default())
        .await
        .unwrap();
    let mut junk = Vec::new();
    let id = MessageId(rand::random());
    write_header(&mut junk, &MailboxId(mailbox), &id, BodyKind::Ratchet);
    junk.resize(1024, 0x5a);
    let result = match key {
        Some(key) => stranger.send_locked(key, junk.into()).await,
        None => stranger.send(junk.into()).await,
    };
    stranger.close().await;
    result
        .err()
        .map(|e| e.code().expect("a refusal, not a lost connection"))
}

struct Pair {
    alice: Messenger,
    alice_events: Events,
    bob: Messenger,
    bob_events: Events,
    /// Bob's contact Alice.
    to_alice: ContactId,
    /// Alice's contact Bob.
    to_bob: ContactId,
}

impl Pair {
    /// Bob writes `text`; returns once Alice has it.
    async fn bob_writes(&mut self, text: &str) {
        self.bob
            .send_texts(self.to_alice, vec![text.into()])
            .await
            .unwrap();
        expect(&mut self.alice_events, "Bob's message", |e| {
            message_text(e).filter(|t| t == text)
        })
        .await;
    }

    /// Bob has sent everything and Alice has read it all: his confirmation
    /// of her move off the invite's mailbox included.
    async fn quiet(&self) {
        self.bob.wait_sent(true).await.unwrap();
        self.alice
            .wait_received(Duration::from_millis(300), Duration::from_secs(2))
            .await
            .unwrap();
    }
}

/// Alice invites through `relay` (or `via`, a proxy in front of it), Bob accepts.
async fn pair(dir: &Path, relay: &RelayAddress) -> Pair {
    let (alice, mut alice_events) =
        Messenger::start(client(&dir.join("a"), "Alice", relay), config());
    let (bob, mut bob_events) = Messenger::start(client(&dir.join("b"), "Bob", relay), config());
    let invite = alice.create_invite(None).await.unwrap();
    let to_alice = bob.accept_invite(&invite.uri, "alice").await.unwrap().id;
    let to_bob = expect(&mut alice_events, "Bob's handshake", |e| match e {
        MessengerEvent::Client(ClientEvent::ContactAdded { contact }) => Some(contact.id),
        _ => None,
    })
    .await;
    expect(&mut bob_events, "handshake acknowledged", |e| match e {
        MessengerEvent::Outbox { queued: 0 } => Some(()),
        _ => None,
    })
    .await;
    Pair {
        alice,
        alice_events,
        bob,
        bob_events,
        to_alice,
        to_bob,
    }
}

#[tokio::test]
async fn messages_and_receipts_arrive_as_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let mut p = pair(dir.path(), &address).await;

    let sent = p
        .bob
        .send_texts(p.to_alice, vec!["hello alice".into()])
        .await
        .unwrap();
    assert_eq!(sent[0].status, MessageStatus::Pending);
    let got = expect(&mut p.alice_events, "Bob's message", message_text).await;
    assert_eq!(got, "hello alice");
    expect(&mut p.bob_events, "delivered receipt", |e| {
        (status(e) == Some(MessageStatus::Delivered)).then_some(())
    })
    .await;
    assert_eq!(p.alice.mark_read(p.to_bob).await.unwrap(), 1);
    expect(&mut p.bob_events, "read receipt", |e| {
        (status(e) == Some(MessageStatus::Read)).then_some(())
    })
    .await;
    // And back, on the same connections.
    p.alice
        .send_texts(p.to_bob, vec!["hi bob".into()])
        .await
        .unwrap();
    assert_eq!(
        expect(&mut p.bob_events, "Alice's reply", message_text).await,
        "hi bob"
    );
}

#[tokio::test]
async fn no_connection_both_subscribes_and_sends() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let proxy = FrameLog::start(&address).await;
    let mut p = pair(dir.path(), proxy.address()).await;
    for i in 0..3 {
        p.bob
            .send_texts(p.to_alice, vec![format!("b{i}")])
            .await
            .unwrap();
        expect(&mut p.alice_events, "message", message_text).await;
        p.alice
            .send_texts(p.to_bob, vec![format!("a{i}")])
            .await
            .unwrap();
        expect(&mut p.bob_events, "message", message_text).await;
    }
    p.alice.mark_read(p.to_bob).await.unwrap();
    p.alice.wait_sent(true).await.unwrap();
    p.bob.wait_sent(true).await.unwrap();
    let connections = proxy.connections();
    assert!(
        connections.iter().any(|c| c.contains(&"subscribe")),
        "{connections:?}"
    );
    assert!(
        connections.iter().any(|c| c.contains(&"send")),
        "{connections:?}"
    );
    assert!(
        connections.iter().any(|c| c.contains(&"create")),
        "{connections:?}"
    );
    assert!(
        proxy.linking().is_empty(),
        "a connection both subscribed and sent or created: {connections:?}"
    );
    // Creating a mailbox is never done on a connection that does anything else.
    for c in &connections {
        if c.contains(&"create") {
            assert!(c.iter().all(|k| *k == "create"), "{c:?}");
        }
    }
}

#[tokio::test]
async fn a_relay_outage_delays_but_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let mut p = pair(dir.path(), &address).await;

    relay.stop();
    p.bob
        .send_texts(p.to_alice, vec!["sent during the outage".into()])
        .await
        .unwrap();
    expect(&mut p.bob_events, "the relay reported down", |e| match e {
        MessengerEvent::Relay {
            state: RelayState::Down { .. },
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    assert!(p.bob.wait_sent(false).await.is_err(), "the send failed");
    relay.restart().await;
    // Nobody does anything: the retry and the reconnect bring it.
    assert_eq!(
        expect(
            &mut p.alice_events,
            "the message after the outage",
            message_text
        )
        .await,
        "sent during the outage"
    );
    expect(&mut p.bob_events, "sent after the outage", |e| {
        (status(e) == Some(MessageStatus::Sent)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn messages_written_during_and_after_an_outage_arrive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let mut p = pair(dir.path(), &address).await;

    relay.stop();
    p.bob
        .send_texts(p.to_alice, vec!["one".into()])
        .await
        .unwrap();
    assert!(p.bob.wait_sent(false).await.is_err(), "the send failed");
    relay.restart().await;
    // Written at once: it must not overtake "one", which waits for its retry.
    p.bob
        .send_texts(p.to_alice, vec!["two".into()])
        .await
        .unwrap();

    let mut texts = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while texts.len() < 2 {
        match tokio::time::timeout_at(deadline, p.alice_events.recv()).await {
            Ok(Some(MessengerEvent::Client(ClientEvent::Message { message }))) => {
                texts.push(message.body);
            }
            Ok(Some(MessengerEvent::Client(ClientEvent::Integrity { event }))) => {
                panic!("an outage is not tampering: {event:?} after {texts:?}")
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("only {texts:?} arrived"),
        }
    }
    assert_eq!(texts, ["one", "two"]);
}

#[tokio::test]
async fn waiting_for_the_backlog_does_not_end_while_a_batch_is_being_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start_unthrottled(&dir.path().join("relay")).await;
    let p = pair(dir.path(), &address).await;
    let alice = p.alice.stop().await.unwrap();
    drop(p.alice_events);
    let texts: Vec<String> = (0..3_000).map(|i| format!("backlog {i}")).collect();
    p.bob.send_texts(p.to_alice, texts).await.unwrap();
    p.bob.wait_sent(false).await.unwrap();

    // Storing a batch of 1,000 takes longer than the quiet window: the wait
    // must still cover the whole backlog, not end after the first batch.
    let batches = MessengerConfig {
        batch: 1_000,
        ..config()
    };
    let (alice, _events) = Messenger::start(alice, batches);
    let got = alice
        .wait_received(Duration::from_millis(200), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got, 3_000);
}

#[tokio::test]
async fn a_crash_before_the_ack_shows_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let p = pair(dir.path(), &address).await;
    let alice = p.alice.stop().await.unwrap();
    drop(p.alice_events);
    p.bob
        .send_texts(p.to_alice, vec!["one".into(), "two".into()])
        .await
        .unwrap();
    p.bob.wait_sent(false).await.unwrap();

    // Stored, but the "process" dies before acking.
    let no_ack = MessengerConfig {
        ack: false,
        ..config()
    };
    let (alice, _events) = Messenger::start(alice, no_ack);
    let quiet = Duration::from_millis(300);
    assert_eq!(
        alice
            .wait_received(quiet, Duration::from_secs(10))
            .await
            .unwrap(),
        2
    );
    let alice = alice.stop().await.unwrap();

    // The relay delivers them again: acked, not shown again.
    let (alice, _events) = Messenger::start(alice, config());
    assert_eq!(
        alice
            .wait_received(quiet, Duration::from_millis(500))
            .await
            .unwrap(),
        0
    );
    let timeline = alice
        .query(move |c| {
            let id = c.contact_named("Bob").unwrap().id;
            c.timeline(id).unwrap()
        })
        .await
        .unwrap();
    let texts: Vec<&str> = timeline
        .iter()
        .filter_map(|i| match i {
            crate::client::TimelineItem::Message(m) => Some(m.body.as_str()),
            crate::client::TimelineItem::Event(_) => None,
        })
        .collect();
    assert_eq!(texts, ["one", "two"], "each message once: {timeline:?}");
    assert_eq!(timeline.len(), 2, "DEBUG {timeline:?}");
    let alice = alice.stop().await.unwrap();
    let (alice, _events) = Messenger::start(alice, config());
    assert_eq!(
        alice
            .wait_received(quiet, Duration::from_millis(500))
            .await
            .unwrap(),
        0,
        "nothing left at the relay"
    );
}

/// Every conversation mailbox is send-locked (PROTOCOL.md §2, §18.3): its id —
/// which the relay, and anyone who ever saw an envelope, knows — does not let
/// a stranger write to it; the two contacts still do.
#[tokio::test]
async fn conversation_mailboxes_refuse_senders_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let mut p = pair(dir.path(), &address).await;
    // One message each way: Alice has moved off the invite's mailbox and Bob
    // follows her there.
    p.bob_writes("b").await;
    p.alice
        .send_texts(p.to_bob, vec!["a".into()])
        .await
        .unwrap();
    expect(&mut p.bob_events, "Alice's message", message_text).await;
    let (to_alice, to_bob) = (p.to_alice, p.to_bob);
    let alices = p
        .bob
        .query(move |c| c.contact(to_alice).map(|c| c.their_mailbox))
        .await
        .unwrap()
        .unwrap();
    let bobs = p
        .alice
        .query(move |c| c.contact(to_bob).map(|c| c.their_mailbox))
        .await
        .unwrap()
        .unwrap();

    for mailbox in [alices, bobs] {
        let guessed = SendKey::generate(&mut rand::rng());
        for key in [None, Some(&guessed)] {
            let refused = stranger_sends(&address, mailbox, key).await;
            assert_eq!(refused, Some(ErrorCode::SendKeyRefused));
        }
    }

    // The contacts themselves, holding the keys, go on writing.
    p.bob
        .send_texts(p.to_alice, vec!["still here".into()])
        .await
        .unwrap();
    expect(&mut p.alice_events, "Bob's message", |e| {
        message_text(e).filter(|t| t == "still here")
    })
    .await;
    p.alice
        .send_texts(p.to_bob, vec!["me too".into()])
        .await
        .unwrap();
    expect(&mut p.bob_events, "Alice's message", |e| {
        message_text(e).filter(|t| t == "me too")
    })
    .await;
}

/// A conversation from before send-locked mailboxes (its receiving mailbox
/// open) moves to a locked one by itself when the messenger tidies up, and
/// the contact follows: from then on a stranger who knows the mailbox in use
/// cannot write to it (PROTOCOL.md §10.4, §19).
#[tokio::test]
async fn a_conversation_on_an_open_mailbox_moves_to_a_locked_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let mut p = pair(dir.path(), &address).await;
    p.bob_writes("b").await;
    p.quiet().await;
    let (to_alice, to_bob) = (p.to_alice, p.to_bob);
    let mut alice = p.alice.stop().await.unwrap();
    // Alice's mailbox for Bob as a conversation from before send locks has it.
    let old = alice.contact(to_bob).unwrap().my_mailbox;
    alice
        .store_mut()
        .write(|db| db.drop_send_lock_for_tests(&old))
        .unwrap();
    // Later than the end of the move off the invite's mailbox.
    let later = (system_clock())() + 2 * crate::client::MOVE_GRACE_MS;
    let (alice, mut alice_events) = Messenger::start(
        alice,
        MessengerConfig {
            clock: std::sync::Arc::new(move || later),
            ..config()
        },
    );
    // Alice moves when she tidies up at start...
    let mut new = old;
    for _ in 0..200 {
        new = alice
            .query(move |c| c.contact(to_bob).map(|c| c.my_mailbox))
            .await
            .unwrap()
            .unwrap();
        if new != old {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(new, old, "Alice never moved");
    // ...and Bob follows.
    expect(&mut p.bob_events, "Alice's move", |e| match e {
        MessengerEvent::Client(ClientEvent::ContactChanged { contact })
            if contact.their_mailbox == new =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    p.bob
        .send_texts(to_alice, vec!["on the locked one".into()])
        .await
        .unwrap();
    expect(&mut alice_events, "Bob's message", |e| {
        message_text(e).filter(|t| t == "on the locked one")
    })
    .await;
    assert_eq!(
        stranger_sends(&address, new, None).await,
        Some(ErrorCode::SendKeyRefused)
    );
}

/// Changing the home relay moves the conversation: the contact follows a
/// signed mailbox move to the new relay, and with the old relay gone the
/// contact's messages still arrive (PROTOCOL.md §10.4).
#[tokio::test]
async fn a_new_home_relay_takes_the_conversations_along() {
    let dir = tempfile::tempdir().unwrap();
    let (mut old_relay, old) = TestRelay::start(&dir.path().join("old"), 0).await;
    let (_new_relay, new) = TestRelay::start(&dir.path().join("new"), 0).await;
    let mut p = pair(dir.path(), &old).await;
    p.bob_writes("b").await;

    // A relay that does not answer changes nothing.
    let nowhere: RelayAddress = "ws://127.0.0.1:9/".parse().unwrap();
    assert!(p.alice.change_home_relay(nowhere, None).await.is_err());
    assert_eq!(
        p.alice.query(|c| c.home_relay().clone()).await.unwrap(),
        old
    );

    // The move off the invite's mailbox has to end first (Bob's confirmation
    // in, and its grace period over); then the change.
    p.quiet().await;
    let later = (system_clock())() + 2 * crate::client::MOVE_GRACE_MS;
    let (to_alice, to_bob) = (p.to_alice, p.to_bob);
    let alice = p.alice.stop().await.unwrap();
    let (alice, mut alice_events) = Messenger::start(
        alice,
        MessengerConfig {
            clock: std::sync::Arc::new(move || later),
            ..config()
        },
    );
    assert_eq!(alice.change_home_relay(new.clone(), None).await.unwrap(), 1);
    let new_text = new.to_string();
    expect(&mut p.bob_events, "Alice's move", |e| match e {
        MessengerEvent::Client(ClientEvent::ContactChanged { contact })
            if contact.relay == new_text =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    // Bob confirms once nothing of his waits for the old mailbox.
    p.bob.wait_sent(true).await.unwrap();

    old_relay.stop();
    p.bob
        .send_texts(to_alice, vec!["through the new relay".into()])
        .await
        .unwrap();
    expect(&mut alice_events, "Bob's message", |e| {
        message_text(e).filter(|t| t == "through the new relay")
    })
    .await;
    let mine = alice
        .query(move |c| c.contact(to_bob).map(|c| c.my_mailbox))
        .await
        .unwrap()
        .unwrap();
    let on = alice
        .query(move |c| {
            c.active_mailboxes()
                .map(|all| all.into_iter().find(|m| m.id == mine).map(|m| m.relay))
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on.as_deref(), Some(new_text.as_str()));
}

/// A short link works once: after Bob used it, Eve's accept fails on her
/// side with a clear reason (the sealed invite is gone from the relay) and
/// nothing reaches Alice; a withdrawn link fails the same way (§7.1).
#[tokio::test]
async fn a_used_or_withdrawn_link_is_refused_to_the_next_acceptor() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let d = dir.path();
    let (alice, mut alice_events) =
        Messenger::start(client(&d.join("a"), "Alice", &address), config());
    let (bob, _bob_events) = Messenger::start(client(&d.join("b"), "Bob", &address), config());
    let (eve, _eve_events) = Messenger::start(client(&d.join("e"), "Eve", &address), config());
    let invite = alice.create_invite(None).await.unwrap();
    assert!(invite.uri.len() < 130, "a short link: {}", invite.uri);
    bob.accept_invite(&invite.uri, "alice").await.unwrap();
    expect(&mut alice_events, "Bob's handshake", |e| match e {
        MessengerEvent::Client(ClientEvent::ContactAdded { .. }) => Some(()),
        _ => None,
    })
    .await;
    // The link mailbox is deleted at the relay right after the handshake.
    deleted_at_relay(&alice).await;
    let refused = eve.accept_invite(&invite.uri, "alice").await;
    assert!(
        matches!(&refused, Err(MessengerError::InviteGone { relay }) if *relay == address.to_string()),
        "{refused:?}"
    );
    let eves = eve.query(|c| c.contacts()).await.unwrap().unwrap();
    assert!(eves.is_empty());

    let withdrawn = alice.create_invite(None).await.unwrap();
    assert!(alice.revoke_invite(withdrawn.id).await.unwrap());
    deleted_at_relay(&alice).await;
    let refused = eve.accept_invite(&withdrawn.uri, "alice").await;
    assert!(
        matches!(refused, Err(MessengerError::InviteGone { .. })),
        "{refused:?}"
    );
    let alices = alice.query(|c| c.contacts()).await.unwrap().unwrap();
    assert_eq!(alices.len(), 1, "only Bob");
}

/// Waits until the relay confirmed every deletion `messenger` asked for.
async fn deleted_at_relay(messenger: &Messenger) {
    for _ in 0..200 {
        let left = messenger
            .query(|c| c.mailboxes_to_delete())
            .await
            .unwrap()
            .unwrap();
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mailboxes still to delete after 10 s");
}

/// The relay closes connections that subscribe to nothing (issue 16). Once
/// the last mailbox of ours on a relay is deleted (here: the only invite,
/// withdrawn), the inbox keeps no connection there, and that end is no
/// outage: no "relay down" for the user, no redialling, until there is
/// something to receive again.
#[tokio::test]
async fn an_inbox_with_nothing_to_receive_is_no_outage() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start_with(&dir.path().join("relay"), 0, |c| {
        c.limits.first_request_timeout = Duration::from_millis(500);
        c.limits.idle_timeout = Duration::from_secs(1);
        c.limits.ping_interval = Duration::from_millis(250);
    })
    .await;
    let (alice, mut events) =
        Messenger::start(client(&dir.path().join("a"), "Alice", &address), config());
    let invite = alice.create_invite(None).await.unwrap();
    assert!(alice.revoke_invite(invite.id).await.unwrap());
    deleted_at_relay(&alice).await;
    // Several idle timeouts of the relay.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let MessengerEvent::Relay {
            state: RelayState::Down { error, .. },
            ..
        } = event
        {
            panic!("reported down: {error}");
        }
    }
    // A new invite there works at once.
    let again = alice.create_invite(None).await.unwrap();
    assert!(again.uri.starts_with("cairn:"));
}

/// A receiving mailbox removed at the relay while its inbox is subscribed
/// (an admin's purge; here its owner key, from another connection): the
/// relay says so (`SubscriptionEnded`), the messenger recreates it with the
/// same id and lock, and the contact's next message arrives.
#[tokio::test]
async fn a_mailbox_removed_at_the_relay_is_recreated_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, address) = TestRelay::start(&dir.path().join("relay"), 0).await;
    let mut p = pair(dir.path(), &address).await;
    p.bob_writes("before").await;
    p.alice
        .send_texts(p.to_bob, vec!["a".into()])
        .await
        .unwrap();
    expect(&mut p.bob_events, "Alice's message", message_text).await;
    let to_bob = p.to_bob;
    let (mailbox, seed) = p
        .alice
        .query(
            move |c| -> crate::client::ClientResult<Option<([u8; 32], Vec<u8>)>> {
                let mine = c.contact(to_bob)?.my_mailbox;
                let record = c.active_mailboxes()?.into_iter().find(|m| m.id == mine);
                Ok(record.map(|m| (m.id, m.auth_seed.to_vec())))
            },
        )
        .await
        .unwrap()
        .unwrap()
        .expect("Alice's mailbox for Bob is active");
    let key = ed25519_dalek::SigningKey::from_bytes(&seed.try_into().unwrap());
    let (other, _in) = RelayClient::connect(&address, ConnectOptions::default())
        .await
        .unwrap();
    other
        .delete_mailbox(MailboxId(mailbox), &key)
        .await
        .unwrap();

    // Recreated: Bob's next message reaches Alice without a reconnect.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let probe = other.subscribe(MailboxId(mailbox), &key).await;
        if probe.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never recreated: {probe:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    other.unsubscribe(MailboxId(mailbox)).await.unwrap();
    p.bob_writes("after").await;
}
