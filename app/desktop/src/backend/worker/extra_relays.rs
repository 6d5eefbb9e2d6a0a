//! The worker's extra relays: kept in the encrypted profile, moved there
//! from an old `prefs.json` once, and probed for reachability.

use std::time::Duration;

use cairn_core::client::ClientError;
use cairn_core::messenger::probe;
use cairn_protocol::relay_address::RelayAddress;

use super::Worker;
use crate::commands::{Event, Failure, RelayHealth, Request};

impl Worker {
    /// Moves extra relays from an old `prefs.json` into the open profile,
    /// once. Malformed or duplicate entries are dropped; if the profile
    /// cannot be written they stay in `prefs.json` for the next unlock.
    pub(super) async fn move_legacy_relays(&mut self) {
        if self.legacy_relays.is_empty() {
            return;
        }
        let now = self.now();
        let Some(open) = self.open.as_ref() else {
            return;
        };
        let list = self.legacy_relays.clone();
        let moved = open
            .messenger
            .update(move |c| {
                for text in &list {
                    match c.add_extra_relay(text, now) {
                        // Unusable entries (a plaintext relay off loopback is
                        // now refused everywhere) are dropped, not kept forever.
                        Ok(_)
                        | Err(
                            ClientError::Address(_)
                            | ClientError::RelayListed(_)
                            | ClientError::PlaintextRelay(_),
                        ) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })
            .await
            .and_then(|r| r.map_err(Into::into));
        match moved {
            Ok(()) => {
                self.legacy_relays.clear();
                self.emit(Event::LegacyRelaysMoved);
            }
            Err(e) => self.emit(Event::Failed {
                request: Request::Settings,
                error: Box::new(Failure::Messenger(e)),
            }),
        }
    }

    /// Reloads the extra relays from the profile and tells the UI.
    pub(super) async fn load_extra_relays(&mut self) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        match open.messenger.query(|c| c.extra_relays()).await {
            Ok(Ok(list)) => open.extra_relays = list,
            Ok(Err(e)) => {
                let error = Box::new(Failure::Client(e));
                self.emit(Event::Failed {
                    request: Request::Settings,
                    error,
                });
            }
            Err(e) => self.emit(Event::Failed {
                request: Request::Settings,
                error: Box::new(Failure::Messenger(e)),
            }),
        }
        let Some(open) = self.open.as_ref() else {
            return;
        };
        self.emit(Event::ExtraRelays(open.extra_relays.clone()));
        if let Ok(Ok(allowed)) = open.messenger.query(|c| c.allow_private_relays()).await {
            self.emit(Event::AllowPrivateRelays(allowed));
        }
    }

    /// Connects to each extra relay (and hangs up) to show whether it is
    /// reachable and its pin holds; relays in use report through the messenger.
    pub(super) async fn probe_extra_relays(&mut self) {
        let Some(open) = self.open.as_ref() else {
            return;
        };
        let options = self.dial();
        let mut results = Vec::new();
        for text in open.extra_relays.clone() {
            let health = match text.parse::<RelayAddress>() {
                Err(e) => RelayHealth::Failed(format!("invalid address: {e}")),
                Ok(address) => {
                    match tokio::time::timeout(Duration::from_secs(4), probe(&address, &options))
                        .await
                    {
                        Ok(Ok(())) => RelayHealth::Connected,
                        Ok(Err(e)) => RelayHealth::Failed(e.to_string()),
                        Err(_) => RelayHealth::Failed("no answer within 4 s".into()),
                    }
                }
            };
            results.push((text, health));
        }
        if let Some(open) = self.open.as_mut() {
            open.health.extend(results);
        }
        self.emit_relays().await;
    }
}
