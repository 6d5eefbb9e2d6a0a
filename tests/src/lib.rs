//! End-to-end test harness: real `cairn-relay` processes, real clients.
//!
//! - [`binaries`] finds (and if needed builds) workspace binaries next to
//!   the running test executable, so tests work under `cargo test` and
//!   `cargo nextest` alike.
//! - [`relay::RelayProcess`] starts a relay on a free loopback port with a
//!   temporary data directory, waits for its `relay address:` line, stops
//!   it with SIGTERM or SIGKILL and restarts it on the same data directory.
//! - [`run::run_binary`] runs any workspace binary (e.g. `cairn-cli`) with
//!   arguments and environment and captures its output.
//! - [`fixtures`] makes mailboxes, keys and valid envelopes.
//! - [`wire`] connects to a relay, waits for and drains deliveries, encodes raw requests.
//! - [`cli::CliUser`] drives `cairn-cli` on one profile, reading `--json` lines.
//! - [`redis`], [`redis_lb`], [`redis_fleet`]: real redis-server processes
//!   (single or 3-primary cluster), a TCP load balancer, and several relay
//!   instances sharing one Redis behind it (the `redis_*` tests).

pub mod binaries;
pub mod cli;
pub mod fixtures;
pub mod redis;
pub mod redis_fleet;
pub mod redis_lb;
pub mod relay;
pub mod run;
pub mod wire;

/// Paths of the TLS certificate and key a relay generated in its data directory.
pub fn tls_files(data_dir: &std::path::Path) -> (String, String) {
    let path = |name: &str| data_dir.join(name).to_string_lossy().into_owned();
    (
        path(cairn_relay::tls::CERT_FILE),
        path(cairn_relay::tls::KEY_FILE),
    )
}

pub use relay::{RelayOptions, RelayProcess};
pub use run::{RunOutput, run_binary};
