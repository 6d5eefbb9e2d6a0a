//! Client errors.

use cairn_protocol::handshake::HandshakeError;
use cairn_protocol::invite::InviteError;
use cairn_protocol::relay_address::{AddressError, NonPublicHost};
use cairn_protocol::safety_number::TypedDigitsError;
use cairn_protocol::session::SessionError;
use thiserror::Error;

use crate::profile::ProfileError;
use crate::store::StoreError;

/// Why a client operation failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Opening, creating or backing up the profile failed.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A database operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored relay address did not parse.
    #[error("invalid relay address: {0}")]
    Address(#[from] AddressError),
    /// The invite link is invalid, forged or expired.
    #[error("invite refused: {0}")]
    Invite(#[from] InviteError),
    /// The handshake could not be built.
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// Encrypting or restoring a session failed.
    #[error("session error: {0}")]
    Session(#[from] SessionError),
    /// The profile lacks something `init` always writes.
    #[error("profile is incomplete: no {0} stored")]
    Incomplete(&'static str),
    /// A display name is empty, too long or has control or format characters.
    #[error(
        "invalid name {0:?}: 1–64 bytes, no control or invisible formatting characters \
         (bidi controls, zero-width characters)"
    )]
    BadName(String),
    /// A contact with that name already exists.
    #[error("a contact named {0:?} already exists")]
    NameTaken(String),
    /// `verify` was given a well-formed safety number that differs from the
    /// one shared with this contact: someone may be in the middle.
    #[error("safety number does not match: {0} is NOT verified")]
    SafetyNumberMismatch(String),
    /// `verify` was given text that is not a safety number at all (a typo,
    /// not a security finding): nothing was compared.
    #[error(
        "that is not a safety number ({reason}): type the 60 digits shown on {contact}'s \
         device (spaces and dashes are ignored); {contact} was not verified"
    )]
    SafetyNumberMalformed {
        /// The contact.
        contact: String,
        /// What is wrong with the input.
        reason: TypedDigitsError,
    },
    /// The picture shows our own safety-number QR code, not the contact's.
    #[error(
        "that is your own QR code (a picture of your screen): use a picture of {0}'s screen; \
         {0} was not verified"
    )]
    OwnSafetyQr(String),
    /// There is no pending identity change to accept for this contact.
    #[error("{0} has no pending identity change")]
    NoPendingKeyChange(String),
    /// Sending is blocked until the user accepts the contact's new key.
    #[error("{0}'s identity key changed: check the new safety number, then accept the change")]
    KeyChangePending(String),
    /// The contact exists but has no session (damaged profile).
    #[error("no session stored for {0}")]
    NoSession(String),
    /// The relay is already the home relay or one of the extra relays.
    #[error("relay {0} is already in your list")]
    RelayListed(String),
    /// A plain `ws://` relay address whose host is not this machine: refused
    /// wherever an address enters the profile (home relay, extra relay,
    /// invite, handshake), since the connection would be unencrypted.
    #[error(
        "refusing plain ws:// relay {0}: plaintext relays are allowed only on this machine \
         (localhost, 127.0.0.0/8, ::1) for development; use the relay's wss://HOST:PORT/#PIN address"
    )]
    PlaintextRelay(String),
    /// A relay someone else named is on a private or local network, and the
    /// user has not allowed private relays.
    #[error(
        "refusing relay {relay}: it is on {kind}, not the internet; connecting would reveal your \
         address to a host of the sender's choosing. If you are testing on your own network, \
         allow private relays (cairn-cli: `relays allow-private on`; desktop: Settings)"
    )]
    PrivateRelay {
        /// The refused address.
        relay: String,
        /// Where it is.
        kind: NonPublicHost,
    },
    /// This invite was accepted before.
    #[error("this invite was already accepted")]
    InviteAlreadyAccepted,
    /// The invite is our own.
    #[error("this is your own invite")]
    OwnInvite,
    /// A conversation mailbox (the inviter's, the acceptor's reply mailbox) must be send-locked (minted by `Client::mint_mailbox`):
    /// an open one would let anyone who learns its id write to the conversation.
    #[error("a conversation mailbox must be send-locked")]
    OpenConversationMailbox,
    /// Text over the protocol's limit or empty.
    #[error("message text must be 1 to {max} bytes (got {len})")]
    BadText {
        /// Length given.
        len: usize,
        /// Limit.
        max: usize,
    },
}
