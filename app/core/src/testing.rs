//! Fixtures for tests and benchmarks of the core and the desktop (feature
//! `test-support`): real SQLCipher profiles with a cheap KDF, and a "relay"
//! that is a function call, for tests about what clients store and show
//! rather than about the network (those run against a real relay).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use cairn_protocol::envelope::{MailboxId, MessageId};
use cairn_protocol::invite::{Invite, InviteText};
use cairn_protocol::relay_address::RelayAddress;

use crate::client::{
    Client, ClientError, CreatedInvite, Delivery, InitOptions, InvitePublication, ReceiveReport,
};
use crate::profile::kdf::KdfParams;
use crate::store::ContactId;

/// A fresh client named `name` in `dir`, homed on a loopback relay address,
/// with the test-only KDF cost. Panics on failure (it is a fixture).
pub fn new_client(dir: &Path, name: &str) -> Client {
    new_client_at(dir, name, 1)
}

/// [`new_client`] created at `now_ms`.
pub fn new_client_at(dir: &Path, name: &str, now_ms: u64) -> Client {
    new_client_on(dir, name, "ws://127.0.0.1:7447/".parse().unwrap(), now_ms)
}

/// [`new_client`] homed on `relay`, created at `now_ms`.
pub fn new_client_on(dir: &Path, name: &str, relay: RelayAddress, now_ms: u64) -> Client {
    Client::init(
        &InitOptions {
            dir,
            passphrase: b"pw",
            kdf: KdfParams::INSECURE_FOR_TESTS,
            name,
            relay,
            access_token: None,
        },
        now_ms,
    )
    .unwrap()
}

/// Carries everything `from` would send now (receipts sealed whatever their
/// moment) into `to`, as a relay would, in batches of 2,000, and marks it
/// sent. Returns what the last batch reported (with every batch's events).
pub fn pump(from: &mut Client, to: &mut Client, now: u64) -> ReceiveReport {
    from.seal_due_receipts(u64::MAX).unwrap();
    let due = from.outbox_due(u64::MAX, 1_000_000).unwrap();
    let deliveries: Vec<Delivery> = due
        .iter()
        .map(|i| Delivery {
            mailbox: MailboxId(i.mailbox),
            message: MessageId(i.envelope_id),
            bytes: i.envelope.clone(),
        })
        .collect();
    from.outbox_sent(&due).unwrap();
    let mut report = ReceiveReport::default();
    for chunk in deliveries.chunks(2_000) {
        let r = to.receive(chunk, now).unwrap();
        report.acks.extend(r.acks);
        report.events.extend(r.events);
        report.new_messages += r.new_messages;
    }
    report
}

/// Alice (in `dir/a`) invites, Bob (in `dir/b`) accepts calling her
/// `alice`, Alice completes (she calls him `Bob`) and moves the
/// conversation off the invite's mailbox, Bob confirms: returns both, with
/// nothing left to carry.
pub fn pair(dir: &Path, now: u64) -> (Client, Client) {
    let mut alice = new_client_at(&dir.join("a"), "Alice", now);
    let mut bob = new_client_at(&dir.join("b"), "Bob", now);
    introduce(&mut alice, &mut bob, "alice", now);
    (alice, bob)
}

/// `inviter` invites, `acceptor` accepts (calling the inviter `name`), the
/// inviter completes and moves off the invite's mailbox, the acceptor
/// confirms: two contacts with nothing left to carry, envelopes carried by
/// hand. Returns (the inviter's contact, the acceptor's contact).
pub fn introduce(
    inviter: &mut Client,
    acceptor: &mut Client,
    name: &str,
    now: u64,
) -> (ContactId, ContactId) {
    let (mb, conversation) = (inviter.mint_invite_mailbox_on(None), inviter.mint_mailbox());
    let created = inviter.create_invite(&mb, &conversation, now).unwrap();
    let invite = carry_invite(acceptor, &created, now).unwrap();
    let reply = acceptor.mint_mailbox();
    let theirs = acceptor.accept_invite(&invite, name, &reply, now).unwrap();
    settle(acceptor, inviter, now + 1);
    let mine = inviter
        .contacts()
        .unwrap()
        .into_iter()
        .find(|c| c.their_mailbox == reply.id.0)
        .unwrap();
    (mine.id, theirs.id)
}

/// The acceptor's side of a short invite link (PROTOCOL.md §7.1), the sealed
/// invite carried by hand instead of fetched from the relay: parses the link
/// and opens what the relay would hold for it.
pub fn carry_invite(
    acceptor: &Client,
    (created, publication): &(CreatedInvite, InvitePublication),
    now: u64,
) -> Result<Invite, ClientError> {
    match acceptor.parse_invite(&created.uri, now)? {
        InviteText::Link(link) => acceptor.open_invite_link(&link, &publication.envelope, now),
        InviteText::Full(invite) => Ok(invite),
    }
}

/// Whether the relay of short link `uri` still holds its link mailbox
/// (PROTOCOL.md §7.1): what the next acceptor would find. Blocking, on a
/// runtime of its own; for tests that must wait until a used or withdrawn
/// invite is gone before someone else tries the link.
pub fn sealed_invite_waits(uri: &str) -> bool {
    let Ok(InviteText::Link(link)) = InviteText::parse(uri, 0) else {
        panic!("not a short invite link: {uri}");
    };
    let keys = link.keys();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = cairn_relay_client::ConnectOptions::default();
        let (client, _deliveries) = cairn_relay_client::RelayClient::connect(link.relay(), options)
            .await
            .unwrap();
        let auth = ed25519_dalek::SigningKey::from_bytes(&keys.auth_seed);
        let subscribed = client.subscribe(keys.mailbox, &auth).await;
        client.close().await;
        subscribed.is_ok()
    })
}

