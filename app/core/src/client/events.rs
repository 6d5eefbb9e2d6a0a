//! What the client reports after processing input: the UI-facing event stream.
//!
//! The CLI prints these; the desktop app receives them over a channel and
//! redraws. They carry display data only, never keys.

use crate::store::{Contact, IntegrityRecord, MessageRecord, MessageStatus};

/// Something the user should see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A new message was stored (incoming, visible).
    Message {
        /// Contact display name.
        contact: String,
        /// The stored message.
        message: MessageRecord,
    },
    /// A handshake completed: someone accepted our invite.
    ContactAdded {
        /// The new contact.
        contact: Contact,
    },
    /// Our outgoing messages changed status (sent, delivered, read).
    StatusChanged {
        /// Contact display name.
        contact: String,
        /// Sender counters of our messages.
        counters: Vec<u64>,
        /// New status.
        status: MessageStatus,
    },
    /// An integrity event was stored.
    Integrity {
        /// Contact display name, if known.
        contact: Option<String>,
        /// The stored event.
        event: IntegrityRecord,
    },
    /// A message arrived under a new, unaccepted identity key and is held.
    Held {
        /// Contact display name.
        contact: String,
    },
}
