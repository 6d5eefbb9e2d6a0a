//! Cairn client core: everything the desktop app does except drawing.
//!
//! - [`profile`]: a directory holding one SQLCipher database keyed by Argon2id
//!   over the user's passphrase, plus a plaintext header with nothing secret.
//! - [`client`]: the profile plus the protocol, as synchronous state
//!   transitions (`now` is always a parameter).
//! - [`store`]: typed access to that database — contacts, sessions, messages,
//!   outbox, integrity events, search — with batching-friendly transactions.
//! - [`messenger`]: the one async orchestration of a client and its relays
//!   (push-driven receive, separate connections for receiving and sending),
//!   shared by `cairn-cli` and the desktop app.
//! - [`qr_image`]: the safety number read from a picture of its QR code.
//! - [`calendar`]: local time zone and calendar formatting for both front ends.
//!
//! The core never depends on a UI toolkit; the desktop app and `cairn-cli`
//! drive the same code.
#![deny(missing_docs)]

pub mod calendar;
pub mod client;
pub mod messenger;
pub mod profile;
pub mod qr_image;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod text;
