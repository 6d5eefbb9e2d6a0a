//! Command-line syntax.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Cairn: an end-to-end encrypted messenger, headless.
///
/// Every command works on one profile directory. The passphrase comes from
/// CAIRN_PASSPHRASE or, on a terminal, a prompt.
#[derive(Debug, Parser)]
#[command(name = "cairn-cli", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Profile directory.
    #[arg(long, global = true, env = "CAIRN_PROFILE", value_name = "DIR")]
    pub profile: Option<PathBuf>,

    /// Machine-readable output: one JSON object per line.
    #[arg(long, global = true)]
    pub json: bool,

    /// Development only: allow plain ws:// relays, and only on loopback addresses.
    #[arg(long, global = true, env = "CAIRN_ALLOW_PLAINTEXT_LOOPBACK")]
    pub allow_plaintext_loopback: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new profile with a fresh identity (the passphrase must not
    /// be easy to guess: four or more random words pass).
    Init {
        /// Your display name, shown to people who accept your invites.
        #[arg(long)]
        name: String,
        /// Relay for your mailboxes: wss://HOST:PORT/#PIN (ws:// only for loopback dev relays).
        #[arg(long, value_name = "ADDRESS")]
        relay: String,
        /// Access token, if the relay requires one to create mailboxes.
        #[arg(long, env = "CAIRN_ACCESS_TOKEN", hide_env_values = true)]
        access_token: Option<String>,
        /// Create the profile without first connecting to the relay (its
        /// address and pin are then checked only on first use).
        #[arg(long)]
        offline: bool,
    },
    /// Create an invite link for someone to accept.
    Invite,
    /// Accept an invite link and add its creator as a contact.
    Accept {
        /// The `cairn:` link.
        invite: String,
        /// What to call the inviter in your contact list.
        #[arg(long)]
        name: String,
    },
    /// Send a text message (stored first; retried until the relay acknowledges it).
    Send {
        /// Contact name.
        name: String,
        /// Message text (omit with --stdin).
        #[arg(required_unless_present = "stdin", conflicts_with = "stdin")]
        text: Option<String>,
        /// Send each non-empty line of standard input as one message, all
        /// sealed in one transaction (for scripts sending many at once).
        #[arg(long)]
        stdin: bool,
    },
    /// Fetch, decrypt, verify and store new messages; print them and any events.
    Recv {
        /// If nothing new is waiting, keep listening this many seconds.
        #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
        wait: f64,
        /// Testing aid: store but do not acknowledge (simulates a crash right after the commit).
        #[arg(long, hide = true)]
        no_ack: bool,
        /// Stay connected and print messages and events as they arrive (Ctrl-C stops).
        #[arg(long, conflicts_with = "no_ack")]
        follow: bool,
    },
    /// Move to a new identity key and announce it to every contact (their
    /// clients hold your messages until they accept it).
    RotateIdentity,
    /// Accept a contact's new identity key (after checking the new safety number).
    AcceptKey {
        /// Contact name.
        name: String,
    },
    /// List contacts.
    Contacts,
    /// Show the conversation with a contact, with integrity events.
    History {
        /// Contact name.
        name: String,
    },
    /// Full-text search over all conversations.
    Search {
        /// Words that must all appear.
        query: String,
        /// Most results to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print the safety number shared with a contact.
    Fingerprint {
        /// Contact name.
        name: String,
    },
    /// Mark a contact verified: with the 60 digits read from their device
    /// (checked here), or with --they-match after comparing both screens
    /// side by side (see `fingerprint`).
    Verify {
        /// Contact name.
        name: String,
        /// The 60 digits read from the contact's device (spaces and dashes are ignored).
        #[arg(
            long,
            value_name = "DIGITS",
            required_unless_present_any = ["they_match", "qr_image"]
        )]
        safety_number: Option<String>,
        /// You compared the whole number on both screens and it is the same.
        #[arg(long, conflicts_with_all = ["safety_number", "qr_image"])]
        they_match: bool,
        /// A screenshot or photo (PNG or JPEG) of the contact's safety-number QR code.
        #[arg(long, value_name = "PICTURE", conflicts_with = "safety_number")]
        qr_image: Option<std::path::PathBuf>,
    },
    /// Withdraw a contact's verification (compare the number again later).
    Unverify {
        /// Contact name.
        name: String,
    },
    /// Rename a contact.
    Rename {
        /// Current name.
        name: String,
        /// New name.
        new_name: String,
    },
    /// Extra relays besides your home relay (kept in the encrypted profile):
    /// list, add or remove them.
    Relays {
        /// What to do with the list.
        #[command(subcommand)]
        action: RelaysAction,
    },
    /// Write an encrypted backup of the whole profile, protected by the
    /// profile's passphrase or, if set, CAIRN_BACKUP_PASSPHRASE (refused if
    /// that passphrase is too easy to guess: the same rule as `init`).
    Export {
        /// Backup file to create (must not exist).
        file: PathBuf,
    },
    /// Restore a backup into a new profile directory (--profile, must be empty).
    Import {
        /// Backup file written by `export`.
        file: PathBuf,
    },
}

/// `relays` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RelaysAction {
    /// Print the home relay, then the extra relays in the order added.
    List,
    /// Add an extra relay: wss://HOST:PORT/#PIN (plain ws:// only for loopback dev relays).
    Add {
        /// Relay address.
        address: String,
    },
    /// Remove an extra relay (the address as `relays list` prints it).
    Remove {
        /// Relay address.
        address: String,
    },
    /// Make ADDRESS your home relay: new invites and mailboxes go there, and
    /// every conversation on the old home relay moves with a signed mailbox
    /// move its contact follows when they next receive. The old relay is
    /// still read until each contact has followed. Nothing changes if the
    /// new relay cannot be reached or refuses the access token.
    Home {
        /// Relay address: wss://HOST:PORT/#PIN.
        address: String,
        /// Access token, if the new relay requires one to create mailboxes.
        #[arg(long, env = "CAIRN_ACCESS_TOKEN")]
        access_token: Option<String>,
    },
    /// Whether invites and handshakes may name relays on private or local
    /// networks (192.168.x.x, 10.x.x.x, link-local, ...): off by default,
    /// since dialling one reveals your address to a host on your own network
    /// chosen by someone else. Turn on to test with a relay on your LAN.
    /// Without on/off, prints the current setting.
    AllowPrivate {
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        value: Option<String>,
    },
}
