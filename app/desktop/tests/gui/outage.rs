//! A relay outage reads as "waiting", in the main window: a banner while the
//! home relay is unreachable, gone once it is back, and what was written
//! meanwhile goes out then.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;

use cairn_desktop::commands::RelayHealth;
use cairn_relay::Relay;
use cairn_relay::config::{RelayConfig, TransportConfig};
use egui_kittest::kittest::Queryable;

use crate::support::{app_with, onboard, wait_for};

const BANNER: &str = "Cannot reach your home relay";

/// A plaintext loopback relay on `listen`, storing in `dir`, on a runtime of
/// the test's own: dropping the runtime is the outage.
fn relay(listen: SocketAddr, dir: &Path) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let address = rt.block_on(async {
        let mut config = RelayConfig::new(listen, dir.to_path_buf());
        config.transport = TransportConfig::Plaintext;
        let relay = Relay::bind(config).await.unwrap();
        let address = relay.address().to_string();
        tokio::spawn(relay.run(std::future::pending()));
        address
    });
    (rt, address)
}

#[test]
fn an_unreachable_home_relay_shows_a_banner_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let relay_dir = dir.path().join("relay");
    let (rt, address) = relay("127.0.0.1:0".parse().unwrap(), &relay_dir);
    let port: SocketAddr = address
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .unwrap();

    let mut alice = app_with(&dir.path().join("a"), true);
    onboard(&mut alice, "Alice", "alice passphrase 123", Some(&address));
    // An invite gives the relay a mailbox of ours to listen on.
    alice.get_by_label("➕ Add contact").click();
    wait_for(&mut alice, "invite", |h| h.state().invite().is_some());
    wait_for(&mut alice, "connected", |h| {
        h.state()
            .relays()
            .iter()
            .any(|r| r.home && r.health == RelayHealth::Connected)
    });
    assert!(alice.query_by_label_contains(BANNER).is_none());

    // The relay goes away: the main window says so, in words of waiting.
    rt.shutdown_background();
    wait_for(&mut alice, "the banner", |h| {
        h.query_by_label_contains(BANNER).is_some()
    });
    assert!(
        alice
            .query_by_label_contains("Cairn keeps trying")
            .is_some()
    );

    // Back on the same address: the banner goes by itself.
    let (_rt, again) = relay(port, &relay_dir);
    assert_eq!(again, address);
    wait_for(&mut alice, "the banner to go", |h| {
        h.query_by_label_contains(BANNER).is_none()
    });
}
