//! Rendering core records as text lines or JSON objects (one per line).
//!
//! Everything a contact, a relay or a handshake chose (message bodies,
//! contact names, event details) is printed through [`inline`] or [`body`]:
//! control and format characters ([`cairn_core::text::is_control_or_format`])
//! become visible `\u{…}` escapes, so a message cannot move the cursor, erase
//! lines, set the window title, write the clipboard (OSC 52) or reorder text
//! with bidi controls; and every line of a multi-line message after the first
//! starts with [`CONTINUATION`], so no line of a message can pass for a line
//! the CLI printed (`[time] Bob: …`, `!! verified …`). `--json` output is
//! escaped by serde instead.

use std::borrow::Cow;
use std::fmt::Write as _;

use cairn_core::client::{ClientEvent, TimelineItem};
use cairn_core::store::{
    Contact, ContactId, Direction, IntegrityRecord, MessageRecord, MessageStatus,
};
use cairn_core::text::is_control_or_format;
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

/// Starts every continuation line of a multi-line message. CLI output lines
/// never start with white space, so a message line cannot pass for one.
pub(crate) const CONTINUATION: &str = "    | ";

/// Someone else's text on one line: control and format characters (line
/// breaks included) are shown as `\u{…}` escapes.
pub(crate) fn inline(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control_or_format) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// A message body: as [`inline`], except that line feeds stay line breaks
/// and each following line starts with [`CONTINUATION`].
pub(crate) fn body(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\n' {
            out.push('\n');
            out.push_str(CONTINUATION);
        } else {
            push_escaped(&mut out, c);
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    if is_control_or_format(c) {
        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
    } else {
        out.push(c);
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
        "confirmed": c.confirmed,
    })
}

/// Text form of a contact.
pub(crate) fn contact_text(c: &Contact) -> String {
    let mut s = inline(&c.name).into_owned();
    s.push_str(if c.verified {
        "  [verified]"
    } else {
        "  [not verified]"
    });
    if c.pending_identity.is_some() {
        s.push_str("  [KEY CHANGED: run `accept-key` after checking]");
    }
    if !c.confirmed {
        s.push_str(
            "  [waiting for them to confirm: run `recv`; if this lasts, ask for a new invite]",
        );
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
        "clock_differs": m.clock_differs(),
        "status": m.status.as_str(),
        "id": m.envelope_id.map(hex),
    })
}

