//! Client ↔ relay wire frames (PROTOCOL.md, "Relay protocol").