/// A contact as the store would return it, for views and benches that need
/// one without a conversation behind it: verified, confirmed, no key change.
pub fn sample_contact(id: ContactId, name: &str) -> crate::store::Contact {
    crate::store::Contact {
        id,
        name: name.into(),
        identity: [1; 64],
        relay: "wss://127.0.0.1:1/#x".into(),
        their_mailbox: [2; 32],
        my_mailbox: [3; 32],
        safety_number: "1".repeat(60),
        verified: true,
        pending_identity: None,
        confirmed: true,
    }
}

/// Ids of the retired mailboxes `client` would delete at their relays now.
pub fn retired_mailboxes(client: &Client) -> Vec<[u8; 32]> {
    client
        .mailboxes_to_delete()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// Carries envelopes both ways until neither side has anything to send.
pub fn settle(a: &mut Client, b: &mut Client, now: u64) {
    for _ in 0..4 {
        pump(a, b, now);
        pump(b, a, now);
    }
}

/// A WebSocket proxy in front of a plaintext loopback relay that records, per
/// client connection, the kind of every frame the client sends, and every
/// envelope sent: the relay's-eye view of which connection did what and of
/// the ciphertexts (PROTOCOL.md §2).
#[cfg(any(test, feature = "test-support"))]
pub struct FrameLog {
    address: RelayAddress,
    log: std::sync::Arc<std::sync::Mutex<Seen>>,
}

/// What a [`FrameLog`] has seen so far.
#[derive(Default)]
struct Seen {
    /// Frame kinds per connection, in connection order.
    connections: Vec<Vec<&'static str>>,
    /// Envelopes of `Send` and `SendLocked` frames, in the order they passed.
    envelopes: Vec<Vec<u8>>,
}

impl FrameLog {
    /// Listens on a loopback port and forwards every connection to `relay`
    /// (a `ws://` address on this machine).
    pub async fn start(relay: &RelayAddress) -> Self {
        use futures_util::{SinkExt, StreamExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let address: RelayAddress = format!("ws://127.0.0.1:{port}/").parse().unwrap();
        let log: std::sync::Arc<std::sync::Mutex<Seen>> = Default::default();
        let url = relay.websocket_url();
        let shared = std::sync::Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let url = url.clone();
                let log = std::sync::Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(client) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let Ok((upstream, _)) = tokio_tungstenite::connect_async(url.as_str()).await
                    else {
                        return;
                    };
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.connections.push(Vec::new());
                        log.connections.len() - 1
                    };
                    let (mut client_tx, mut client_rx) = client.split();
                    let (mut up_tx, mut up_rx) = upstream.split();
                    let down = async move {
                        while let Some(Ok(m)) = up_rx.next().await {
                            if client_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                        let _ = client_tx.close().await;
                    };
                    let up = async move {
                        while let Some(Ok(m)) = client_rx.next().await {
                            if let tokio_tungstenite::tungstenite::Message::Binary(b) = &m {
                                let (kind, envelope) = frame_kind(b);
                                let mut log = log.lock().unwrap();
                                log.connections[index].push(kind);
                                log.envelopes.extend(envelope);
                            }
                            if up_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                        let _ = up_tx.close().await;
                    };
                    tokio::join!(down, up);
                });
            }
        });
        Self { address, log }
    }

    /// The address clients should use instead of the relay's.
    pub fn address(&self) -> &RelayAddress {
        &self.address
    }

    /// Frame kinds per connection, in connection order.
    pub fn connections(&self) -> Vec<Vec<&'static str>> {
        self.log.lock().unwrap().connections.clone()
    }

    /// Every envelope clients sent (`Send` or `SendLocked`), in order.
    pub fn envelopes(&self) -> Vec<Vec<u8>> {
        self.log.lock().unwrap().envelopes.clone()
    }

    /// Connections that subscribed and also sent an envelope or created a
    /// mailbox: what the relay must never see (empty when all is well).
    pub fn linking(&self) -> Vec<Vec<&'static str>> {
        self.connections()
            .into_iter()
            .filter(|kinds| {
                kinds.contains(&"subscribe")
                    && kinds.iter().any(|k| matches!(*k, "send" | "create"))
            })
            .collect()
    }
}

/// The name of a client frame's kind, as the relay sees it, and the
/// envelope it carries if it sends one.
fn frame_kind(bytes: &[u8]) -> (&'static str, Option<Vec<u8>>) {
    use cairn_protocol::frames::{ClientFrame, ClientRequest};
    let kind = match ClientRequest::decode(bytes).map(|r| r.frame) {
        Ok(ClientFrame::CreateMailbox { .. } | ClientFrame::CreateLockedMailbox { .. }) => "create",
        Ok(ClientFrame::Send { envelope } | ClientFrame::SendLocked { envelope, .. }) => {
            return ("send", Some(envelope.to_vec()));
        }
        Ok(ClientFrame::Subscribe { .. }) => "subscribe",
        Ok(ClientFrame::Unsubscribe { .. }) => "unsubscribe",
        Ok(ClientFrame::Ack { .. } | ClientFrame::AckBatch { .. }) => "ack",
        Ok(ClientFrame::DeleteMailbox { .. }) => "delete",
        Ok(_) => "other",
        Err(_) => "malformed",
    };
    (kind, None)
}
