//! Two services talking through the in-memory relay, driven only by commands.

use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::client::tests::new_client;
use crate::net::fake::FakeRelay;
use crate::store::MessageStatus;

fn opts() -> ServiceOptions {
    ServiceOptions {
        poll: Duration::from_millis(5),
        sync: SyncOptions {
            idle: Duration::from_millis(1),
            ..SyncOptions::default()
        },
        ..ServiceOptions::default()
    }
}

async fn next_matching(
    rx: &mut mpsc::UnboundedReceiver<ServiceEvent>,
    pred: impl Fn(&ServiceEvent) -> bool,
) -> ServiceEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = rx.recv().await.expect("service running");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("event within 10 s")
}

#[tokio::test]
async fn ui_commands_drive_a_whole_conversation() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = FakeRelay::default();
    let (a_cmd, a_rx) = mpsc::channel(16);
    let (a_tx, mut a_ev) = mpsc::unbounded_channel();
    let (b_cmd, b_rx) = mpsc::channel(16);
    let (b_tx, mut b_ev) = mpsc::unbounded_channel();
    let alice = new_client(&tmp.path().join("a"), "Alice");
    let bob = new_client(&tmp.path().join("b"), "Bob");
    let a = tokio::spawn(run(alice, relay.clone(), opts(), a_rx, a_tx));
    let b = tokio::spawn(run(bob, relay.clone(), opts(), b_rx, b_tx));

    a_cmd.send(Command::CreateInvite).await.unwrap();
    let ServiceEvent::InviteCreated { uri } = next_matching(&mut a_ev, |e| {
        matches!(e, ServiceEvent::InviteCreated { .. })
    })
    .await
    else {
        unreachable!()
    };
    b_cmd
        .send(Command::AcceptInvite {
            uri,
            name: "alice".into(),
        })
        .await
        .unwrap();
    next_matching(&mut b_ev, |e| {
        matches!(e, ServiceEvent::ContactAccepted { .. })
    })
    .await;
    next_matching(&mut a_ev, |e| {
        matches!(e, ServiceEvent::Client(ClientEvent::ContactAdded { .. }))
    })
    .await;

    a_cmd
        .send(Command::SendText {
            contact: "Bob".into(),
            text: "hi from the UI".into(),
        })
        .await
        .unwrap();
    let got = next_matching(&mut b_ev, |e| {
        matches!(e, ServiceEvent::Client(ClientEvent::Message { .. }))
    })
    .await;
    assert!(
        matches!(got, ServiceEvent::Client(ClientEvent::Message { message, .. }) if message.body == "hi from the UI")
    );
    b_cmd
        .send(Command::MarkRead {
            contact: "alice".into(),
        })
        .await
        .unwrap();
    next_matching(&mut a_ev, |e| {
        matches!(
            e,
            ServiceEvent::Client(ClientEvent::StatusChanged {
                status: MessageStatus::Read,
                ..
            })
        )
    })
    .await;

    a_cmd.send(Command::Shutdown).await.unwrap();
    b_cmd.send(Command::Shutdown).await.unwrap();
    let alice = a.await.unwrap();
    b.await.unwrap();
    assert_eq!(alice.timeline("Bob").unwrap().len(), 1);
}

#[tokio::test]
async fn relay_outage_is_reported_with_backoff_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = FakeRelay::default();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    // A mailbox the service must poll, on a relay that is down.
    // (Created now: the service drops expired invites and their mailboxes.)
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mb = alice.mint_mailbox();
    alice.create_invite(&mb, now_ms).unwrap();
    relay.state().down = true;
    let (cmd, rx) = mpsc::channel(4);
    let (tx, mut ev) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(alice, relay.clone(), opts(), rx, tx));
    let problem = next_matching(&mut ev, |e| matches!(e, ServiceEvent::RelayProblem { .. })).await;
    assert!(
        matches!(problem, ServiceEvent::RelayProblem { retry_in, .. } if retry_in >= Duration::from_secs(1))
    );
    cmd.send(Command::Shutdown).await.unwrap();
    task.await.unwrap();
}
