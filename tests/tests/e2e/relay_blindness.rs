//! Blindness: a plaintext marker sent through a real end-to-end encrypted
//! session never appears in the relay's files or logs, nor do mailbox ids,
//! message ids or client addresses.

use std::time::Duration;

use base64::Engine;
use cairn_protocol::content::Content;
use cairn_protocol::envelope::Envelope;
use cairn_protocol::frames::SendKey;
use cairn_protocol::handshake::{AcceptorReply, accept_invite};
use cairn_protocol::identity::Identity;
use cairn_protocol::invite::Invite;
use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::mailbox;
use cairn_tests::{RelayOptions, RelayProcess};

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            hits.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    hits
}

#[tokio::test]
async fn relay_files_and_logs_hold_no_plaintext_or_identifiers() {
    let mut relay = RelayProcess::start(RelayOptions::default().env("RUST_LOG", "debug"));
    let marker = format!("PLAINTEXT-MARKER-{:016x}", rand::random::<u64>());
    let mut rng = rand::rng();
    let now = 1_700_000_000;

    let alice = Identity::generate(&mut rng);
    let bob = Identity::generate(&mut rng);
    let (a_box, a_key) = mailbox();
    let (b_box, b_key) = mailbox();
    let (client, mut incoming) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    client
        .create_mailbox(a_box, &a_key.verifying_key(), None)
        .await
        .unwrap();
    // Bob's reply mailbox is send-locked, as every conversation mailbox.
    let b_send = SendKey::generate(&mut rng);
    client
        .create_locked_mailbox(b_box, &b_key.verifying_key(), &b_send.lock(), None)
        .await
        .unwrap();

    // Alice invites Bob; Bob accepts and sends a message with the marker.
    let (invite, pending) =
        Invite::create(&alice, relay.address().clone(), a_box, now + 3600, &mut rng);
    let reply = AcceptorReply {
        relay: relay.address().clone(),
        mailbox: b_box,
        send_key: b_send.clone(),
        name: "bob".into(),
    };
    let mut accepted = accept_invite(&invite, &bob, reply, now, &mut rng).unwrap();
    let first = accepted
        .session
        .encrypt(&bob, &Content::Text(marker.clone()), now * 1000, &mut rng)
        .unwrap();
    client.send(accepted.envelope.clone().into()).await.unwrap();
    client.send(first.envelope.clone().into()).await.unwrap();

    // Alice receives both through the relay and reads the marker: the path works.
    client.subscribe(a_box, &a_key).await.unwrap();
    let hs = tokio::time::timeout(Duration::from_secs(10), incoming.recv())
        .await
        .unwrap()
        .unwrap();
    let mut completed = pending
        .complete(&alice, &Envelope::parse(&hs.envelope).unwrap(), now)
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(10), incoming.recv())
        .await
        .unwrap()
        .unwrap();
    let received = completed
        .session
        .decrypt(&Envelope::parse(&msg.envelope).unwrap(), 0)
        .unwrap();
    assert_eq!(received.content, Content::Text(marker.clone()));
    // Alice answers on Bob's locked mailbox with the key from the handshake.
    let answer = completed
        .session
        .encrypt(&alice, &Content::Text(marker.clone()), now * 1000, &mut rng)
        .unwrap();
    client
        .send_locked(&completed.send_key, answer.envelope.into())
        .await
        .unwrap();
    // Leave the second message un-acked so its ciphertext is still stored on disk.
    client.ack(a_box, hs.message).await.unwrap();
    drop((client, incoming));
    assert!(relay.terminate().success());

    let dir = relay.data_dir().to_path_buf();
    assert!(
        files_contain(&dir, &msg.envelope[50..]).contains(&"relay.db".to_owned())
            || !files_contain(&dir, &msg.envelope[50..80]).is_empty(),
        "the ciphertext itself is stored (sanity check of this test)"
    );
    assert!(
        files_contain(&dir, marker.as_bytes()).is_empty(),
        "marker found in relay files"
    );
    // The relay keeps the lock, never the key that opens the mailbox (§2).
    assert!(
        !files_contain(&dir, &b_send.lock()).is_empty(),
        "the lock is stored (sanity check of this test)"
    );
    assert!(
        files_contain(&dir, b_send.as_bytes()).is_empty(),
        "a send key found in relay files"
    );
    let logs = relay.logs() + &relay.stdout();
    assert!(!logs.contains(&marker), "marker in relay logs");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for id in [&a_box.0[..], &b_box.0[..], &msg.message.0[..]] {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !logs.contains(&hex[..12]),
            "an identifier appears in the logs"
        );
        assert!(
            !logs.contains(&b64.encode(id)[..12]),
            "an identifier appears in the logs"
        );
    }
    assert!(
        !logs.contains("peer"),
        "client addresses are not logged without --log-ips"
    );
}
