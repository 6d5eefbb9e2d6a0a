//! Cairn protocol: the sans-IO heart of the Cairn messenger.
//!
//! Nothing here touches a socket, a clock or a global RNG: time and a CSPRNG
//! are parameters, so every exchange can be replayed deterministically in
//! tests. The byte-level specification is `docs/PROTOCOL.md`.
#![deny(missing_docs)]

pub mod address;
pub mod envelope;
pub mod padding;
pub mod relay;
pub mod wire;
