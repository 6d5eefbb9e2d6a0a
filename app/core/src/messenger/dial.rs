//! Opening relay connections with the app's transport policy, and the
//! one-shot connections that create a mailbox or probe a relay.

use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_relay_client::{ConnectOptions, Deliveries, RelayClient};
use ed25519_dalek::SigningKey;

use super::NetError;
use crate::client::NewMailbox;

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
