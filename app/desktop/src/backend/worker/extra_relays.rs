//! The worker's extra relays: kept in the encrypted profile, moved there
//! from an old `prefs.json` once, and probed for reachability.

use cairn_core::client::ClientError;
use cairn_core::net::{Connector, WsConnector};
use cairn_protocol::relay_address::RelayAddress;

use super::Worker;
use crate::commands::{Event, RelayHealth};

impl Worker {
    /// Moves extra relays from an old `prefs.json` into the open profile,
    /// once. Malformed or duplicate entries are dropped; if the profile
    /// cannot be written they stay in `prefs.json` for the next unlock.
    pub(super) fn move_legacy_relays(&mut self) {
        if self.legacy_relays.is_empty() {
            return;
        }
        let now = self.now();
        let Some(client) = self.client.as_mut() else {
            return;
        };
        for text in &self.legacy_relays {
            match client.add_extra_relay(text, now) {
                // Unusable entries (a plaintext relay off loopback is now
                // refused everywhere) are dropped rather than kept forever.
                Ok(_)
                | Err(
                    ClientError::Address(_)
                    | ClientError::RelayListed(_)
                    | ClientError::PlaintextRelay(_),
                ) => {}
                Err(e) => {
                    self.emit(Event::Error(format!(
                        "could not move your extra relays into the profile: {e}"
                    )));
                    return;
                }
            }
        }
        self.legacy_relays.clear();
        self.emit(Event::LegacyRelaysMoved);
    }

    /// Reloads the extra relays from the profile and tells the UI.
    pub(super) fn load_extra_relays(&mut self) {
        let Some(client) = self.client.as_ref() else {
            return;
        };
        match client.extra_relays() {
            Ok(list) => self.extra_relays = list,
            Err(e) => self.emit(Event::Error(format!("could not read extra relays: {e}"))),
        }
        self.emit(Event::ExtraRelays(self.extra_relays.clone()));
        match client.allow_private_relays() {
            Ok(allowed) => self.emit(Event::AllowPrivateRelays(allowed)),
            Err(e) => self.emit(Event::Error(format!("could not read relay settings: {e}"))),
        }
    }

    /// Stores the private-relay setting and tells the UI.
    pub(super) fn set_allow_private_relays(&mut self, allow: bool) -> Result<(), String> {
        let Some(client) = self.client.as_mut() else {
            return Err("the profile is locked".into());
        };
        client
            .set_allow_private_relays(allow)
            .map_err(|e| e.to_string())?;
        self.emit(Event::AllowPrivateRelays(allow));
        Ok(())
    }

    pub(super) async fn add_extra_relay(&mut self, text: &str) -> Result<(), String> {
        let now = self.now();
        let Some(client) = self.client.as_mut() else {
            return Err("the profile is locked".into());
        };
        client
            .add_extra_relay(text, now)
            .map_err(|e| e.to_string())?;
        self.load_extra_relays();
        self.probe_extra_relays().await;
        Ok(())
    }

    pub(super) fn remove_extra_relay(&mut self, text: &str) -> Result<(), String> {
        let Some(client) = self.client.as_mut() else {
            return Err("the profile is locked".into());
        };
        client.remove_extra_relay(text).map_err(|e| e.to_string())?;
        self.health.remove(text);
        self.load_extra_relays();
        self.emit_relays();
        Ok(())
    }

    /// Connects to each extra relay that no mailbox of ours uses (those are
    /// checked by every sync), to show whether it is reachable and its pin holds.
    pub(super) async fn probe_extra_relays(&mut self) {
        let Some(client) = self.client.as_ref() else {
            return;
        };
        let used: Vec<String> = client
            .active_mailboxes()
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.relay)
            .collect();
        let connector = WsConnector {
            allow_plaintext_loopback: self.config.allow_plaintext_loopback,
            ..WsConnector::default()
        };
        for text in self.extra_relays.clone() {
            if used.contains(&text) {
                continue;
            }
            let health = match text.parse::<RelayAddress>() {
                Err(e) => RelayHealth::Failed(format!("invalid address: {e}")),
                Ok(address) => {
                    let attempt = connector.connect(&address);
                    match tokio::time::timeout(std::time::Duration::from_secs(4), attempt).await {
                        Ok(Ok(_link)) => RelayHealth::Connected,
                        Ok(Err(e)) => RelayHealth::Failed(e.to_string()),
                        Err(_) => RelayHealth::Failed("no answer within 4 s".into()),
                    }
                }
            };
            self.health.insert(text, health);
        }
        self.emit_relays();
    }
}
