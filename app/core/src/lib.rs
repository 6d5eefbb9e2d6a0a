//! Cairn client core: everything the desktop app does except drawing.
//!
//! - [`profile`]: a directory holding one SQLCipher database keyed by Argon2id
//!   over the user's passphrase, plus a plaintext header with nothing secret.
//! - [`client`]: the profile plus the protocol, as synchronous state
//!   transitions (`now` is always a parameter).
//! - [`store`]: typed access to that database — contacts, sessions, messages,
//!   outbox, integrity events, search — with batching-friendly transactions.
//!
//! The core never depends on a UI toolkit; the desktop app and `cairn-cli`
//! drive the same code.
#![deny(missing_docs)]

pub mod calendar;
pub mod client;
pub mod net;
pub mod profile;
pub mod store;
pub mod text;
