//! Create, send, receive, ack over TLS with the pin; wrong pin refused;
//! backlog after reconnect; mailbox deletion; stable pin across restarts;
//! send-locked mailboxes (finding 13.3).

use std::time::Duration;

use cairn_protocol::frames::{ErrorCode, SendKey};
use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_relay_client::{ClientError, ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::wire::{connect, next};
use cairn_tests::{RelayOptions, RelayProcess};

#[tokio::test]
async fn round_trip_over_tls_with_pin() {
    let relay = RelayProcess::start(RelayOptions::default());
    assert!(relay.address().pin().is_some(), "TLS address carries a pin");
    let (alice, mut alice_in) = connect(relay.address()).await;
    let (bob, _bob_in) = connect(relay.address()).await;
    assert!(alice.server().starts_with("cairn-relay/"));

    let (mbox, key) = mailbox();
    alice
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let again = alice.create_mailbox(mbox, &key.verifying_key(), None).await;
    assert_eq!(again.unwrap_err().code(), Some(ErrorCode::MailboxExists));
    alice.subscribe(mbox, &key).await.unwrap();

    // Bob knows only the mailbox id: that is the whole send capability.
    let id = message_id();
    let env = envelope(mbox, id, 1024, b"hello");
    bob.send(env.clone()).await.unwrap();
    let got = next(&mut alice_in).await;
    assert_eq!((got.mailbox, got.message), (mbox, id));
    assert_eq!(got.envelope, env);
    alice.ack(mbox, id).await.unwrap();

    // Sending to a mailbox that does not exist is refused with its code.
    let (nowhere, _) = mailbox();
    let err = bob
        .send(envelope(nowhere, message_id(), 1024, b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NoSuchMailbox));

    // Subscribing with the wrong key is refused.
    let (_, wrong_key) = mailbox();
    let err = bob.subscribe(mbox, &wrong_key).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadSignature));
    // Acking without a subscription is refused.
    let err = bob.ack(mbox, id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotSubscribed));
}

#[tokio::test]
async fn wrong_pin_is_refused_by_the_client() {
    let relay = RelayProcess::start(RelayOptions::default());
    let real = relay.address();
    let mut pin = real.pin().unwrap();
    pin[0] ^= 1;
    let forged = RelayAddress::new(real.host(), real.port(), Transport::Tls { pin }).unwrap();
    let err = RelayClient::connect(&forged, ConnectOptions::default())
        .await
        .err()
        .expect("connection must fail");
    match err {
        ClientError::PinMismatch { expected, actual } => {
            assert_eq!(expected, pin);
            assert_eq!(actual, real.pin().unwrap());
        }
        other => panic!("expected PinMismatch, got {other:?}"),
    }
    // The real pin still works.
    connect(real).await;
}

#[tokio::test]
async fn offline_recipient_gets_backlog_in_order_then_live() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (sender, _s) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    sender
        .create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let ids: Vec<_> = (0..600).map(|_| message_id()).collect();
    for id in &ids {
        sender
            .send(envelope(mbox, *id, 1024, b"queued"))
            .await
            .unwrap();
    }

    let (recipient, mut incoming) = connect(relay.address()).await;
    recipient.subscribe(mbox, &key).await.unwrap();
    for id in &ids {
        let d = next(&mut incoming).await;
        assert_eq!(d.message, *id, "backlog arrives in send order");
        recipient.ack(mbox, d.message).await.unwrap();
    }
    let live = message_id();
    sender
        .send(envelope(mbox, live, 4096, b"live"))
        .await
        .unwrap();
    assert_eq!(next(&mut incoming).await.message, live);
    recipient.ack(mbox, live).await.unwrap();

    // Everything acked: a new subscriber gets nothing.
    drop((recipient, incoming));
    let (again, mut again_in) = connect(relay.address()).await;
    again.subscribe(mbox, &key).await.unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(300), again_in.recv()).await;
    assert!(nothing.is_err(), "acked envelopes are deleted");
}

#[tokio::test]
async fn unacked_messages_are_redelivered_and_retries_stored_once() {
    let relay = RelayProcess::start(RelayOptions::default());
    let (c, mut incoming) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let id = message_id();
    let env = envelope(mbox, id, 1024, b"once");
    c.send(env.clone()).await.unwrap();
    c.send(env.clone()).await.unwrap(); // a sender's retry
    c.subscribe(mbox, &key).await.unwrap();
    assert_eq!(next(&mut incoming).await.message, id);
    let extra = tokio::time::timeout(Duration::from_millis(300), incoming.recv()).await;
    assert!(extra.is_err(), "a retried message id is stored once");
    drop((c, incoming));
    // Not acked: delivered again on the next subscription.
    let (c, mut incoming) = connect(relay.address()).await;
    c.subscribe(mbox, &key).await.unwrap();
    assert_eq!(next(&mut incoming).await.message, id);
}

