//! The user's extra relays: relays besides the home relay that the apps
//! check and offer for invites. Kept in the encrypted profile, since which
//! relays (and pins) someone uses is metadata about them.

use cairn_protocol::relay_address::{NonPublicHost, RelayAddress};

use super::{Client, ClientError, ClientResult, keys};
use crate::store::{Db, StoreResult};

/// The protocol's plaintext rule ([`RelayAddress::check_transport`], the one
/// the relay client applies when dialling), applied here too so such an
/// address never enters the profile.
pub(crate) fn check_transport(address: &RelayAddress) -> ClientResult<()> {
    address
        .check_transport()
        .map_err(|e| ClientError::PlaintextRelay(e.relay))
}

/// The private-relay rule (PROTOCOL.md §6) for a relay address someone else
/// named — the relay of an invite we accept, the reply relay a handshake
/// names: its host must be on the public internet
/// ([`RelayAddress::non_public`]), unless the user allowed private relays
/// ([`Client::set_allow_private_relays`]), or it is on this machine and so is
/// our own home relay (everything on one computer: development and tests).
/// Dialling it would otherwise tell the contact our IP address at a host of
/// their choosing on our own network (a router, a printer, a cloud metadata
/// service). The plaintext rule applies as well.
pub(crate) fn check_remote_relay(db: &Db<'_>, address: &RelayAddress) -> ClientResult<()> {
    check_transport(address)?;
    let Some(kind) = address.non_public() else {
        return Ok(());
    };
    if allows_private_relays(db)? {
        return Ok(());
    }
    if kind == NonPublicHost::Loopback {
        let home = db.setting_text(keys::HOME_RELAY)?;
        let home = home.as_deref().and_then(|h| h.parse::<RelayAddress>().ok());
        if home.is_some_and(|h| h.is_loopback()) {
            return Ok(());
        }
    }
    Err(ClientError::PrivateRelay {
        relay: address.to_string(),
        kind,
    })
}

fn allows_private_relays(db: &Db<'_>) -> StoreResult<bool> {
    Ok(db
        .setting(keys::ALLOW_PRIVATE_RELAYS)?
        .is_some_and(|v| v.as_slice() == b"1"))
}

impl Client {
    /// True if the user allowed relays on private and local networks in
    /// addresses others name (off by default; see [`check_remote_relay`]).
    pub fn allow_private_relays(&self) -> ClientResult<bool> {
        Ok(allows_private_relays(&self.store().read())?)
    }

    /// Allows or refuses relays on private and local networks in invites
    /// and handshakes (for testing on a LAN with the built-in relay).
    pub fn set_allow_private_relays(&mut self, allow: bool) -> ClientResult<()> {
        let value: &[u8] = if allow { b"1" } else { b"0" };
        Ok(self
            .store_mut()
            .write(|db| db.set_setting(keys::ALLOW_PRIVATE_RELAYS, value))?)
    }

    /// Extra relays (canonical address text, pin included), in the order added.
    pub fn extra_relays(&self) -> ClientResult<Vec<String>> {
        Ok(self.store().read().extra_relays()?)
    }

    /// Adds an extra relay after checking the address; returns its canonical
    /// text. Refuses the home relay, relays already in the list and plain
    /// `ws://` relays off loopback ([`ClientError::PlaintextRelay`]).
    pub fn add_extra_relay(&mut self, address: &str, now_ms: u64) -> ClientResult<String> {
        let address = address.trim().parse::<RelayAddress>()?;
        check_transport(&address)?;
        let text = address.to_string();
        if text == self.home_relay().to_string() {
            return Err(ClientError::RelayListed(text));
        }
        let added = self
            .store_mut()
            .write(|db| db.add_extra_relay(&text, now_ms))?;
        if !added {
            return Err(ClientError::RelayListed(text));
        }
        Ok(text)
    }

    /// Removes an extra relay (by the text [`Self::extra_relays`] gave, or
    /// any spelling of the same address); `false` if it was not in the list.
    pub fn remove_extra_relay(&mut self, address: &str) -> ClientResult<bool> {
        let address = canonical_relay(address);
        Ok(self
            .store_mut()
            .write(|db| db.remove_extra_relay(&address))?)
    }
}

/// The canonical text of a relay address (as stored), or the trimmed input
/// if it does not parse (so an entry stored by an older build can still go).
pub fn canonical_relay(address: &str) -> String {
    let address = address.trim();
    address
        .parse::<RelayAddress>()
        .map_or_else(|_| address.to_owned(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::new_client;

    const PIN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn extra_relays_are_validated_and_survive_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = new_client(tmp.path(), "Alice");
        assert!(c.extra_relays().unwrap().is_empty());
        let wss = format!("  wss://relay.example:7447/#{PIN} ");
        let text = c.add_extra_relay(&wss, 5).unwrap();
        assert_eq!(text, format!("wss://relay.example:7447/#{PIN}"));
        c.add_extra_relay("ws://127.0.0.1:9", 6).unwrap();
        assert!(matches!(
            c.add_extra_relay("not a relay", 7),
            Err(ClientError::Address(_))
        ));
        assert!(matches!(
            c.add_extra_relay(&text, 8),
            Err(ClientError::RelayListed(_))
        ));
        // The home relay is not an extra one.
        assert!(matches!(
            c.add_extra_relay("ws://127.0.0.1:7447/", 9),
            Err(ClientError::RelayListed(_))
        ));
        drop(c);
        let mut c = Client::open(tmp.path(), b"pw").unwrap();
        assert_eq!(
            c.extra_relays().unwrap(),
            [text.clone(), "ws://127.0.0.1:9/".to_owned()]
        );
        // Any spelling of the address removes it.
        assert!(
            c.remove_extra_relay(
                " wss://relay.example:7447#AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            )
            .unwrap()
        );
        assert!(!c.remove_extra_relay(&text).unwrap());
        assert_eq!(c.extra_relays().unwrap(), ["ws://127.0.0.1:9/"]);
    }
}
