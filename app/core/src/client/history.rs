//! Conversation history and search, with integrity events interleaved.

use super::{Client, ClientResult};
use crate::store::{ContactId, IntegrityRecord, MessageRecord};

/// One entry of a conversation as shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineItem {
    /// A message, either direction.
    Message(MessageRecord),
    /// Something the protocol or client noticed (gap, key change, ...).
    Event(IntegrityRecord),
}

impl TimelineItem {
    /// Sort key: when we learned of it, by our clock (arrival for incoming,
    /// sending for outgoing; never the sender's claim).
    pub fn at_ms(&self) -> u64 {
        match self {
            Self::Message(m) => m.arrived_ms(),
            Self::Event(e) => e.at_ms,
        }
    }
}

impl Client {
    /// The conversation with `contact`: messages and events in time order.
    pub fn timeline(&self, contact: ContactId) -> ClientResult<Vec<TimelineItem>> {
        let db = self.store().read();
        let mut items: Vec<TimelineItem> = db
            .history(contact)?
            .into_iter()
            .map(TimelineItem::Message)
            .chain(
                db.events(Some(contact))?
                    .into_iter()
                    .map(TimelineItem::Event),
            )
            .collect();
        // Stable: messages keep their store order (arrival, then row) among equals.
        items.sort_by_key(TimelineItem::at_ms);
        Ok(items)
    }

    /// Events tied to no contact (for example envelopes rejected on an invite mailbox).
    pub fn unattributed_events(&self) -> ClientResult<Vec<IntegrityRecord>> {
        Ok(self.store().read().events(None)?)
    }

    /// Full-text search over all conversations, newest first (each record
    /// says whose conversation it is in).
    pub fn search(&self, query: &str, limit: usize) -> ClientResult<Vec<MessageRecord>> {
        Ok(self.store().read().search(query, limit)?)
    }
}
