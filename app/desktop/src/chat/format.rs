//! The words the chat shows: delivery status, a bubble's time line, integrity
//! event lines. Pure functions, shared by layout (to measure) and drawing.

use cairn_core::store::{Direction, EventKind, IntegrityRecord, MessageRecord, MessageStatus};

use crate::clock::Zone;

/// Time (and, for ours, delivery status) shown in a bubble: when it arrived,
/// by our clock; when the sender's claimed time differs by more than five
/// minutes ([`MessageRecord::clock_differs`]), that too, marked.
pub fn meta_text(m: &MessageRecord, zone: &Zone) -> String {
    let time = zone.format_time(m.arrived_ms());
    if m.direction == Direction::Outgoing {
        format!("{time}  {}", status_text(m.status))
    } else if m.clock_differs() {
        format!(
            "{time}  ⚠ sent {} by their clock",
            zone.format_datetime(m.sent_ms)
        )
    } else {
        time
    }
}

/// Status words (and glyphs) for our outgoing messages.
pub fn status_text(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "⏳ pending",
        MessageStatus::Sent => "✔ sent",
        MessageStatus::Unconfirmed => "⚠ may not have arrived",
        MessageStatus::Delivered => "✔✔ delivered",
        MessageStatus::Read => "✔✔ read",
        MessageStatus::Received => "",
    }
}

/// Warning text for an integrity event.
pub fn event_text(e: &IntegrityRecord, zone: &Zone) -> (String, bool) {
    let (what, warn) = match e.kind {
        EventKind::Gap => ("Messages missing", true),
        EventKind::LateArrival => ("Late message arrived", false),
        EventKind::Duplicate => ("Replayed message ignored", true),
        EventKind::Fork => ("Conversation forked: possible tampering", true),
        EventKind::Rejected => ("Tampered or invalid message dropped", true),
        EventKind::KeyChange => ("Identity key changed", true),
        EventKind::KeyAccepted => ("New identity key accepted", false),
        EventKind::Verified => ("Safety number verified", false),
        EventKind::LookAlikeName => ("Name looks like another contact's", true),
        EventKind::Lost => ("Message could not be read", true),
        EventKind::Restored => ("Contact restored from a backup", false),
        EventKind::Unauthenticated => ("Someone else's traffic ignored", false),
        EventKind::VerificationCleared => ("Verification cleared", true),
    };
    let icon = if warn { "⚠" } else { "ℹ" };
    let time = zone.format_time(e.at_ms);
    // Some details only restate the kind ("safety number verified"): say it once.
    let text = if e.detail.is_empty() || e.detail.eq_ignore_ascii_case(what) {
        format!("{icon} {what} · {time}")
    } else {
        format!("{icon} {what} · {} · {time}", e.detail)
    };
    (text, warn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: EventKind, detail: &str) -> IntegrityRecord {
        IntegrityRecord {
            id: 1,
            contact: None,
            kind,
            detail: detail.to_owned(),
            at_ms: 0,
        }
    }

    #[test]
    fn event_text_says_a_restated_detail_once_and_keeps_real_details() {
        let zone = Zone::utc();
        let (text, warn) = event_text(
            &record(EventKind::Verified, "safety number verified"),
            &zone,
        );
        assert_eq!(text, "ℹ Safety number verified · 00:00");
        assert!(!warn);
        let (text, warn) = event_text(&record(EventKind::Gap, "messages 4–6 never arrived"), &zone);
        assert_eq!(
            text,
            "⚠ Messages missing · messages 4–6 never arrived · 00:00"
        );
        assert!(warn);
        let (text, warn) = event_text(
            &record(EventKind::LookAlikeName, "looks like your contact \"Bob\""),
            &zone,
        );
        assert!(
            text.starts_with("⚠ Name looks like another contact's"),
            "{text}"
        );
        assert!(warn);
    }

    #[test]
    fn a_claimed_time_far_from_arrival_is_shown_and_marked() {
        let zone = Zone::utc();
        let day = 20_775 * 86_400_000;
        let mut m = MessageRecord {
            id: 1,
            contact: cairn_core::store::ContactId(1),
            direction: Direction::Incoming,
            counter: 1,
            body: "hi".into(),
            sent_ms: day + 3_600_000,
            received_ms: Some(day + 3_600_000),
            status: MessageStatus::Read,
            envelope_id: None,
        };
        assert_eq!(meta_text(&m, &zone), "01:00");
        m.sent_ms = day - 86_400_000 + 7_200_000; // claims the day before
        assert_eq!(
            meta_text(&m, &zone),
            format!(
                "01:00  ⚠ sent {} by their clock",
                zone.format_datetime(m.sent_ms)
            )
        );
        assert!(meta_text(&m, &zone).contains("02:00"));
    }
}