#[tokio::test]
async fn delete_mailbox_needs_its_key() {
    let relay = RelayProcess::start(RelayOptions::plaintext());
    assert!(relay.address().to_string().starts_with("ws://"));
    let (c, _in) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    let (_, other) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let err = c.delete_mailbox(mbox, &other).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadSignature));
    c.delete_mailbox(mbox, &key).await.unwrap();
    let err = c
        .send(envelope(mbox, message_id(), 1024, b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NoSuchMailbox));
}

#[tokio::test]
async fn pin_and_messages_survive_a_restart() {
    let mut relay = RelayProcess::start(RelayOptions::default());
    let before = relay.address().clone();
    let (c, _in) = connect(&before).await;
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let id = message_id();
    c.send(envelope(mbox, id, 1024, b"kept")).await.unwrap();
    drop((c, _in));
    assert!(relay.terminate().success());
    relay.restart();
    assert_eq!(relay.address(), &before, "same host, port and pin");
    let (c, mut incoming) = connect(relay.address()).await;
    c.subscribe(mbox, &key).await.unwrap();
    assert_eq!(next(&mut incoming).await.message, id);
}

/// A conversation mailbox takes only what its contact's send key opens: the
/// right key is delivered, a wrong key and a plain `Send` are refused with
/// `SendKeyRefused`, before and after a restart (the lock is in the database).
#[tokio::test]
async fn locked_mailbox_takes_only_its_send_key_across_a_restart() {
    let mut relay = RelayProcess::start(RelayOptions::default());
    let (owner, mut owner_in) = connect(relay.address()).await;
    let (contact, _contact_in) = connect(relay.address()).await;
    let (mbox, key) = mailbox();
    let send_key = SendKey::generate(&mut rand::rng());
    owner
        .create_locked_mailbox(mbox, &key.verifying_key(), &send_key.lock(), None)
        .await
        .unwrap();
    let again = owner.create_mailbox(mbox, &key.verifying_key(), None).await;
    assert_eq!(again.unwrap_err().code(), Some(ErrorCode::MailboxExists));
    owner.subscribe(mbox, &key).await.unwrap();

    let id = message_id();
    let env = envelope(mbox, id, 1024, b"locked");
    contact.send_locked(&send_key, env.clone()).await.unwrap();
    let got = next(&mut owner_in).await;
    assert_eq!((got.mailbox, got.message), (mbox, id));
    assert_eq!(got.envelope, env);
    owner.ack(mbox, id).await.unwrap();

    let wrong = SendKey::generate(&mut rand::rng());
    let err = contact
        .send_locked(&wrong, envelope(mbox, message_id(), 1024, b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SendKeyRefused));
    let err = contact
        .send(envelope(mbox, message_id(), 1024, b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SendKeyRefused));
    // A missing mailbox answers as it does to a plain Send, whatever the key.
    let (nowhere, _) = mailbox();
    let err = contact
        .send_locked(&wrong, envelope(nowhere, message_id(), 1024, b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NoSuchMailbox));
    // An open mailbox ignores a key.
    let (open, open_key) = mailbox();
    owner
        .create_mailbox(open, &open_key.verifying_key(), None)
        .await
        .unwrap();
    contact
        .send_locked(&wrong, envelope(open, message_id(), 1024, b"x"))
        .await
        .unwrap();
    let refusals = relay.metric("cairn_relay_refusals_total{reason=\"send_key_refused\"}");
    drop((owner, owner_in, contact, _contact_in));

    assert!(relay.terminate().success());
    relay.restart();
    let (owner, mut owner_in) = connect(relay.address()).await;
    let (contact, _contact_in) = connect(relay.address()).await;
    let err = contact
        .send(envelope(mbox, message_id(), 1024, b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SendKeyRefused), "lock kept");
    let id = message_id();
    contact
        .send_locked(&send_key, envelope(mbox, id, 1024, b"after"))
        .await
        .unwrap();
    owner.subscribe(mbox, &key).await.unwrap();
    assert_eq!(next(&mut owner_in).await.message, id);
    let nothing = tokio::time::timeout(Duration::from_millis(300), owner_in.recv()).await;
    assert!(nothing.is_err(), "refused envelopes were never stored");
    assert_eq!(refusals, Some(2), "both refusals counted");
}
