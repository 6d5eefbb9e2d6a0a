//! The connection loop in process: a relay on port 0 over the in-memory
//! store, real clients from `cairn-relay-client`, and tokio's paused clock,
//! so the 90 s idle timeout and the 50 ms hold take no wall time. Everything
//! runs on one thread; loopback I/O between client and relay completes
//! before the paused clock moves on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::envelope::{BodyKind, MailboxId, MessageId, write_header};
use cairn_protocol::frames::{ErrorCode, RelayFrame};
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::{ConnectOptions, Deliveries, Incoming, RelayClient, connect_websocket};
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep, timeout};

use crate::config::{Limits, Rate, RelayConfig, TransportConfig};
use crate::metrics::Metrics;
use crate::server::Relay;
use crate::store::{MailboxStore, MemoryStore, StoreLimits, TokenStore};
use crate::tokens::{Role, generate};

/// A relay serving on loopback until dropped.
struct TestRelay {
    address: RelayAddress,
    metrics: Arc<Metrics>,
    store: MemoryStore,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl TestRelay {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`TestRelay::start`] with `change` applied to the configuration.
    async fn start_with(change: impl FnOnce(&mut RelayConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = RelayConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().into());
        config.transport = TransportConfig::Plaintext;
        // Rate limits run on the real clock; all load comes from one address.
        let off = Rate {
            per_second: 0.0,
            burst: 0.0,
        };
        config.limits.per_connection = off;
        config.limits.per_ip = off;
        config.limits.bytes_per_connection = off;
        config.limits.bytes_per_ip = off;
        change(&mut config);
        let store = MemoryStore::new(StoreLimits::default());
        let relay =
            Relay::bind_with_store(config, Arc::new(store.clone()), Arc::new(store.clone()))
                .await
                .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let address = relay.address().clone();
        let metrics = relay.metrics();
        tokio::spawn(relay.run(async {
            let _ = stopped.await;
        }));
        Self {
            address,
            metrics,
            store,
            _stop: stop,
            _dir: dir,
        }
    }

    async fn connect(&self) -> (RelayClient, Deliveries) {
        RelayClient::connect(&self.address, ConnectOptions::default())
            .await
            .unwrap()
    }

    fn open_connections(&self) -> i64 {
        self.metrics.connections_open.get()
    }

    /// The secret of a new admin token.
    async fn admin_token(&self) -> String {
        let token = generate(Role::Admin, 0, None, "");
        self.store
            .create_token(token.hash, token.record)
            .await
            .unwrap();
        token.secret
    }
}

/// A message id numbered `n`.
fn numbered(n: u16) -> MessageId {
    let mut id = [0; 16];
    id[..2].copy_from_slice(&n.to_be_bytes());
    MessageId(id)
}

/// A valid 1 KiB envelope for `mailbox`.
fn envelope(mailbox: MailboxId, id: MessageId) -> Bytes {
    sized_envelope(mailbox, id, 1024)
}

/// A valid envelope of `len` bytes (a padding bucket) for `mailbox`.
fn sized_envelope(mailbox: MailboxId, id: MessageId, len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len);
    write_header(&mut out, &mailbox, &id, BodyKind::Ratchet);
    out.resize(len, 0);
    Bytes::from(out)
}

/// Unmasked, unfragmented, short server frames as (opcode, payload).
fn server_frames(mut raw: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while let [head, len, rest @ ..] = raw {
        let len = usize::from(*len);
        assert!(len < 126 && rest.len() >= len, "a short frame");
        frames.push((head & 0x0f, rest[..len].to_vec()));
        raw = &rest[len..];
    }
    frames
}

/// Nothing is delivered for a (paused-clock) minute.
async fn assert_nothing_delivered(deliveries: &mut Deliveries) {
    if let Ok(Some(delivery)) = timeout(Duration::from_secs(60), deliveries.recv()).await {
        panic!("unexpected delivery of {:?}", delivery.message);
    }
}

