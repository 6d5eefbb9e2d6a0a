//! The client: a profile plus the protocol, as commands that change state.
//!
//! Everything here is synchronous and free of network I/O: each operation
//! takes its inputs (including `now`) and commits its effects to the store in
//! one transaction. The messenger ([`crate::messenger`]) feeds it received
//! envelopes and drains its outbox for both the CLI and the desktop app. No UI
//! types appear here.

mod error;
mod events;
mod handshake_in;
mod history;
mod housekeeping;
mod invites;
mod mailbox_move;
mod names;
mod people;
mod receive;
mod relays;
mod restore;
mod rotate;
mod send;
mod sessions;

use std::path::Path;

use cairn_protocol::identity::{Identity, PublicIdentity};
use cairn_protocol::relay_address::RelayAddress;
use zeroize::Zeroizing;

use crate::profile::Profile;
use crate::profile::kdf::KdfParams;
use crate::store::{Store, StoreError};

pub use error::ClientError;
pub use events::ClientEvent;
pub use history::TimelineItem;
pub use housekeeping::{
    Housekeeping, MOVE_CONFIRMATION_WAIT_MS, MOVE_GRACE_MS, SEEN_ENVELOPE_RETENTION_MS,
};
pub use invites::{CreatedInvite, INVITE_TTL_SECS, InvitePublication, NewMailbox, OpenInvite};
pub use names::{MAX_NAME_LEN, looks_alike, validate_name};
pub use people::Verification;
pub use receive::{Delivery, ReceiveReport};
pub use relays::canonical_relay;

/// Result alias for client operations.
pub type ClientResult<T> = Result<T, ClientError>;

/// Settings keys.
pub(crate) mod keys {
    /// 32-byte identity seed (secret).
    pub(crate) const IDENTITY_SEED: &str = "identity_seed";
    /// Our display name, sent to people who accept our invites.
    pub(crate) const PROFILE_NAME: &str = "profile_name";
    /// Relay address text where we create our mailboxes.
    pub(crate) const HOME_RELAY: &str = "home_relay";
    /// Access token for creating mailboxes on the home relay, if it requires one (secret).
    pub(crate) const HOME_RELAY_TOKEN: &str = "home_relay_token";
    /// `1` if relays on private networks may be used when others name them.
    pub(crate) const ALLOW_PRIVATE_RELAYS: &str = "allow_private_relays";
    /// Former home relays (address text, one per line) whose conversations
    /// still move to the home relay (`Client::change_home_relay`).
    pub(crate) const FORMER_HOME_RELAYS: &str = "former_home_relays";
}

/// An unlocked profile with its identity loaded.
pub struct Client {
    profile: Profile,
    identity: Identity,
    name: String,
    home_relay: RelayAddress,
    sessions: sessions::SessionCache,
    /// Receipt window in ms after the event they confirm ([`Client::set_receipt_delay`]).
    receipt_delay: (u64, u64),
}

/// Default receipt window: long enough that the relay cannot pair the
/// connection that received with the one that confirms by timing alone in a
/// busy relay, short enough that "delivered" still feels immediate.
pub const RECEIPT_DELAY_MS: (u64, u64) = (1_000, 5_000);

/// How long after our message the peer's own message may still not
/// acknowledge it before ours is marked unconfirmed (PROTOCOL.md §11): the
/// clock difference tolerated between peers
/// ([`crate::store::MAX_CLOCK_DIFFERENCE_MS`]) plus as long again for delivery.
pub const UNCONFIRMED_AFTER_MS: u64 = 2 * crate::store::MAX_CLOCK_DIFFERENCE_MS;

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("name", &self.name)
            .field("public", &self.identity.public())
            .finish_non_exhaustive()
    }
}

/// Parameters for a new profile.
#[derive(Debug, Clone)]
pub struct InitOptions<'a> {
    /// Profile directory (created; must be empty).
    pub dir: &'a Path,
    /// Passphrase the database key is derived from.
    pub passphrase: &'a [u8],
    /// Argon2id cost; [`KdfParams::DEFAULT`] outside tests.
    pub kdf: KdfParams,
    /// Our display name.
    pub name: &'a str,
    /// The relay where our mailboxes live.
    pub relay: RelayAddress,
    /// Token the relay requires to create mailboxes, if any.
    pub access_token: Option<&'a str>,
}

