//! The key-change banner blocks the chat until the new key is accepted.
//!
//! The core has no public way yet to make a peer rotate its identity, so this
//! drives the real chat pane with a contact whose new key is pending.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{app, wait_for};
use cairn_core::store::{Contact, ContactId};
use cairn_desktop::chat::window::Timeline;
use cairn_desktop::commands::ContactSummary;
use cairn_desktop::{Pane, Phase};
use egui_kittest::kittest::Queryable;

fn contact(pending: bool) -> ContactSummary {
    ContactSummary {
        contact: Contact {
            id: ContactId(1),
            name: "Carol".into(),
            identity: [1; 64],
            relay: "wss://127.0.0.1:1/#x".into(),
            their_mailbox: [2; 32],
            my_mailbox: [3; 32],
            safety_number: "1".repeat(60),
            verified: false,
            pending_identity: pending.then_some([9; 64]),
            confirmed: true,
        },
        unread: 0,
        last_preview: None,
        last_at_ms: 0,
    }
}

#[test]
fn banner_blocks_composer_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    // Let the backend report its first phase (no profile yet) before previewing,
    // or that report could land after the preview and replace it.
    wait_for(&mut h, "first run", |h| h.state().phase() == Phase::Create);
    h.state_mut()
        .preview(vec![contact(true)], Pane::Chat(ContactId(1)));
    h.state_mut()
        .set_timeline(Timeline::new(ContactId(1), Vec::new()));
    h.step();
    assert!(h.query_by_label_contains("identity key changed").is_some());
    assert!(h.query_by_label("Accept new key").is_some());
    assert!(
        h.query_by_label("Message").is_none(),
        "composer must be hidden while blocked"
    );

    // Once the key is accepted (the core clears pending_identity), the chat opens up.
    h.state_mut()
        .preview(vec![contact(false)], Pane::Chat(ContactId(1)));
    h.step();
    assert!(h.query_by_label_contains("identity key changed").is_none());
    assert!(h.query_by_label("Message").is_some());
}