/// Issue 16: sockets that only answer pings held connection slots forever.
/// Now a connection must make a request within the first-request timeout,
/// and one without subscriptions must keep making requests; pongs keep only
/// a subscribed connection (waiting for pushes) alive.
#[tokio::test(start_paused = true)]
async fn pongs_keep_only_subscribed_connections_alive() {
    let relay = TestRelay::start().await;
    let limits = Limits::default();
    // Creates a mailbox, then only answers pings.
    let (creator, _creator_in) = relay.connect().await;
    let key = SigningKey::from_bytes(&[3; 32]);
    creator
        .create_mailbox(MailboxId([3; 32]), &key.verifying_key(), None)
        .await
        .unwrap();
    // Subscribes, then only answers pings: it is waiting for pushes.
    let (reader, _reader_in) = relay.connect().await;
    reader.subscribe(MailboxId([3; 32]), &key).await.unwrap();
    // Answers pings (its connection task reads) but never asks anything.
    let (silent, _silent_in) = relay.connect().await;
    // A raw WebSocket that reads the challenge and then nothing at all.
    let mut deaf = connect_websocket(&relay.address, Duration::from_secs(10))
        .await
        .unwrap();
    let challenge = deaf.next().await.unwrap().unwrap().into_data();
    assert!(matches!(
        RelayFrame::decode(&challenge).unwrap().1,
        RelayFrame::Challenge { .. }
    ));
    let start = Instant::now();
    assert_eq!(relay.open_connections(), 4);

    sleep(limits.first_request_timeout - Duration::from_secs(1)).await;
    assert_eq!(
        relay.open_connections(),
        4,
        "not before the first-request timeout"
    );
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        relay.open_connections(),
        2,
        "the two that never asked anything"
    );
    assert!(silent.is_closed());
    assert_eq!(relay.metrics.idle_closed.get(), 2);
    // The deaf socket got no ping yet, only a close frame saying why.
    let mut raw = Vec::new();
    deaf.get_mut().read_to_end(&mut raw).await.unwrap();
    let frames = server_frames(&raw);
    assert_eq!(frames.len(), 1, "{frames:?}");
    let (opcode, close) = &frames[0];
    assert_eq!(*opcode, 0x8, "a close frame");
    assert_eq!(&close[..2], &1008u16.to_be_bytes(), "policy violation");
    assert_eq!(&close[2..], b"no request");
    assert!(start.elapsed() < limits.first_request_timeout + Duration::from_secs(2));

    // The creator's pongs do not keep it: gone within an idle timeout and a
    // ping interval of its last request.
    sleep(limits.idle_timeout + limits.ping_interval).await;
    assert!(
        creator.is_closed(),
        "pongs alone do not keep an unsubscribed connection"
    );
    assert_eq!(relay.open_connections(), 1);

    // Ten idle timeouts later, pongs have kept the subscribed reader alive.
    sleep(limits.idle_timeout * 10).await;
    assert!(!reader.is_closed(), "pongs keep a subscribed connection");
    reader
        .create_mailbox(MailboxId([4; 32]), &key.verifying_key(), None)
        .await
        .unwrap();
}

