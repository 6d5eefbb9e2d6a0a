//! Cairn protocol: the sans-IO heart of the Cairn messenger.
//!
//! Nothing here touches a socket, a clock or a global RNG: time and a CSPRNG
//! are parameters, so every exchange can be replayed deterministically in
//! tests. The byte-level specification is `docs/PROTOCOL.md`.
#![deny(missing_docs)]

pub mod address;
pub mod content;
pub mod crypto;
pub mod envelope;
pub mod handshake;
pub mod identity;
pub mod integrity;
pub mod invite;
pub mod labels;
pub mod message;
pub mod padding;
pub mod ratchet;
pub mod relay;
pub mod safety_number;
pub mod session;
pub mod wire;