impl Client {
    /// Creates a profile with a fresh identity. Refuses a plain `ws://`
    /// home relay off loopback ([`ClientError::PlaintextRelay`]).
    pub fn init(opts: &InitOptions<'_>, now_ms: u64) -> ClientResult<Self> {
        let name = validate_name(opts.name)?;
        relays::check_transport(&opts.relay)?;
        let identity = Identity::generate(&mut rand::rng());
        let mut profile = Profile::create(opts.dir, opts.passphrase, opts.kdf)?;
        let relay_text = opts.relay.to_string();
        profile.store_mut().write(|db| {
            db.set_setting(keys::IDENTITY_SEED, identity.seed())?;
            db.set_setting(keys::PROFILE_NAME, name.as_bytes())?;
            db.set_setting(keys::HOME_RELAY, relay_text.as_bytes())?;
            db.ensure_relay(&relay_text, now_ms)?;
            if let Some(token) = opts.access_token {
                db.set_setting(keys::HOME_RELAY_TOKEN, token.as_bytes())?;
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(Self {
            profile,
            identity,
            name,
            home_relay: opts.relay.clone(),
            sessions: Default::default(),
            receipt_delay: RECEIPT_DELAY_MS,
        })
    }

    /// Unlocks an existing profile.
    pub fn open(dir: &Path, passphrase: &[u8]) -> ClientResult<Self> {
        Self::from_profile(Profile::open(dir, passphrase)?)
    }

    /// Restores an exported backup into `dir` and opens it. Every session is
    /// renewed first (a fresh DH step and the signed notice *session
    /// restored*, queued in the outbox ahead of anything else): the backup's
    /// ratchet states may have been used by the original device since
    /// (PROTOCOL.md §2). The directory becomes a profile only once that is done.
    pub fn import(backup: &Path, dir: &Path, passphrase: &[u8], now_ms: u64) -> ClientResult<Self> {
        let profile = Profile::import_with(backup, dir, passphrase, |store| {
            restore::renew_sessions(store, now_ms).map(|_| ())
        })?;
        Self::from_profile(profile)
    }

    fn from_profile(profile: Profile) -> ClientResult<Self> {
        let db = profile.store().read();
        let identity = stored_identity(&db)?;
        let name = db
            .setting_text(keys::PROFILE_NAME)?
            .ok_or(ClientError::Incomplete("profile name"))?;
        let home_relay = db
            .setting_text(keys::HOME_RELAY)?
            .ok_or(ClientError::Incomplete("home relay"))?
            .parse()?;
        Ok(Self {
            profile,
            identity,
            name,
            home_relay,
            sessions: Default::default(),
            receipt_delay: RECEIPT_DELAY_MS,
        })
    }

    /// Writes an encrypted backup of the whole profile (see [`Profile::export`]).
    pub fn export(&self, file: &Path, passphrase: &[u8]) -> ClientResult<()> {
        Ok(self.profile.export(file, passphrase)?)
    }

    /// Our display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Our public identity.
    pub fn public(&self) -> PublicIdentity {
        self.identity.public()
    }

    /// The relay where new mailboxes are created.
    pub fn home_relay(&self) -> &RelayAddress {
        &self.home_relay
    }

    /// Token for creating mailboxes on the home relay, if one was configured.
    pub fn access_token(&self) -> ClientResult<Option<Zeroizing<Vec<u8>>>> {
        Ok(self.store().read().setting(keys::HOME_RELAY_TOKEN)?)
    }

    /// The profile directory.
    pub fn dir(&self) -> &Path {
        self.profile.dir()
    }

    pub(crate) fn store(&self) -> &Store {
        self.profile.store()
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        self.profile.store_mut()
    }
}

/// Our identity key pair, from the seed the profile stores.
pub(crate) fn stored_identity(db: &crate::store::Db<'_>) -> ClientResult<Identity> {
    let seed = db
        .setting(keys::IDENTITY_SEED)?
        .ok_or(ClientError::Incomplete("identity"))?;
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
        seed.as_slice()
            .try_into()
            .map_err(|_| StoreError::Malformed("identity seed"))?,
    );
    Ok(Identity::from_seed(*seed))
}

#[cfg(test)]
mod chat_tests;
#[cfg(test)]
mod plaintext_tests;
#[cfg(test)]
mod private_relay_tests;
#[cfg(test)]
mod restore_tests;
#[cfg(test)]
pub(crate) mod tests;