/// The hole of issue 16: a connection subscribed to a mailbox kept receiving
/// after another connection deleted it and someone else created it again.
async fn a_removed_mailbox_ends_every_subscription(removal: Removal) {
    let relay = TestRelay::start().await;
    let mailbox = MailboxId([7; 32]);
    let owner = SigningKey::from_bytes(&[1; 32]);
    // The owner's inbox connection subscribes; another connection of the
    // owner's (or the operator's) removes the mailbox.
    let (inbox, mut inbox_in) = relay.connect().await;
    let (control, _control_in) = relay.connect().await;
    inbox
        .create_mailbox(mailbox, &owner.verifying_key(), None)
        .await
        .unwrap();
    inbox.subscribe(mailbox, &owner).await.unwrap();
    match removal {
        Removal::OwnerDelete => control.delete_mailbox(mailbox, &owner).await.unwrap(),
        Removal::AdminPurge => {
            let token = relay.admin_token().await;
            control.purge(&token, mailbox).await.unwrap();
        }
    }

    // The subscribed connection is told (issue 16 item 4).
    match timeout(Duration::from_secs(60), inbox_in.next())
        .await
        .unwrap()
    {
        Some(Incoming::SubscriptionEnded(ended)) => assert_eq!(ended, mailbox),
        other => panic!("expected the end of the subscription, got {other:?}"),
    }

    // Someone else creates the same id with their own key, and is sent to.
    let newcomer = SigningKey::from_bytes(&[2; 32]);
    let (other, mut other_in) = relay.connect().await;
    other
        .create_mailbox(mailbox, &newcomer.verifying_key(), None)
        .await
        .unwrap();
    let id = MessageId([5; 16]);
    control.send(envelope(mailbox, id)).await.unwrap();

    assert_nothing_delivered(&mut inbox_in).await;
    let refused = inbox.ack(mailbox, id).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotSubscribed));
    // The newcomer's envelope is still there for the newcomer.
    other.subscribe(mailbox, &newcomer).await.unwrap();
    let delivery = timeout(Duration::from_secs(60), other_in.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.message, id);
}

/// How a test removes a mailbox.
#[derive(Clone, Copy)]
enum Removal {
    /// `DeleteMailbox`, signed with the owner's key.
    OwnerDelete,
    /// `Purge` with an admin token.
    AdminPurge,
}

#[tokio::test(start_paused = true)]
async fn the_owners_delete_ends_subscriptions_on_other_connections() {
    a_removed_mailbox_ends_every_subscription(Removal::OwnerDelete).await;
}

#[tokio::test(start_paused = true)]
async fn an_admin_purge_ends_every_subscription() {
    a_removed_mailbox_ends_every_subscription(Removal::AdminPurge).await;
}

#[tokio::test(start_paused = true)]
async fn a_long_backlog_then_live_envelopes_arrive_once_in_order() {
    const STORED: u16 = 600;
    const ALL: u16 = STORED + 50;
    const LEN: usize = 64 * 1024;
    let relay = TestRelay::start().await;
    let mailbox = MailboxId([9; 32]);
    let key = SigningKey::from_bytes(&[9; 32]);
    let (sender, _sender_in) = relay.connect().await;
    sender
        .create_mailbox(mailbox, &key.verifying_key(), None)
        .await
        .unwrap();
    // Stored while nobody is subscribed: 39 MiB, more than loopback socket
    // buffers take at once, so the relay is still writing the backlog…
    let stored: Vec<Bytes> = (0..STORED)
        .map(|n| sized_envelope(mailbox, numbered(n), LEN))
        .collect();
    assert!(sender.send_many(&stored).await.iter().all(Result::is_ok));
    let (inbox, mut inbox_in) = relay.connect().await;
    inbox.subscribe(mailbox, &key).await.unwrap();
    // …when these are sent: they are held until the backlog is out.
    let live: Vec<Bytes> = (STORED..ALL)
        .map(|n| sized_envelope(mailbox, numbered(n), LEN))
        .collect();
    assert!(sender.send_many(&live).await.iter().all(Result::is_ok));

    let mut received = Vec::new();
    while received.len() < usize::from(ALL) {
        let delivery = timeout(Duration::from_secs(60), inbox_in.recv())
            .await
            .expect("all delivered")
            .unwrap();
        received.push(delivery.message);
    }
    assert_eq!(received, (0..ALL).map(numbered).collect::<Vec<_>>());
    assert_nothing_delivered(&mut inbox_in).await;
}

