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

pub mod binaries;
pub mod fixtures;
pub mod relay;
pub mod run;

pub use relay::{RelayOptions, RelayProcess};
pub use run::{RunOutput, run_binary};
