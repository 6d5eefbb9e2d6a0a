//! Chat view with 100,000 messages: frame time, cold start, resident memory.
//!
//! Run: `cargo bench -p cairn-desktop --bench chat_view` (release profile).
//! Headless (egui_kittest harness: layout + accessibility tree, no GPU).
//! The first run writes a real encrypted profile holding 100,000 messages
//! (built through the client core in /dev/shm, then copied under
//! `target/cairn-bench/`), later runs reuse it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::client::{Client, InitOptions, TimelineItem};
use cairn_core::profile::kdf::KdfParams;
use cairn_core::store::{ContactId, Direction, MessageRecord, MessageStatus};
use cairn_core::testing::{introduce, pump, sample_contact};
use cairn_desktop::backend::BackendConfig;
use cairn_desktop::chat::window::Timeline;
use cairn_desktop::clock::Clock;
use cairn_desktop::commands::ContactSummary;
use cairn_desktop::{AppOptions, CairnApp, Pane, Phase};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

const N: usize = 100_000;
const PASS: &str = "benchmark passphrase";
const START_MS: u64 = 1_795_000_000_000;

fn main() {
    let synthetic = synthetic_frames();
    let real = real_profile();
    println!("\nRSS: {}", rss());
    println!("\nsummary: {synthetic}; {real}");
}

fn harness(options: AppOptions) -> Harness<'static, CairnApp> {
    let app = CairnApp::new(options, Arc::new(|| {})).unwrap();
    Harness::builder()
        .with_size(egui::vec2(1100.0, 720.0))
        .build_ui_state(|ui, app: &mut CairnApp| app.frame(ui), app)
}

fn options(data_dir: &Path) -> AppOptions {
    AppOptions {
        backend: BackendConfig::new(data_dir.to_path_buf(), Clock::system()),
        prefs_path: None,
        builtin_port: 0,
        zone: cairn_desktop::clock::Zone::utc(),
    }
}

fn stats(label: &str, mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q) as usize];
    let line = format!(
        "{label}: mean {mean:.3} ms, p50 {:.3}, p95 {:.3}, max {:.3} ({} frames)",
        p(0.5),
        p(0.95),
        p(1.0),
        ms.len()
    );
    println!("{line}");
    line
}

/// Frame time with a synthetic 100k history (no database): the UI cost alone.
fn synthetic_frames() -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut h = harness(options(tmp.path()));
    let items: Vec<TimelineItem> = (0..N)
        .map(|i| {
            let body = if i % 7 == 0 {
                format!("message {i}: a longer one that wraps over more than one line in the chat view, to exercise the wrapping rows\nwith a second paragraph")
            } else {
                format!("message {i}")
            };
            TimelineItem::Message(MessageRecord {
                id: i as i64,
                contact: ContactId(1),
                direction: if i % 2 == 0 { Direction::Incoming } else { Direction::Outgoing },
                counter: i as u64,
                body,
                sent_ms: START_MS + i as u64 * 45_000,
                received_ms: Some(START_MS + i as u64 * 45_000),
                status: MessageStatus::Read,
                envelope_id: None,
            })
        })
        .collect();
    let timeline = Timeline::new(ContactId(1), items);
    h.state_mut()
        .preview(vec![summary()], Pane::Chat(ContactId(1)));
    h.state_mut().set_timeline(timeline);
    // The first frame measures and wraps all 100k messages (the real app
    // holds one page of 200 at a time and loads older ones on demand).
    let t0 = Instant::now();
    h.step();
    println!(
        "layout of {N} messages (first frame): {:.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let row_count = h
        .state()
        .timeline()
        .and_then(|t| t.layout())
        .map_or(0, |l| l.blocks.len());
    for _ in 0..5 {
        h.step();
    }
    let mut bottom = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        h.step();
        bottom.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let a = stats("frame, 100k synthetic, at bottom", bottom);
    // Scroll through the middle of the history: a wheel event per frame.
    let mut scrolling = Vec::new();
    h.get_by_label("message 99999").hover();
    for i in 0..300 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, if i < 150 { 4000.0 } else { -1500.0 }),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
        });
        let t = Instant::now();
        h.step();
        scrolling.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let b = stats("frame, 100k synthetic, scrolling", scrolling);
    println!("({row_count} blocks)");
    format!("{a}; {b}")
}

fn summary() -> ContactSummary {
    ContactSummary {
        contact: sample_contact(ContactId(1), "Bob"),
        unread: 0,
        last_preview: Some("message 99999".into()),
        last_at_ms: START_MS,
    }
}

