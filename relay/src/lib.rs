//! Cairn relay.
