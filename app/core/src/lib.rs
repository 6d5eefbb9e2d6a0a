//! Cairn client core.