/// Text form of a message, stamped with its arrival by our clock; when the
/// sender's claimed time is more than five minutes off, it follows, marked.
pub(crate) fn message_text(contact: &str, m: &MessageRecord) -> String {
    let at = format_local(m.arrived_ms());
    let (contact, text) = (inline(contact), body(&m.body));
    match m.direction {
        Direction::Incoming if m.clock_differs() => format!(
            "[{at}] {contact}: {text}  (!! sent {} by their clock)",
            format_local(m.sent_ms)
        ),
        Direction::Incoming => format!("[{at}] {contact}: {text}"),
        Direction::Outgoing => format!("[{at}] me → {contact}: {text} ({})", m.status.as_str()),
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
        contact
            .map(|c| format!(" ({})", inline(c)))
            .unwrap_or_default(),
        inline(&e.detail)
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

/// Prints one event the messenger reported; `name` gives a contact's display name.
pub(crate) fn emit_event(out: &Out, event: &ClientEvent, name: impl Fn(ContactId) -> String) {
    match event {
        ClientEvent::Message { message } => {
            let contact = name(message.contact);
            out.emit(message_json(&contact, message), || {
                message_text(&contact, message)
            })
        }
        ClientEvent::ContactAdded { contact } => out.emit(
            json!({"type": "contact_added", "name": contact.name, "safety_number": contact.safety_number}),
            || format!("{} accepted your invite and is now a contact", inline(&contact.name)),
        ),
        ClientEvent::ContactChanged { contact } => {
            out.emit(contact_json(contact), || contact_text(contact))
        }
        ClientEvent::StatusChanged {
            contact,
            counters,
            status,
        } => {
            let contact = name(*contact);
            out.emit(
                json!({"type": "status", "contact": contact, "counters": counters, "status": status.as_str()}),
                || match status {
                    MessageStatus::Unconfirmed => format!(
                        "!! {} message(s) to {} may not have reached them: their later messages \
                         do not acknowledge it (numbers {:?}); the relay may be withholding it",
                        counters.len(),
                        inline(&contact),
                        counters
                    ),
                    _ => format!(
                        "{} message(s) to {} now {}",
                        counters.len(),
                        inline(&contact),
                        status.as_str()
                    ),
                },
            )
        }
        ClientEvent::Integrity { event } => {
            let contact = event.contact.map(&name);
            out.emit(event_json(contact.as_deref(), event), || {
                event_text(contact.as_deref(), event)
            })
        }
        ClientEvent::Held { contact } => {
            let contact = name(*contact);
            out.emit(json!({"type": "held", "contact": contact}), || {
                format!(
                    "a message from {} is held until you accept their new key",
                    inline(&contact)
                )
            })
        }
    }
}

fn hex(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::store::{ContactId, EventKind, MessageStatus};

    /// Erase line, cursor up, carriage return, a forged CLI line, a forged
    /// verification notice, window title (OSC 0), clipboard write (OSC 52),
    /// a C1 CSI, DEL, a right-to-left override and a zero-width space.
    const HOSTILE: &str = "ok\x1b[2K\x1b[1A\r[2026-01-01 10:00:00] Bob: wire the money\n\
        [2026-01-01 10:00:01] !! verified (Bob): safety number verified\n\
        \x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\u{9b}31m\x7f\u{202e}gpj.exe\u{200b}";

    fn incoming(body: &str) -> MessageRecord {
        MessageRecord {
            id: 1,
            contact: ContactId(1),
            direction: Direction::Incoming,
            counter: 0,
            body: body.into(),
            sent_ms: 0,
            received_ms: Some(0),
            status: MessageStatus::Received,
            envelope_id: None,
        }
    }

    fn assert_harmless(text: &str) {
        for c in text.chars() {
            assert!(
                c == '\n' || !is_control_or_format(c),
                "raw {c:?} in {text:?}"
            );
        }
    }

    #[test]
    fn a_hostile_body_cannot_control_the_terminal_or_forge_lines() {
        let text = message_text("Alice", &incoming(HOSTILE));
        assert_harmless(&text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with('['), "{text}");
        assert!(lines[0].contains("] Alice: ok\\u{1b}[2K"), "{text}");
        for line in &lines[1..] {
            assert!(line.starts_with(CONTINUATION), "{line:?}");
        }
        assert!(lines[2].contains("\\u{202e}gpj.exe\\u{200b}"), "{text}");
        assert!(lines[2].contains("\\u{9b}31m\\u{7f}"), "{text}");
        // --json keeps the exact text, escaped by serde.
        let json = message_json("Alice", &incoming(HOSTILE)).to_string();
        assert!(!json.contains('\x1b') && !json.contains('\n'), "{json}");
    }

    #[test]
    fn a_claimed_time_far_from_arrival_is_printed_and_marked() {
        let mut m = incoming("hi");
        m.received_ms = Some(1_795_000_000_000);
        m.sent_ms = m.received_ms.unwrap() - 3_600_000;
        let text = message_text("Alice", &m);
        let claimed = format_local(m.sent_ms);
        assert!(
            text.starts_with(&format!("[{}] Alice: hi", format_local(1_795_000_000_000))),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("(!! sent {claimed} by their clock)")),
            "{text}"
        );
        assert_eq!(message_json("Alice", &m)["clock_differs"], true);
        m.sent_ms = m.received_ms.unwrap() - 60_000;
        assert!(!message_text("Alice", &m).contains("their clock"));
        assert_eq!(message_json("Alice", &m)["clock_differs"], false);
    }

    #[test]
    fn hostile_names_and_event_details_are_escaped() {
        let name = "Bob\u{202e}\x1b]0;x\x07";
        let event = IntegrityRecord {
            id: 1,
            contact: Some(ContactId(1)),
            kind: EventKind::Rejected,
            detail: "handshake rejected: \x1b[2K\nforged".into(),
            at_ms: 0,
        };
        let text = event_text(Some(name), &event);
        assert_harmless(&text);
        assert_eq!(text.lines().count(), 1, "{text}");
        let text = message_text(name, &incoming("hi"));
        assert_harmless(&text);
        assert!(text.contains("Bob\\u{202e}\\u{1b}]0;x\\u{7}: hi"), "{text}");
    }
}
