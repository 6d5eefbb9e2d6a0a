//! Opening relay connections with the app's transport policy, and the
//! one-shot connections that create a mailbox, publish or fetch a sealed
//! invite, or probe a relay.

use cairn_protocol::frames::ErrorCode;
use cairn_protocol::invite::InviteLink;
use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_relay_client::{ConnectOptions, Deliveries, RelayClient};
use ed25519_dalek::SigningKey;

use super::NetError;
use crate::client::{InvitePublication, NewMailbox};

/// How connections are opened.
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    /// Timeouts and the delivery buffer.
    pub connect: ConnectOptions,
    /// Development only: dial plain `ws://` relays on this machine. Without it
    /// even loopback plaintext is refused (the protocol's rule, PROTOCOL.md §6,
    /// already refuses it everywhere else).
    pub allow_plaintext_loopback: bool,
}

/// Connects to `relay` (certificate pin enforced by the relay client).
pub async fn dial(
    relay: &RelayAddress,
    options: &DialOptions,
) -> Result<(RelayClient, Deliveries), NetError> {
    let text = relay.to_string();
    relay.check_transport()?;
    if relay.transport() == Transport::Plaintext && !options.allow_plaintext_loopback {
        return Err(NetError::Unreachable {
            relay: text,
            reason: "plain ws:// relays are for development only and need the explicit \
                     --allow-plaintext-loopback setting"
                .into(),
        });
    }
    RelayClient::connect(relay, options.connect.clone())
        .await
        .map_err(|e| NetError::from_client(&text, e))
}

/// Registers `mailbox` at its relay on a connection of its own, closed right
/// after: creating a mailbox never happens on a connection that subscribes or
/// sends, so the relay cannot tie the new mailbox to them (PROTOCOL.md §2).
pub async fn create_mailbox(
    mailbox: &NewMailbox,
    access_token: Option<&str>,
    options: &DialOptions,
) -> Result<(), NetError> {
    let text = mailbox.relay.to_string();
    let (client, _deliveries) = dial(&mailbox.relay, options).await?;
    let key = SigningKey::from_bytes(&mailbox.auth_seed);
    let result = match &mailbox.send_key {
        // A conversation mailbox: only the holder of the send key writes to it.
        Some(send_key) => {
            client
                .create_locked_mailbox(
                    mailbox.id,
                    &key.verifying_key(),
                    &send_key.lock(),
                    access_token,
                )
                .await
        }
        None => {
            client
                .create_mailbox(mailbox.id, &key.verifying_key(), access_token)
                .await
        }
    }
    .map_err(|e| NetError::from_client(&text, e));
    client.close().await;
    result
}

/// Connects to `relay` and hangs up: is it reachable, and does its pin hold?
pub async fn probe(relay: &RelayAddress, options: &DialOptions) -> Result<(), NetError> {
    let (client, _deliveries) = dial(relay, options).await?;
    client.close().await;
    Ok(())
}

/// How long a fetched link mailbox may stay silent after the subscription:
/// the relay pushes what it holds at once, so silence means the sealed invite
/// was taken away (used, withdrawn or expired).
const INVITE_FETCH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Publishes a sealed invite (PROTOCOL.md §7.1): creates its link mailbox,
/// send-locked with a key nobody keeps, on a connection of its own (as every
/// mailbox is created), then stores the envelope there.
pub(crate) async fn publish_invite(
    publication: &InvitePublication,
    access_token: Option<&str>,
    options: &DialOptions,
) -> Result<(), NetError> {
    let mailbox = &publication.mailbox;
    let text = mailbox.relay.to_string();
    let (client, _deliveries) = dial(&mailbox.relay, options).await?;
    let key = SigningKey::from_bytes(&mailbox.auth_seed);
    let created = client
        .create_locked_mailbox(
            mailbox.id,
            &key.verifying_key(),
            &publication.send_key.lock(),
            access_token,
        )
        .await
        .map_err(|e| NetError::from_client(&text, e));
    client.close().await;
    created?;
    let (client, _deliveries) = dial(&mailbox.relay, options).await?;
    let sent = client
        .send_locked(&publication.send_key, publication.envelope.clone())
        .await
        .map_err(|e| NetError::from_client(&text, e));
    client.close().await;
    sent
}

/// Fetches the sealed invite a short link names: subscribes to its link
/// mailbox with the key the link derives and takes the first envelope,
/// acknowledging nothing (the inviter deletes the mailbox once the invite is
/// used). `Ok(None)`: nothing waits there any more.
pub(crate) async fn fetch_invite(
    link: &InviteLink,
    options: &DialOptions,
) -> Result<Option<Vec<u8>>, NetError> {
    let relay = link.relay();
    let text = relay.to_string();
    let keys = link.keys();
    let (client, mut deliveries) = dial(relay, options).await?;
    let key = SigningKey::from_bytes(&keys.auth_seed);
    let result = match client.subscribe(keys.mailbox, &key).await {
        Ok(()) => Ok(tokio::time::timeout(INVITE_FETCH_WAIT, deliveries.recv())
            .await
            .ok()
            .flatten()
            .map(|d| d.envelope.to_vec())),
        Err(e) if e.code() == Some(ErrorCode::NoSuchMailbox) => Ok(None),
        Err(e) => Err(NetError::from_client(&text, e)),
    };
    client.close().await;
    result
}
