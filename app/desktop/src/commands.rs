//! The two message types between the UI thread and the backend thread.
//!
//! The UI sends [`Command`]s and never waits for an answer; the backend
//! replies with [`Event`]s (plain display data, no keys) and asks egui to
//! repaint.

use std::path::PathBuf;

use cairn_core::client::TimelineItem;
use cairn_core::store::{Contact, MessageRecord, PageCursor};
use zeroize::Zeroizing;

/// A passphrase on its way to the backend; wiped when dropped.
pub type Secret = Zeroizing<String>;

/// What the UI asks the backend to do.
#[derive(Debug)]
pub enum Command {
    /// Start the in-process relay listening on `listen` (e.g. `127.0.0.1:0`).
    StartLocalRelay {
        /// Socket address to bind.
        listen: String,
    },
    /// Create a new profile whose home relay is `relay`.
    CreateProfile {
        /// Display name.
        name: String,
        /// Passphrase (already confirmed by the UI).
        passphrase: Secret,
        /// Relay address text.
        relay: String,
    },
    /// Unlock the existing profile.
    Unlock {
        /// Passphrase.
        passphrase: Secret,
    },
    /// Restore an encrypted backup into the (empty) profile directory and unlock it.
    Import {
        /// Backup file.
        file: PathBuf,
        /// The backup's passphrase.
        passphrase: Secret,
    },
    /// Close the profile and forget the session keys in memory.
    Lock,
    /// Create an invite whose mailbox lives on `relay` (our home relay if `None`).
    CreateInvite {
        /// One of our extra relays, by address text.
        relay: Option<String>,
    },
    /// Accept someone's invite, naming them `name`.
    AcceptInvite {
        /// The `cairn:` link.
        invite: String,
        /// Local name for the inviter.
        name: String,
    },
    /// Load the newest page of a conversation and keep sending its updates; marks it read.
    OpenChat {
        /// Contact name.
        name: String,
    },
    /// Open a conversation loaded back to one message (a search hit).
    OpenChatAt {
        /// Contact name.
        name: String,
        /// Message row id.
        message: i64,
    },
    /// Load the page of history before `before` in the open conversation.
    LoadOlder {
        /// Contact name.
        name: String,
        /// Where the loaded window starts.
        before: PageCursor,
    },
    /// Give a contact another local name.
    RenameContact {
        /// Current name.
        name: String,
        /// New name.
        new_name: String,
    },
    /// Change our own display name.
    SetProfileName {
        /// New name.
        name: String,
    },
    /// Extra relays found in an old `prefs.json`: moved into the encrypted
    /// profile at the next unlock (answered by [`Event::LegacyRelaysMoved`]).
    AdoptLegacyRelays(Vec<String>),
    /// Add a relay besides the home relay: checked in settings, offered for invites.
    AddExtraRelay(String),
    /// Remove an extra relay (full address text).
    RemoveExtraRelay(String),
    /// Allow (or refuse again) relays on private and local networks in
    /// invites and handshakes (answered by [`Event::AllowPrivateRelays`]).
    SetAllowPrivateRelays(bool),
    /// No conversation is open (read receipts stop).
    CloseChat,
    /// Send a text message.
    Send {
        /// Contact name.
        name: String,
        /// Text.
        text: String,
    },
    /// Mark the contact verified if `digits` match the safety number.
    Verify {
        /// Contact name.
        name: String,
        /// What the user typed or pasted.
        digits: String,
    },
    /// Accept a contact's new identity key.
    AcceptKeyChange {
        /// Contact name.
        name: String,
    },
    /// Full-text search over all conversations.
    Search {
        /// Query words.
        query: String,
    },
    /// Write an encrypted backup.
    Export {
        /// Target file (must not exist).
        file: PathBuf,
        /// Passphrase protecting the backup.
        passphrase: Secret,
    },
    /// Sync with the relays now instead of at the next tick.
    SyncNow,
    /// Save the UI preferences (file I/O stays off the UI thread).
    SavePrefs {
        /// The preferences.
        prefs: crate::prefs::Prefs,
        /// Target file.
        path: PathBuf,
    },
    /// Show a desktop notification (the UI knows whether it is focused).
    Notify {
        /// Title.
        summary: String,
        /// Text.
        body: String,
    },
}

/// Connection state of one relay, as last observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayHealth {
    /// Not tried yet.
    Unknown,
    /// The last sync reached it.
    Connected,
    /// The last sync failed with this message.
    Failed(String),
}

/// One relay we use, for the settings screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayStatus {
    /// Address text without the pin.
    pub address: String,
    /// Certificate pin (empty for loopback plaintext).
    pub pin: String,
    /// Our home relay (new mailboxes are created there).
    pub home: bool,
    /// Added by the user in settings (can be removed there).
    pub extra: bool,
    /// The full address text, pin included, as the user would paste it.
    pub full: String,
    /// Reachability.
    pub health: RelayHealth,
}

/// One row of the contact list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSummary {
    /// The contact.
    pub contact: Contact,
    /// Incoming messages not yet shown.
    pub unread: usize,
    /// Text of the newest message.
    pub last_preview: Option<String>,
    /// Time of the newest item, for ordering the list.
    pub last_at_ms: u64,
}

/// Who we are, once unlocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInfo {
    /// Our display name.
    pub name: String,
    /// Home relay address text.
    pub home_relay: String,
    /// Profile directory.
    pub dir: PathBuf,
}

/// What the backend reports.
#[derive(Debug)]
pub enum Event {
    /// Whether a profile already exists (sent once at start).
    ProfileExists(bool),
    /// The built-in relay is listening at this address.
    LocalRelayStarted(String),
    /// The profile is open.
    Unlocked(ProfileInfo),
    /// Unlocking failed; the message says why (e.g. wrong passphrase).
    UnlockFailed(String),
    /// The profile was closed.
    Locked,
    /// The contact list changed.
    Contacts(Vec<ContactSummary>),
    /// The newest part of the open chat's history (replaces what is shown).
    Timeline {
        /// Contact name.
        name: String,
        /// Messages and events in order.
        items: Vec<TimelineItem>,
        /// Where older history starts, if there is more.
        older: Option<PageCursor>,
    },
    /// An older page of the open chat, to put above what is shown.
    OlderPage {
        /// Contact name.
        name: String,
        /// Messages and events in order.
        items: Vec<TimelineItem>,
        /// Where still older history starts, if there is more.
        older: Option<PageCursor>,
    },
    /// Our profile changed (display name).
    Profile(ProfileInfo),
    /// A contact was renamed.
    Renamed {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A new invite to show.
    Invite(String),
    /// A new contact was added (by us accepting, or them accepting ours).
    ContactAdded(String),
    /// A message arrived (for notifications).
    Incoming {
        /// Contact name.
        contact: String,
        /// Text.
        body: String,
    },
    /// Search results, newest first.
    SearchResults(Vec<(String, MessageRecord)>),
    /// The contact is now verified.
    Verified(String),
    /// Relay reachability after a sync.
    Relays(Vec<RelayStatus>),
    /// The profile's extra relays (full address text), after unlock or a change.
    ExtraRelays(Vec<String>),
    /// Whether relays on private networks are allowed, after unlock or a change.
    AllowPrivateRelays(bool),
    /// The legacy extra relays are in the profile now: drop them from `prefs.json`.
    LegacyRelaysMoved,
    /// Messages waiting for a relay ack.
    Outbox(usize),
    /// A short confirmation to show (backup written, ...).
    Notice(String),
    /// Something failed; shown to the user, the app keeps running.
    Error(String),
}
