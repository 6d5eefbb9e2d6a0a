//! The two message types between the UI thread and the backend thread.
//!
//! The UI sends [`Command`]s and never waits for an answer; the backend
//! replies with [`Event`]s (plain display data, no keys) and asks egui to
//! repaint. Contacts are named by their stable [`ContactId`]; events say
//! what changed (a message added, a status raised, one contact row), so the
//! UI updates that and nothing else. A failure names the request it answers
//! ([`Request`]) and keeps its type ([`Failure`]).

use std::path::PathBuf;

use cairn_core::client::{ClientError, TimelineItem};
use cairn_core::messenger::MessengerError;
use cairn_core::store::{
    Contact, ContactId, IntegrityRecord, MessageRecord, MessageStatus, PageCursor,
};
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
        /// If that port is taken, take the next free one (first start: no
        /// contact knows the address yet). Off for a relay contacts already
        /// write to, whose port cannot change under them.
        any_port: bool,
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
    /// Withdraw one of our unused invites (by invite id).
    RevokeInvite {
        /// Invite id.
        id: [u8; 32],
    },
    /// Accept someone's invite, naming them `name`.
    AcceptInvite {
        /// The `cairn:` link.
        invite: String,
        /// Local name for the inviter.
        name: String,
    },
    /// Load the newest page of a conversation; marks it read while it is open.
    OpenChat {
        /// The contact.
        contact: ContactId,
    },
    /// Open a conversation loaded back to one message (a search hit).
    OpenChatAt {
        /// The contact.
        contact: ContactId,
        /// Message row id.
        message: i64,
    },
    /// Load the page of history before `before` in the open conversation.
    LoadOlder {
        /// The contact.
        contact: ContactId,
        /// Where the loaded window starts.
        before: PageCursor,
    },
    /// Give a contact another local name.
    RenameContact {
        /// The contact.
        contact: ContactId,
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
    /// Make this relay (full address) the home relay, moving every
    /// conversation there with a signed notice to each contact.
    ChangeHomeRelay(String),
    /// Remove an extra relay (full address text).
    RemoveExtraRelay(String),
    /// Allow (or refuse again) relays on private and local networks in
    /// invites and handshakes (answered by [`Event::AllowPrivateRelays`]).
    SetAllowPrivateRelays(bool),
    /// No conversation is open (read receipts stop).
    CloseChat,
    /// Send a text message.
    Send {
        /// The contact.
        contact: ContactId,
        /// Text.
        text: String,
    },
    /// Mark the contact verified if `digits` match the safety number.
    Verify {
        /// The contact.
        contact: ContactId,
        /// What the user typed or pasted.
        digits: String,
    },
    /// Our safety-number QR payload for the contact (PROTOCOL.md §13), for
    /// the verify pane: answered with [`Event::SafetyQr`].
    LoadSafetyQr {
        /// The contact.
        contact: ContactId,
    },
    /// Mark the contact verified if a picture of their QR code (a screenshot
    /// or photo dropped on the verify pane) holds their payload for us.
    VerifyImage {
        /// The contact.
        contact: ContactId,
        /// The picture.
        path: std::path::PathBuf,
    },
    /// Mark the contact verified after comparing both screens, or clear it.
    SetVerification {
        /// The contact.
        contact: ContactId,
        /// Compared (they match) or cleared.
        how: cairn_core::client::Verification,
    },
    /// Accept a contact's new identity key.
    AcceptKeyChange {
        /// The contact.
        contact: ContactId,
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
    /// Check every relay's reachability now (settings' "Check now").
    CheckRelays,
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

/// Which request a failure answers, so the UI shows it where it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Starting the built-in relay.
    StartRelay,
    /// Creating the profile.
    CreateProfile,
    /// Unlocking or importing.
    Unlock,
    /// Creating an invite.
    Invite,
    /// Accepting an invite.
    Accept,
    /// Sending a message.
    Send,
    /// Verifying a safety number.
    Verify,
    /// Accepting a new key.
    AcceptKey,
    /// Loading history, search and other reads.
    Load,
    /// Settings: names, relays, preferences, backup.
    Settings,
    /// Receiving in the background (not asked for by the user).
    Receive,
}

/// Why something failed, with its type intact.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// From the messenger (relay or client).
    #[error(transparent)]
    Messenger(#[from] MessengerError),
    /// From the client (opening a profile, local checks).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A relay address the user typed does not parse or is refused.
    #[error("invalid relay address: {0}")]
    Address(String),
    /// The built-in relay could not start.
    #[error("could not start the built-in relay: {0}")]
    Relay(String),
    /// The built-in relay's port is used by another program, and it cannot
    /// move: contacts know the relay by this address.
    #[error(
        "the built-in relay cannot start: port {port} is used by another program (another \
         Cairn, or a relay you run yourself). Quit that program and open Cairn again; your \
         contacts reach you at this port, so it cannot change"
    )]
    BuiltinPortTaken {
        /// The port.
        port: u16,
    },
    /// A file could not be written.
    #[error("{0}")]
    File(String),
    /// No safety number came out of a picture.
    #[error(transparent)]
    QrImage(#[from] cairn_core::qr_image::QrImageError),
    /// The profile is locked.
    #[error("the profile is locked")]
    Locked,
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
    /// Home, or a contact's: messages depend on it (an extra relay only
    /// offered for invites does not raise the connection banner).
    pub in_use: bool,
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
    /// The built-in relay is running.
    LocalRelayStarted {
        /// The address others paste (`wss://host:port/#pin`).
        address: String,
        /// What it listens on (the port it really got): remembered for the
        /// next launch.
        listen: String,
    },
    /// The profile is open.
    Unlocked(ProfileInfo),
    /// The profile was closed.
    Locked,
    /// The whole contact list (after unlock).
    Contacts(Vec<ContactSummary>),
    /// One contact's row changed (or is new); boxed, rows are large.
    ContactUpdated(Box<ContactSummary>),
    /// The newest part of a chat's history (replaces what is shown).
    Timeline {
        /// The contact.
        contact: ContactId,
        /// Messages and events in order.
        items: Vec<TimelineItem>,
        /// Where older history starts, if there is more.
        older: Option<PageCursor>,
    },
    /// An older page of the open chat, to put above what is shown.
    OlderPage {
        /// The contact.
        contact: ContactId,
        /// Messages and events in order.
        items: Vec<TimelineItem>,
        /// Where still older history starts, if there is more.
        older: Option<PageCursor>,
    },
    /// A message was stored: one we sent or one that arrived.
    MessageAdded(MessageRecord),
    /// Our messages to `contact` reached a new status.
    StatusChanged {
        /// The contact.
        contact: ContactId,
        /// Sender counters of the messages.
        counters: Vec<u64>,
        /// The new status.
        status: MessageStatus,
    },
    /// An integrity event was stored.
    IntegrityAdded(IntegrityRecord),
    /// Our profile changed (display name).
    Profile(ProfileInfo),
    /// A contact was renamed.
    Renamed {
        /// The contact.
        contact: ContactId,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A new invite to show.
    Invite(String),
    /// Our invites nobody has used yet (after unlock, and whenever one is
    /// created, used or revoked).
    Invites(Vec<cairn_core::client::OpenInvite>),
    /// A new contact was added (by us accepting, or them accepting ours).
    ContactAdded {
        /// The contact.
        contact: ContactId,
        /// Its name.
        name: String,
    },
    /// A message arrived (for notifications).
    Incoming {
        /// Contact name.
        name: String,
        /// Text.
        body: String,
    },
    /// Search results, newest first.
    SearchResults(Vec<MessageRecord>),
    /// Our safety-number QR payload for `contact` (§13).
    SafetyQr {
        /// The contact.
        contact: ContactId,
        /// The safety number it was computed for (the pane shows it only while it is current).
        digits: String,
        /// The payload to draw.
        payload: Vec<u8>,
    },
    /// The contact's verification changed.
    Verified {
        /// The contact.
        contact: ContactId,
        /// Verified now (false: the verification was cleared).
        verified: bool,
    },
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
    /// A request failed; shown where it was asked, the app keeps running.
    Failed {
        /// What was asked.
        request: Request,
        /// Why it failed (boxed: errors are rare, events are many).
        error: Box<Failure>,
    },
}
