//! What the client reports after processing input: the UI-facing event stream.
//!
//! Events name contacts by their stable [`ContactId`] (display names change);
//! they carry display data only, never keys. Each says what changed, so a
//! front end updates that row instead of re-reading a page.

use crate::store::{Contact, ContactId, IntegrityRecord, MessageRecord, MessageStatus};

/// Something the user should see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A message was stored (an incoming one, or one we just sealed).
    Message {
        /// The stored message (its `contact` says whose conversation).
        message: MessageRecord,
    },
    /// A handshake completed: someone accepted our invite.
    ContactAdded {
        /// The new contact.
        contact: Contact,
    },
    /// A contact changed (verified, renamed, new key pending or accepted).
    ContactChanged {
        /// The contact as stored now.
        contact: Contact,
    },
    /// Our outgoing messages changed status (sent, delivered, read).
    StatusChanged {
        /// Whose conversation.
        contact: ContactId,
        /// Sender counters of our messages.
        counters: Vec<u64>,
        /// New status.
        status: MessageStatus,
    },
    /// An integrity event was stored (its `contact` says whose conversation, if any).
    Integrity {
        /// The stored event.
        event: IntegrityRecord,
    },
    /// A message arrived under a new, unaccepted identity key and is held.
    Held {
        /// Whose conversation.
        contact: ContactId,
    },
}

impl ClientEvent {
    /// The conversation this event belongs to, if any.
    pub fn contact(&self) -> Option<ContactId> {
        match self {
            Self::Message { message } => Some(message.contact),
            Self::ContactAdded { contact } | Self::ContactChanged { contact } => Some(contact.id),
            Self::StatusChanged { contact, .. } | Self::Held { contact } => Some(*contact),
            Self::Integrity { event } => event.contact,
        }
    }
}
