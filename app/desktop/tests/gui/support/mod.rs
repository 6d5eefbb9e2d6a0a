//! Shared helpers: build a real app on a temp dir, wait for the backend.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::profile::kdf::KdfParams;
use cairn_desktop::backend::BackendConfig;
use cairn_desktop::clock::Clock;
use cairn_desktop::{AppOptions, CairnApp, Phase};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// 2026-11-18 11:06:40 UTC: every test starts here.
pub(crate) const START_MS: u64 = 1_795_000_000_000;

/// A real app whose files live in `dir`, with a cheap KDF.
pub(crate) fn app(dir: &Path) -> Harness<'static, CairnApp> {
    app_with(dir, false)
}

/// [`app`], optionally allowed to use a plain `ws://` relay on this machine.
pub(crate) fn app_with(dir: &Path, plaintext_loopback: bool) -> Harness<'static, CairnApp> {
    let mut backend = BackendConfig::new(dir.to_path_buf(), Clock::stepping(START_MS));
    backend.kdf = KdfParams::INSECURE_FOR_TESTS;
    backend.allow_plaintext_loopback = plaintext_loopback;
    harness(AppOptions {
        backend,
        prefs_path: None,
        builtin_port: 0,
        zone: cairn_desktop::clock::Zone::utc(),
    })
}

/// [`app`] with preferences kept in `prefs` and the built-in relay's
/// first-start port `builtin_port`, as a real launch has them.
pub(crate) fn app_with_prefs(
    dir: &Path,
    prefs: &Path,
    builtin_port: u16,
) -> Harness<'static, CairnApp> {
    let mut backend = BackendConfig::new(dir.to_path_buf(), Clock::stepping(START_MS));
    backend.kdf = KdfParams::INSECURE_FOR_TESTS;
    harness(AppOptions {
        backend,
        prefs_path: Some(prefs.to_path_buf()),
        builtin_port,
        zone: cairn_desktop::clock::Zone::utc(),
    })
}

fn harness(options: AppOptions) -> Harness<'static, CairnApp> {
    harness_sized(options, egui::vec2(1100.0, 720.0))
}

/// [`app`] in a window of `size` (the app's minimum is 720×480).
pub(crate) fn app_sized(dir: &Path, size: egui::Vec2) -> Harness<'static, CairnApp> {
    let mut backend = BackendConfig::new(dir.to_path_buf(), Clock::stepping(START_MS));
    backend.kdf = KdfParams::INSECURE_FOR_TESTS;
    harness_sized(
        AppOptions {
            backend,
            prefs_path: None,
            builtin_port: 0,
            zone: cairn_desktop::clock::Zone::utc(),
        },
        size,
    )
}

fn harness_sized(options: AppOptions, size: egui::Vec2) -> Harness<'static, CairnApp> {
    let app = CairnApp::new(options, Arc::new(|| {})).unwrap();
    Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, app: &mut CairnApp| app.frame(ui), app)
}