/// A `Subscribe` proven just before another connection deletes the mailbox,
/// but applied after the deletion (answers keep request order, and an
/// earlier `Send` here waits out the 50 ms hold): its first backlog read
/// finds the mailbox gone, so it does not outlive the mailbox either.
#[tokio::test(start_paused = true)]
async fn a_subscription_proven_just_before_a_delete_ends_with_it() {
    let relay = TestRelay::start().await;
    let mailbox = MailboxId([7; 32]);
    let owner = SigningKey::from_bytes(&[1; 32]);
    // Someone subscribed to a second mailbox, who never acks: a send to it is
    // held for the full 50 ms.
    let busy = MailboxId([8; 32]);
    let busy_key = SigningKey::from_bytes(&[8; 32]);
    let (watcher, _watcher_in) = relay.connect().await;
    watcher
        .create_mailbox(busy, &busy_key.verifying_key(), None)
        .await
        .unwrap();
    watcher.subscribe(busy, &busy_key).await.unwrap();

    let (inbox, mut inbox_in) = relay.connect().await;
    let (control, _control_in) = relay.connect().await;
    inbox
        .create_mailbox(mailbox, &owner.verifying_key(), None)
        .await
        .unwrap();
    let (sent, subscribed, ()) = tokio::join!(
        inbox.send(envelope(busy, numbered(1))),
        inbox.subscribe(mailbox, &owner),
        async {
            sleep(Duration::from_millis(10)).await;
            control.delete_mailbox(mailbox, &owner).await.unwrap();
        }
    );
    sent.unwrap();
    subscribed.unwrap();

    let newcomer = SigningKey::from_bytes(&[2; 32]);
    control
        .create_mailbox(mailbox, &newcomer.verifying_key(), None)
        .await
        .unwrap();
    control.send(envelope(mailbox, numbered(2))).await.unwrap();
    assert_nothing_delivered(&mut inbox_in).await;
    let refused = inbox.ack(mailbox, numbered(2)).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotSubscribed));
}

/// Finding 13.3: with the recipient online, an envelope is pushed before the
/// store sees it, and an acked held write never reaches the store. The lock
/// must therefore be checked before the push: a plain or wrong-key send to a
/// locked mailbox reaches neither the subscriber nor the store.
#[tokio::test(start_paused = true)]
async fn a_locked_mailbox_pushes_only_what_its_send_key_opens() {
    use cairn_protocol::frames::SendKey;
    let relay = TestRelay::start().await;
    let mailbox = MailboxId([8; 32]);
    let owner = SigningKey::from_bytes(&[1; 32]);
    let key = SendKey::from_bytes([4; 32]);
    let (inbox, mut inbox_in) = relay.connect().await;
    let (sender, _sender_in) = relay.connect().await;
    inbox
        .create_locked_mailbox(mailbox, &owner.verifying_key(), &key.lock(), None)
        .await
        .unwrap();
    inbox.subscribe(mailbox, &owner).await.unwrap();

    let plain = sender.send(envelope(mailbox, numbered(1))).await;
    assert_eq!(plain.unwrap_err().code(), Some(ErrorCode::SendKeyRefused));
    let wrong = SendKey::from_bytes([5; 32]);
    let refused = sender
        .send_locked(&wrong, envelope(mailbox, numbered(2)))
        .await;
    assert_eq!(refused.unwrap_err().code(), Some(ErrorCode::SendKeyRefused));
    assert_nothing_delivered(&mut inbox_in).await;

    // The right key: pushed at once, and the sender's Ok comes with the ack.
    let sent = tokio::spawn({
        let sender = sender.clone();
        let envelope = envelope(mailbox, numbered(3));
        let key = key.clone();
        async move { sender.send_locked(&key, envelope).await }
    });
    let delivery = timeout(Duration::from_secs(5), inbox_in.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.message, numbered(3));
    inbox.ack(mailbox, numbered(3)).await.unwrap();
    sent.await.unwrap().unwrap();
    assert_nothing_delivered(&mut inbox_in).await;
    assert_eq!(relay.store.stats().await.unwrap().messages, 0);
    assert_eq!(relay.metrics.refusals(ErrorCode::SendKeyRefused), 2);
}

