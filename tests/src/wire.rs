//! Talking to a relay under test: connect, wait for a delivery, drain what
//! arrives, encode a raw request (for tests that write frames by hand).

use std::time::Duration;

use cairn_protocol::frames::{ClientFrame, ClientRequest};
use cairn_protocol::invite::{Invite, InviteText};
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::{ConnectOptions, Deliveries, Delivery, RelayClient};

/// How long [`next`] waits: generous, since a loaded CI machine runs many
/// relays at once; a delivery that takes this long is a failure anyway.
pub const DELIVERY_WAIT: Duration = Duration::from_secs(30);

/// Connects to `relay` with default options (its pin checked).
pub async fn connect(relay: &RelayAddress) -> (RelayClient, Deliveries) {
    RelayClient::connect(relay, ConnectOptions::default())
        .await
        .expect("connect to the relay under test")
}

/// The next delivery, within [`DELIVERY_WAIT`].
pub async fn next(deliveries: &mut Deliveries) -> Delivery {
    tokio::time::timeout(DELIVERY_WAIT, deliveries.recv())
        .await
        .expect("a delivery in time")
        .expect("connection open")
}

/// Everything delivered within `quiet` of the previous delivery.
pub async fn drain(deliveries: &mut Deliveries, quiet: Duration) -> Vec<Delivery> {
    let mut got = Vec::new();
    while let Ok(Some(d)) = tokio::time::timeout(quiet, deliveries.recv()).await {
        got.push(d);
    }
    got
}

/// The invite a short `cairn:` link names, fetched from its relay as an
/// acceptor does (PROTOCOL.md §7.1), its expiry not checked.
pub async fn fetch_invite(text: &str) -> Invite {
    let Ok(InviteText::Link(link)) = InviteText::parse(text, 0) else {
        panic!("not a short invite link: {text}");
    };
    let keys = link.keys();
    let (client, mut deliveries) = connect(link.relay()).await;
    let auth = ed25519_dalek::SigningKey::from_bytes(&keys.auth_seed);
    client
        .subscribe(keys.mailbox, &auth)
        .await
        .expect("the link mailbox exists");
    let sealed = next(&mut deliveries).await;
    client.close().await;
    link.open(&sealed.envelope, 0)
        .expect("the sealed invite opens")
}

/// The bytes of one client request, for a raw WebSocket.
pub fn request(id: u32, frame: ClientFrame<'_>) -> Vec<u8> {
    ClientRequest {
        request_id: id,
        frame,
    }
    .encode()
}