/// Steps the harness until `done` holds (the backend works on its own thread).
pub(crate) fn wait_for(
    h: &mut Harness<'static, CairnApp>,
    what: &str,
    done: impl Fn(&Harness<'static, CairnApp>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        h.step();
        if done(h) {
            h.step();
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// Types into the text field with accessible name `label`.
pub(crate) fn type_into(h: &mut Harness<'static, CairnApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

/// Lets a scroll animation finish (kittest steps 1/60 s of UI time).
pub(crate) fn settle(h: &mut Harness<'static, CairnApp>) {
    for _ in 0..30 {
        h.step();
    }
}

/// Clicks the button named `label` (scrolled into view first, as a user would).
pub(crate) fn click(h: &mut Harness<'static, CairnApp>, label: &str) {
    h.get_by_role_and_label(egui::accesskit::Role::Button, label)
        .scroll_to_me();
    settle(h);
    h.get_by_role_and_label(egui::accesskit::Role::Button, label)
        .click();
    h.step();
    h.step();
}

/// Clicks whatever is named `label` (a radio button, a row), scrolled into view first.
pub(crate) fn click_label(h: &mut Harness<'static, CairnApp>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    settle(h);
    h.get_by_label(label).click();
    h.step();
    h.step();
}

/// Runs first-run onboarding: built-in relay (or `relay` pasted), then a profile.
pub(crate) fn onboard(
    h: &mut Harness<'static, CairnApp>,
    name: &str,
    pass: &str,
    relay: Option<&str>,
) {
    wait_for(h, "first-run screen", |h| {
        h.state().phase() == Phase::Create
    });
    match relay {
        None => {
            click(h, "Start built-in relay");
            wait_for(h, "built-in relay", |h| h.state().local_relay().is_some());
        }
        Some(address) => {
            h.get_by_label("Use a relay address someone gave me")
                .click();
            h.step();
            type_into(h, "Relay address (wss://host:port/#pin)", address);
        }
    }
    type_into(h, "Your name (sent when you accept an invite)", name);
    type_into(h, "Passphrase", pass);
    type_into(h, "Confirm passphrase", pass);
    click(h, "Create profile");
    wait_for(h, "main window", |h| h.state().phase() == Phase::Main);
}

/// Opens "Add contact" and returns the invite link it shows.
pub(crate) fn show_invite(h: &mut Harness<'static, CairnApp>) -> String {
    h.get_by_label("➕ Add contact").click();
    wait_for(h, "invite", |h| h.state().invite().is_some());
    h.state().invite().unwrap_or_default().to_owned()
}

/// Accepts `invite` in "Add contact", calling its sender `name`, and waits
/// until the contact is listed.
pub(crate) fn accept_invite(h: &mut Harness<'static, CairnApp>, invite: &str, name: &str) {
    h.get_by_label("➕ Add contact").click();
    h.step();
    type_into(h, "Invite link", invite);
    type_into(h, "Contact name", name);
    click(h, "Add contact");
    let row = format!("Chat with {name}");
    wait_for(h, "the new contact listed", |h| {
        h.query_by_label(&row).is_some()
    });
}

/// Plaintext loopback relays running on a runtime of the test's own (the
/// apps run their own backends); keep the runtime alive while they are used.
pub(crate) fn loopback_relays(
    dir: &Path,
    n: usize,
) -> (
    tokio::runtime::Runtime,
    Vec<cairn_protocol::relay_address::RelayAddress>,
) {
    use cairn_relay::Relay;
    use cairn_relay::config::{RelayConfig, TransportConfig};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addresses = (0..n)
        .map(|i| {
            rt.block_on(async {
                let data = dir.join(format!("relay{i}"));
                let mut config = RelayConfig::new("127.0.0.1:0".parse().unwrap(), data);
                config.transport = TransportConfig::Plaintext;
                let relay = Relay::bind(config).await.unwrap();
                let address = relay.address().clone();
                tokio::spawn(relay.run(std::future::pending()));
                address
            })
        })
        .collect();
    (rt, addresses)
}

/// A file dropped on the window, as winit hands it to egui.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Drops the file at `path` on the window.
pub(crate) fn drop_file(h: &mut Harness<'static, CairnApp>, path: &Path) {
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(path.to_path_buf())));
    h.step();
}

/// `data` as the app draws a QR code, scaled like a screenshot (4 pixels per
/// module), saved as `dir/name` (PNG).
pub(crate) fn qr_picture(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let drawn = cairn_desktop::widgets::qr_image(data).unwrap();
    let [w, h] = drawn.size;
    let scale = 4;
    let picture = image::GrayImage::from_fn((w * scale) as u32, (h * scale) as u32, |x, y| {
        let pixel = drawn.pixels[(y as usize / scale) * w + x as usize / scale];
        image::Luma([pixel.r()])
    });
    let path = dir.join(name);
    picture.save(&path).unwrap();
    path
}
