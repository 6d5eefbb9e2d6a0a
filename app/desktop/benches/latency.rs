//! End-to-end latency between two desktop apps: from the sender's Enter to
//! the message being in the recipient's timeline, through a real relay (TLS,
//! loopback) and both real backends, over 1,000 messages; and beside it the
//! same path without the UI (two core messengers, what `cairn-cli recv
//! --follow` runs on).
//!
//! Run: `cargo bench -p cairn-desktop --bench latency` (release profile).
//! The apps run headless in egui_kittest harnesses; each is stepped as the
//! window would be (one frame per step), so the figures include one frame
//! of the recipient's UI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/gui/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use cairn_core::client::{ClientEvent, TimelineItem};
use cairn_core::messenger::{DialOptions, Messenger, MessengerConfig, MessengerEvent};
use cairn_core::testing::new_client_on;
use cairn_relay::Relay;
use cairn_relay::config::RelayConfig;
use egui_kittest::kittest::Queryable;

const N: usize = 1_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let relay = rt.block_on(async {
        let config = RelayConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("relay"));
        let relay = Relay::bind(config).await.unwrap();
        let address = relay.address().clone();
        tokio::spawn(relay.run(std::future::pending()));
        address
    });
    let apps = apps(dir.path(), &relay.to_string());
    let core = rt.block_on(messengers(dir.path(), &relay));
    println!("\nsummary ({N} messages each, one relay over TLS on loopback):");
    println!("  desktop app → desktop app: {apps}");
    println!("  core messenger → core messenger (no UI): {core}");
}

fn report(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p(0.5),
        p(0.99),
        p(1.0)
    )
}

fn has(h: &egui_kittest::Harness<'static, cairn_desktop::CairnApp>, text: &str) -> bool {
    h.state().timeline().is_some_and(|t| {
        t.items
            .iter()
            .rev()
            .take(4)
            .any(|i| matches!(i, TimelineItem::Message(m) if m.body == text))
    })
}

fn apps(dir: &std::path::Path, relay: &str) -> String {
    let mut alice = support::app(&dir.join("a"));
    support::onboard(&mut alice, "Alice", "alice passphrase 123", Some(relay));
    let mut bob = support::app(&dir.join("b"));
    support::onboard(&mut bob, "Bob", "bob passphrase 456", Some(relay));
    alice.get_by_label("➕ Add contact").click();
    support::wait_for(&mut alice, "invite", |h| h.state().invite().is_some());
    let invite = alice.state().invite().unwrap().to_owned();
    bob.get_by_label("➕ Add contact").click();
    bob.step();
    support::type_into(&mut bob, "Invite link", &invite);
    support::type_into(&mut bob, "Contact name", "Alice");
    support::click(&mut bob, "Add contact");
    support::wait_for(&mut bob, "Alice listed", |h| {
        h.query_by_label("Chat with Alice").is_some()
    });
    support::wait_for(&mut alice, "Bob listed", |h| {
        h.query_by_label_contains("Chat with Bob").is_some()
    });
    bob.get_by_label("Chat with Alice").click();
    support::wait_for(&mut bob, "Bob's chat", |h| h.state().timeline().is_some());
    alice.get_by_label_contains("Chat with Bob").click();
    support::wait_for(&mut alice, "Alice's chat", |h| {
        h.state().timeline().is_some()
    });

    // Each harness step is 1/60 s of UI time and the loop below steps the
    // recipient thousands of times a second without input: it would pass
    // the 15-minute idle lock within a hundred messages.
    alice.state_mut().prefs_mut().auto_lock_minutes = 0;
    bob.state_mut().prefs_mut().auto_lock_minutes = 0;
    bob.get_by_label("Message").focus();
    bob.step();
    let mut ms = Vec::with_capacity(N);
    for i in 0..N {
        let text = format!("latency probe {i}");
        bob.get_by_label("Message").type_text(&text);
        bob.key_press(egui::Key::Enter);
        let start = Instant::now();
        bob.step();
        let deadline = start + Duration::from_secs(10);
        loop {
            alice.step();
            if has(&alice, &text) {
                break;
            }
            assert!(Instant::now() < deadline, "message {i} never arrived");
            std::thread::yield_now();
        }
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        bob.step();
    }
    let line = report(ms);
    println!("desktop → desktop: {line}");
    line
}

async fn messengers(
    dir: &std::path::Path,
    relay: &cairn_protocol::relay_address::RelayAddress,
) -> String {
    let config = MessengerConfig {
        dial: DialOptions::default(),
        ..MessengerConfig::default()
    };
    let alice = new_client_on(&dir.join("ma"), "Alice", relay.clone(), 1);
    let bob = new_client_on(&dir.join("mb"), "Bob", relay.clone(), 1);
    let (alice, mut alice_events) = Messenger::start(alice, config.clone());
    let (bob, _bob_events) = Messenger::start(bob, config);
    let invite = alice.create_invite(None).await.unwrap();
    let to_alice = bob.accept_invite(&invite.uri, "alice").await.unwrap().id;
    while let Some(e) = alice_events.recv().await {
        if matches!(e, MessengerEvent::Client(ClientEvent::ContactAdded { .. })) {
            break;
        }
    }
    let mut ms = Vec::with_capacity(N);
    for i in 0..N {
        let text = format!("core probe {i}");
        let start = Instant::now();
        bob.send_texts(to_alice, vec![text.clone()]).await.unwrap();
        loop {
            match alice_events.recv().await {
                Some(MessengerEvent::Client(ClientEvent::Message { message }))
                    if message.body == text =>
                {
                    break;
                }
                Some(_) => {}
                None => panic!("Alice's messenger stopped"),
            }
        }
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let line = report(ms);
    println!("messenger → messenger: {line}");
    line
}
