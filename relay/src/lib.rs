//! Cairn relay: a blind, durable, self-hostable WebSocket mailbox server,
//! and the async client every Cairn component uses to talk to it.
//!
//! The relay stores opaque envelopes under random mailbox ids and forwards
//! them to whoever proves the mailbox auth key; it never learns who sends
//! or what is said. The byte-level protocol is `docs/PROTOCOL.md §18`.

pub mod cli;
pub mod client;
pub mod config;
pub mod fanout;
pub mod limits;
pub mod metrics;
pub mod server;
pub mod store;
pub mod tls;
pub mod tokens;

pub use server::{Relay, RelayError};