/// Issue 16: one address held every slot of a relay capped at 40
/// connections with sockets that never finished a handshake, and a real
/// user was refused. Now one source gets at most half the slots, refused
/// before TLS, and everyone else still gets in.
#[tokio::test]
async fn one_source_cannot_take_every_connection_slot() {
    let relay = TestRelay::start_with(|c| c.limits.max_connections = 40).await;
    let target: std::net::SocketAddr = format!("127.0.0.1:{}", relay.address.port())
        .parse()
        .unwrap();
    let mut flood = Vec::new();
    for _ in 0..40 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        flood.push(socket.connect(target).await.unwrap());
    }
    let refused = &relay.metrics.connections_refused_per_source;
    let deadline = Instant::now() + Duration::from_secs(10);
    while refused.get() < 20 && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(refused.get(), 20, "half the slots for one source");
    assert_eq!(relay.metrics.connections_refused.get(), 0);
    // A real user from another address gets in and is served.
    let (client, _deliveries) = relay.connect().await;
    let key = SigningKey::from_bytes(&[7; 32]);
    client
        .create_mailbox(MailboxId([7; 32]), &key.verifying_key(), None)
        .await
        .unwrap();
    // The refused sockets were closed at once, without a handshake.
    let mut closed = 0;
    for stream in &mut flood {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) = timeout(Duration::from_millis(50), stream.read(&mut byte)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 20);
}

/// Issue 16: one connection created 2,000 mailboxes in seconds. Creations
/// are limited per client address (here 3 at once, then one an hour),
/// refused with `RateLimited` and counted, whatever connection they use.
#[tokio::test]
async fn mailbox_creations_are_limited_per_source() {
    let relay = TestRelay::start_with(|c| {
        c.limits.mailbox_creations = Rate {
            per_second: 1.0 / 3600.0,
            burst: 3.0,
        };
    })
    .await;
    let key = SigningKey::from_bytes(&[5; 32]);
    let (first, _in1) = relay.connect().await;
    for n in 0..3u8 {
        first
            .create_mailbox(MailboxId([n; 32]), &key.verifying_key(), None)
            .await
            .unwrap();
    }
    let (second, _in2) = relay.connect().await;
    let refused = second
        .create_locked_mailbox(MailboxId([9; 32]), &key.verifying_key(), &[1; 32], None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::RateLimited));
    assert_eq!(relay.metrics.refusals(ErrorCode::RateLimited), 1);
    // Everything else still works for that source.
    second.subscribe(MailboxId([0; 32]), &key).await.unwrap();
}

/// Issue 16: one connection stored 64 MiB/s, one address 320 MiB/s. Bytes
/// are limited per connection and per address, not only frames: here a
/// connection gets 40 KiB at once, the address 60 KiB, then (almost) nothing.
#[tokio::test]
async fn bytes_are_limited_per_connection_and_per_source() {
    let slow = |burst: f64| Rate {
        per_second: 1.0,
        burst,
    };
    let relay = TestRelay::start_with(|c| {
        c.limits.bytes_per_connection = slow(40.0 * 1024.0);
        c.limits.bytes_per_ip = slow(60.0 * 1024.0);
    })
    .await;
    let key = SigningKey::from_bytes(&[6; 32]);
    let mailbox = MailboxId([6; 32]);
    let (first, _in1) = relay.connect().await;
    first
        .create_mailbox(mailbox, &key.verifying_key(), None)
        .await
        .unwrap();
    let big = |n: u16| sized_envelope(mailbox, numbered(n), 16_384);
    first.send(big(1)).await.unwrap();
    first.send(big(2)).await.unwrap();
    let refused = first.send(big(3)).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(ErrorCode::RateLimited),
        "the connection's 40 KiB"
    );
    // Another connection from the same address has its own 40 KiB, but the
    // address's 60 KiB are nearly spent.
    let (second, _in2) = relay.connect().await;
    second.send(big(4)).await.unwrap();
    let refused = second.send(big(5)).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(ErrorCode::RateLimited),
        "the address's 60 KiB"
    );
    assert_eq!(relay.metrics.refusals(ErrorCode::RateLimited), 2);
}
