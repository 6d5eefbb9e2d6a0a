//! The exact byte strings a mailbox auth key signs.
//!
//! Each starts with a distinct domain-separation label so a signature made
//! for one purpose can never be replayed for another, and includes the
//! relay's per-connection challenge nonce so it cannot be replayed on
//! another connection.

use crate::envelope::MailboxId;
use crate::labels::{RELAY_DELETE, RELAY_SUBSCRIBE};

use super::NONCE_LEN;

/// Bytes signed to subscribe: `"cairn-relay-v1-subscribe" || nonce || mailbox id`.
pub fn subscribe_signing_bytes(nonce: &[u8; NONCE_LEN], mailbox: &MailboxId) -> Vec<u8> {
    transcript(RELAY_SUBSCRIBE, nonce, mailbox)
}

/// Bytes signed to delete a mailbox: `"cairn-relay-v1-delete" || nonce || mailbox id`.
pub fn delete_signing_bytes(nonce: &[u8; NONCE_LEN], mailbox: &MailboxId) -> Vec<u8> {
    transcript(RELAY_DELETE, nonce, mailbox)
}

fn transcript(label: &[u8], nonce: &[u8; NONCE_LEN], mailbox: &MailboxId) -> Vec<u8> {
    let mut out = Vec::with_capacity(label.len() + NONCE_LEN + mailbox.0.len());
    out.extend_from_slice(label);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&mailbox.0);
    out
}