/// A real profile with 100k messages: cold start, unlock, open chat, frames.
fn real_profile() -> String {
    let dir = bench_dir();
    let t0 = Instant::now();
    let mut h = harness(options(&dir));
    h.step();
    let created = t0.elapsed();
    while h.state().phase() == Phase::Starting {
        h.step();
    }
    let first_screen = t0.elapsed();
    println!(
        "cold start: app + backend created {:.1} ms, first frame {:.1} ms, unlock screen drawn {:.1} ms",
        created.as_secs_f64() * 1e3,
        created.as_secs_f64() * 1e3,
        first_screen.as_secs_f64() * 1e3
    );
    h.get_by_label("Passphrase").focus();
    h.step();
    h.get_by_label("Passphrase").type_text(PASS);
    h.step();
    let t1 = Instant::now();
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Unlock")
        .click();
    wait(&mut h, |h| h.state().phase() == Phase::Main);
    let unlocked = t1.elapsed();
    wait(&mut h, |h| h.query_by_label("Chat with Alice").is_some());
    let listed = t1.elapsed();
    let t2 = Instant::now();
    h.get_by_label("Chat with Alice").click();
    wait(&mut h, |h| {
        h.state().timeline().is_some_and(|t| !t.items.is_empty())
    });
    h.step();
    let opened = t2.elapsed();
    println!(
        "unlock (Argon2id default cost + open + summaries): {:.1} ms; contact list shown {:.1} ms; open 100k chat to first frame: {:.1} ms",
        unlocked.as_secs_f64() * 1e3,
        listed.as_secs_f64() * 1e3,
        opened.as_secs_f64() * 1e3
    );
    let mut frames = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        h.step();
        frames.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let line = stats("frame, real 100k profile", frames);
    // Wheel up through the history: older pages load from the core as the top nears.
    let first_item = h.state().timeline().map_or(0, |t| t.items.len());
    let mut scrolling = Vec::new();
    h.query_all_by_label_contains("message 9")
        .next()
        .expect("a message on screen")
        .hover();
    for _ in 0..400 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, 600.0),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
        });
        let t = Instant::now();
        h.step();
        scrolling.push(t.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(2));
    }
    let scroll_line = stats(
        "frame, real 100k profile, wheel-scrolling up (pages load)",
        scrolling,
    );
    println!(
        "items held: {first_item} after opening, {} after scrolling",
        h.state().timeline().map_or(0, |t| t.items.len())
    );
    let line = format!("{line}; {scroll_line}");
    format!(
        "{line}; first frame {:.1} ms; unlock {:.0} ms; open chat {:.0} ms",
        created.as_secs_f64() * 1e3,
        unlocked.as_secs_f64() * 1e3,
        opened.as_secs_f64() * 1e3
    )
}

fn wait(h: &mut Harness<'static, CairnApp>, done: impl Fn(&Harness<'static, CairnApp>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(h) {
        assert!(Instant::now() < deadline, "benchmark step timed out");
        h.step();
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `target/cairn-bench/data` with `profile/` holding Bob's side of 100k messages.
fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let data = target.join("cairn-bench/data");
    if data.join("profile").exists() {
        return data;
    }
    let t = Instant::now();
    let scratch = Path::new("/dev/shm")
        .exists()
        .then(|| tempfile::tempdir_in("/dev/shm").unwrap());
    let scratch = scratch.unwrap_or_else(|| tempfile::tempdir().unwrap());
    generate(scratch.path());
    std::fs::create_dir_all(&data).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(scratch.path().join("bob"))
        .arg(data.join("profile"))
        .status()
        .unwrap();
    assert!(status.success());
    println!(
        "generated the 100k-message profile in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    data
}

fn generate(root: &Path) {
    let relay: cairn_protocol::relay_address::RelayAddress = "ws://127.0.0.1:9/".parse().unwrap();
    let init = |dir: &Path, name: &str, kdf| {
        Client::init(
            &InitOptions {
                dir,
                passphrase: PASS.as_bytes(),
                kdf,
                name,
                relay: relay.clone(),
                access_token: None,
            },
            START_MS,
        )
        .unwrap()
    };
    let mut alice = init(&root.join("alice"), "Alice", KdfParams::INSECURE_FOR_TESTS);
    let mut bob = init(&root.join("bob"), "Bob", KdfParams::DEFAULT);
    let (to_bob, to_alice) = introduce(&mut alice, &mut bob, "Alice", START_MS);
    // Alice writes 2/3 of the messages, Bob 1/3, over about 50 days.
    let mut now = START_MS;
    for i in 0..N {
        now += 43_000;
        let text = if i % 9 == 0 {
            format!(
                "message {i}: somewhat longer, so that it wraps onto a second line in the chat window and shows a taller bubble"
            )
        } else {
            format!("message {i}")
        };
        if i % 3 == 2 {
            bob.send_text(to_alice, &text, now).unwrap();
        } else {
            alice.send_text(to_bob, &text, now).unwrap();
        }
        if i % 2000 == 1999 {
            pump(&mut alice, &mut bob, now);
            pump(&mut bob, &mut alice, now);
        }
    }
    pump(&mut alice, &mut bob, now);
    pump(&mut bob, &mut alice, now);
    bob.mark_read(to_alice, now).unwrap();
}
