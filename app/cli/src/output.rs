//! Rendering core records as text lines or JSON objects (one per line).

use cairn_core::client::TimelineItem;
use cairn_core::store::{Contact, Direction, IntegrityRecord, MessageRecord};
use serde_json::{Value, json};

use crate::time::format_local;

/// Prints either the JSON value on one line or the text.
pub(crate) struct Out {
    /// `--json` was given.
    pub json: bool,
}

impl Out {
    /// Emits one record.
    pub(crate) fn emit(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }
}

/// JSON form of a contact.
pub(crate) fn contact_json(c: &Contact) -> Value {
    json!({
        "type": "contact",
        "name": c.name,
        "verified": c.verified,
        "safety_number": c.safety_number,
        "relay": c.relay,
        "pending_key_change": c.pending_identity.is_some(),
    })
}

/// Text form of a contact.
pub(crate) fn contact_text(c: &Contact) -> String {
    let mut s = c.name.clone();
    s.push_str(if c.verified {
        "  [verified]"
    } else {
        "  [not verified]"
    });
    if c.pending_identity.is_some() {
        s.push_str("  [KEY CHANGED: run `accept-key` after checking]");
    }
    s
}

/// JSON form of a message.
pub(crate) fn message_json(contact: &str, m: &MessageRecord) -> Value {
    json!({
        "type": "message",
        "contact": contact,
        "direction": match m.direction { Direction::Incoming => "in", Direction::Outgoing => "out" },
        "counter": m.counter,
        "text": m.body,
        "sent_ms": m.sent_ms,
        "received_ms": m.received_ms,
        "status": m.status.as_str(),
        "id": m.envelope_id.map(hex),
    })
}

/// Text form of a message.
pub(crate) fn message_text(contact: &str, m: &MessageRecord) -> String {
    let at = format_local(m.received_ms.unwrap_or(m.sent_ms));
    match m.direction {
        Direction::Incoming => format!("[{at}] {contact}: {}", m.body),
        Direction::Outgoing => format!("[{at}] me → {contact}: {} ({})", m.body, m.status.as_str()),
    }
}

/// JSON form of an integrity event.
pub(crate) fn event_json(contact: Option<&str>, e: &IntegrityRecord) -> Value {
    json!({
        "type": "event",
        "contact": contact,
        "kind": e.kind.as_str(),
        "detail": e.detail,
        "at_ms": e.at_ms,
    })
}

/// Text form of an integrity event.
pub(crate) fn event_text(contact: Option<&str>, e: &IntegrityRecord) -> String {
    format!(
        "[{}] !! {}{}: {}",
        format_local(e.at_ms),
        e.kind.as_str(),
        contact.map(|c| format!(" ({c})")).unwrap_or_default(),
        e.detail
    )
}

/// Emits a timeline entry.
pub(crate) fn emit_item(out: &Out, contact: &str, item: &TimelineItem) {
    match item {
        TimelineItem::Message(m) => out.emit(message_json(contact, m), || message_text(contact, m)),
        TimelineItem::Event(e) => out.emit(event_json(Some(contact), e), || {
            event_text(Some(contact), e)
        }),
    }
}

fn hex(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
