//! Bubbles: theirs on the left, ours on the right, sized to their text,
//! long text wrapped onto several lines that start at the bubble's left edge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{START_MS, app, wait_for};
use cairn_core::client::TimelineItem;
use cairn_core::store::{Contact, ContactId, Direction, MessageRecord, MessageStatus};
use cairn_core::testing::sample_contact;
use cairn_desktop::chat::layout::{Block, PAD_X};
use cairn_desktop::chat::window::Timeline;
use cairn_desktop::commands::ContactSummary;
use cairn_desktop::{Pane, Phase};
use egui_kittest::kittest::Queryable;

const LONG: &str = "This one is long enough that it cannot fit on one line of the bubble, so it \
                    wraps at spaces onto several lines, all starting at the same left margin.";

fn msg(id: i64, direction: Direction, body: &str) -> TimelineItem {
    TimelineItem::Message(MessageRecord {
        id,
        contact: ContactId(1),
        direction,
        counter: id as u64,
        body: body.into(),
        sent_ms: START_MS + id as u64 * 1000,
        received_ms: (direction == Direction::Incoming).then_some(START_MS + id as u64 * 1000),
        status: MessageStatus::Read,
        envelope_id: None,
    })
}

fn bob() -> ContactSummary {
    ContactSummary {
        contact: Contact {
            verified: false,
            ..sample_contact(ContactId(1), "Bob")
        },
        unread: 0,
        last_preview: None,
        last_at_ms: START_MS,
    }
}

#[test]
fn bubbles_sit_left_and_right_and_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    wait_for(&mut h, "first run", |h| h.state().phase() == Phase::Create);
    h.state_mut().preview(vec![bob()], Pane::Chat(ContactId(1)));
    let items = vec![
        msg(1, Direction::Incoming, "hi"),
        msg(2, Direction::Incoming, LONG),
        msg(3, Direction::Outgoing, "see you at 8"),
        msg(4, Direction::Outgoing, LONG),
    ];
    h.state_mut()
        .set_timeline(Timeline::new(ContactId(1), items));
    for _ in 0..4 {
        h.step();
    }
    let pane_left = h.get_by_label("Bob").rect().left();
    let composer = h.get_by_label("Message").rect();
    let short_in = h.get_by_label("hi").rect();
    let short_out = h.get_by_label("see you at 8").rect();
    let longs: Vec<_> = h.query_all_by_label(LONG).map(|n| n.rect()).collect();
    assert_eq!(longs.len(), 2);
    let (long_in, long_out) = (longs[0], longs[1]);

    // Theirs hug the left edge of the pane, ours the right edge.
    assert!(
        (short_in.left() - pane_left).abs() < 30.0,
        "{short_in:?} vs {pane_left}"
    );
    assert!((long_in.left() - short_in.left()).abs() < 0.5);
    assert!(composer.right() - short_out.right() < 80.0, "{short_out:?}");
    assert!((long_out.right() - short_out.right()).abs() < 0.5);
    // Bubbles are as wide as their text: short ones are small.
    assert!(short_in.width() < 120.0 && short_out.width() < 200.0);
    assert!(long_in.width() > 3.0 * short_in.width());
    // A long message wraps: a taller bubble, lines within it, starting at its left edge.
    assert!(
        long_in.height() > 1.4 * short_in.height(),
        "{long_in:?} {short_in:?}"
    );
    let t = h.state().timeline().unwrap();
    let layout = t.layout().unwrap();
    let wrapped = layout
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Message {
                item: 1,
                lines,
                text_width,
                ..
            } => Some((lines.clone(), *text_width)),
            _ => None,
        })
        .unwrap();
    assert!(wrapped.0.len() >= 2);
    assert!(wrapped.1 <= layout.max_text + 0.5);
    assert!((long_in.width() - (wrapped.1 + 2.0 * PAD_X)).abs() < 1.0);
    // Lines cover the text in order, each starting after a break.
    let joined: Vec<&str> = wrapped
        .0
        .iter()
        .map(|(a, b)| &LONG[*a as usize..*b as usize])
        .collect();
    assert_eq!(
        joined.join(" "),
        LONG.split_whitespace().collect::<Vec<_>>().join(" ")
    );
}
