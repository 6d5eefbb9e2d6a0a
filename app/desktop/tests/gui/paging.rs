//! A long history opens one page at a time: scrolling up loads older pages
//! from the core, and a search hit far back loads the history down to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use crate::support::{START_MS, app, type_into, wait_for};
use cairn_core::client::{Client, InitOptions, TimelineItem};
use cairn_core::profile::kdf::KdfParams;
use cairn_core::testing::{introduce, pump};
use cairn_desktop::Phase;
use cairn_desktop::backend::PAGE;
use egui_kittest::kittest::Queryable;

const N: usize = 450;
const PASS: &str = "paging passphrase";
/// Older than the first page, but not the oldest page.
const NEEDLE: usize = 150;

/// Bob's profile (in `dir/profile`) holding `N` messages from Alice; message 150 says "needle".
fn history(dir: &Path) {
    let relay: cairn_protocol::relay_address::RelayAddress = "ws://127.0.0.1:9/".parse().unwrap();
    let init = |dir: &Path, name: &str| {
        Client::init(
            &InitOptions {
                dir,
                passphrase: PASS.as_bytes(),
                kdf: KdfParams::INSECURE_FOR_TESTS,
                name,
                relay: relay.clone(),
                access_token: None,
            },
            START_MS,
        )
        .unwrap()
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut alice = init(&scratch.path().join("alice"), "Alice");
    let mut bob = init(&dir.join("profile"), "Bob");
    let (to_bob, _) = introduce(&mut alice, &mut bob, "Alice", START_MS);
    for i in 0..N {
        let text = if i == NEEDLE {
            "the needle in the haystack".to_owned()
        } else {
            format!("message {i}")
        };
        alice
            .send_text(to_bob, &text, START_MS + 1000 + i as u64 * 60_000)
            .unwrap();
    }
    pump(&mut alice, &mut bob, START_MS + 100_000_000);
}

fn messages(h: &egui_kittest::Harness<'static, cairn_desktop::CairnApp>) -> usize {
    h.state().timeline().map_or(0, |t| {
        t.items
            .iter()
            .filter(|i| matches!(i, TimelineItem::Message(_)))
            .count()
    })
}

fn unlock_and_open(h: &mut egui_kittest::Harness<'static, cairn_desktop::CairnApp>) {
    wait_for(h, "unlock screen", |h| h.state().phase() == Phase::Unlock);
    type_into(h, "Passphrase", PASS);
    h.key_press(egui::Key::Enter);
    wait_for(h, "main", |h| h.state().phase() == Phase::Main);
    wait_for(h, "contact", |h| {
        h.query_by_label_contains("Chat with Alice").is_some()
    });
    // Unread count comes from the core's summary query, not a loaded history.
    assert!(
        h.query_by_label(&format!("Chat with Alice, {N} unread"))
            .is_some()
    );
}

#[test]
fn scrolling_up_loads_older_pages() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path());
    let mut h = app(dir.path());
    unlock_and_open(&mut h);
    h.get_by_label_contains("Chat with Alice").click();
    wait_for(&mut h, "first page", |h| messages(h) > 0);
    assert_eq!(messages(&h), PAGE);
    assert!(h.state().timeline().unwrap().older.is_some());
    assert!(h.query_by_label(&format!("message {}", N - 1)).is_some());

    // Wheel up until the start of the history is loaded.
    h.get_by_label(&format!("message {}", N - 1)).hover();
    for _ in 0..600 {
        if h.state().timeline().is_some_and(|t| t.older.is_none()) {
            break;
        }
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, 3000.0),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
        });
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    wait_for(&mut h, "whole history", |h| messages(h) == N);
    let t = h.state().timeline().unwrap();
    assert!(t.older.is_none());
    // Oldest first, no duplicates across pages.
    let bodies: Vec<&str> = t
        .items
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => Some(m.body.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(bodies[0], "message 0");
    assert_eq!(bodies[N - 1], format!("message {}", N - 1));
}

#[test]
fn search_hit_far_back_loads_down_to_it() {
    let dir = tempfile::tempdir().unwrap();
    history(dir.path());
    let mut h = app(dir.path());
    unlock_and_open(&mut h);
    type_into(&mut h, "Search messages", "needle");
    wait_for(&mut h, "search hit", |h| {
        h.query_by_label_contains("the needle in the haystack")
            .is_some()
    });
    h.get_by_label_contains("the needle in the haystack")
        .click();
    wait_for(&mut h, "history down to the hit", |h| {
        h.state().timeline().is_some_and(|t| {
            t.items
                .iter()
                .any(|i| matches!(i, TimelineItem::Message(m) if m.body.contains("needle")))
        })
    });
    assert!(
        messages(&h) < N,
        "only the history down to the hit is loaded"
    );
    // The view scrolls to it: the bubble is on screen.
    wait_for(&mut h, "hit on screen", |h| {
        h.query_by_label("the needle in the haystack").is_some()
    });
}
