//! Cairn relay: a blind, durable, self-hostable WebSocket mailbox server.
//!
//! The library is what the `cairn-relay` binary serves and what the desktop app
//! embeds as its built-in relay. Features: `redis` (the shared store for several
//! instances), `admin` (the `/healthz` + `/metrics` HTTP listener), `cli` (the
//! binary: command line, config file, logging; implies both). SQLite storage is
//! always built. The client lives in the `cairn-relay-client` crate.
//!
//! The relay stores opaque envelopes under random mailbox ids and forwards
//! them to whoever proves the mailbox auth key; it never learns who sends
//! or what is said. The byte-level protocol is `docs/PROTOCOL.md §18`.

pub mod bans;
pub mod budget;
pub mod config;
pub mod fanout;
pub mod limits;
pub mod metrics;
pub mod policy;
pub mod server;
pub mod store;
pub mod tls;
pub mod tokens;

pub use server::{Relay, RelayError};
