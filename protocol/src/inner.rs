//! The inner message: signed by the sender, carried inside the ratchet encryption.
//!
//! Fields (PROTOCOL.md, "Inner message"):
//! `version u8 ‖ counter u64 ‖ sent_at_ms u64 ‖ prev_hash (32) ‖ ack_counter u64 ‖
//! ack_hash (32) ‖ content ‖ signature (64)`.
//! The signature is Ed25519 over `"Cairn v1 inner" ‖ conversation id ‖ fields`; the
//! integrity hash is SHA-256 over `"Cairn v1 message hash" ‖ conversation id ‖ signature`.
//! Hashing the signature rather than the fields is sound because Ed25519 signatures are
//! deterministic and, under strict verification, bind the exact message: two messages
//! with one signature would need a SHA-512 collision. It saves a pass over the content.
//! Because both sit inside the encryption, the relay never learns who signed.

use thiserror::Error;

use crate::content::{Content, ContentError};
use crate::crypto::sha256;
use crate::identity::{Identity, IdentityError, Verifier};
use crate::labels;
use crate::wire::{DecodeError, Reader, Writer};

mod batch;

pub use batch::verify_batch;

const INNER_VERSION: u8 = 1;

/// "No message received yet" in the ack fields.
pub const NO_ACK: u64 = u64::MAX;

/// Why an inner message was refused after decryption.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Malformed fields.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Malformed content.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The sender's signature does not verify.
    #[error("sender signature invalid")]
    BadSignature(#[from] IdentityError),
}

/// The sender's view of where this message sits in the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inner {
    /// Sender's per-conversation counter, from 0, +1 per message.
    pub counter: u64,
    /// Sender's clock when sending (milliseconds since the Unix epoch).
    pub sent_at_ms: u64,
    /// Integrity hash of the sender's previous message (zeros for counter 0).
    pub prev_hash: [u8; 32],
    /// Counter of the last message the sender received from us ([`NO_ACK`] if none).
    pub ack_counter: u64,
    /// Integrity hash of that message (zeros if none).
    pub ack_hash: [u8; 32],
    /// What the message says.
    pub content: Content,
}

/// A decoded inner message with its hash and signature, not yet verified.
#[derive(Debug, Clone)]
pub struct SignedInner {
    /// The fields.
    pub inner: Inner,
    /// Integrity hash of this message.
    pub hash: [u8; 32],
    signed: Vec<u8>,
    signature: [u8; 64],
}

impl Inner {
    fn fields(&self) -> Writer {
        let mut w = Writer::with_capacity(128 + content_hint(&self.content));
        w.u8(INNER_VERSION)
            .u64(self.counter)
            .u64(self.sent_at_ms)
            .put(&self.prev_hash)
            .u64(self.ack_counter)
            .put(&self.ack_hash);
        self.content.encode(&mut w);
        w
    }

    /// Encodes, hashes and signs; returns `(wire bytes, integrity hash)`.
    pub fn sign(&self, conversation: &[u8; 32], me: &Identity) -> (Vec<u8>, [u8; 32]) {
        let fields = self.fields();
        let signed = signed_bytes(conversation, fields.as_slice());
        let signature = me.sign(&signed);
        let hash = sha256(&[labels::MESSAGE_HASH, conversation, &signature]);
        let mut out = fields.into_vec();
        out.extend_from_slice(&signature);
        (out, hash)
    }
}

impl SignedInner {
    /// Parses wire bytes (strict: no trailing bytes).
    pub fn decode(conversation: &[u8; 32], bytes: &[u8]) -> Result<Self, MessageError> {
        if bytes.len() < 64 {
            return Err(DecodeError::Truncated {
                needed: 64 - bytes.len(),
                remaining: bytes.len(),
            }
            .into());
        }
        let (fields, sig) = bytes.split_at(bytes.len() - 64);
        let mut r = Reader::new(fields);
        let version = r.u8()?;
        if version != INNER_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let inner = Inner {
            counter: r.u64()?,
            sent_at_ms: r.u64()?,
            prev_hash: r.array()?,
            ack_counter: r.u64()?,
            ack_hash: r.array()?,
            content: Content::decode(&mut r)?,
        };
        r.finish()?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig);
        Ok(Self {
            inner,
            hash: sha256(&[labels::MESSAGE_HASH, conversation, sig]),
            signed: signed_bytes(conversation, fields),
            signature,
        })
    }

    /// The wire bytes this was decoded from (`fields ‖ signature`), for round-trip checks.
    pub fn to_bytes(&self) -> Vec<u8> {
        let prefix = labels::INNER_SIGNATURE.len() + 32;
        let mut out = self.signed[prefix..].to_vec();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Verifies the sender's signature.
    pub fn verify(&self, sender: &Verifier) -> Result<(), IdentityError> {
        sender.verify(&self.signed, &self.signature)
    }
}

fn signed_bytes(conversation: &[u8; 32], fields: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(labels::INNER_SIGNATURE.len() + 32 + fields.len());
    v.extend_from_slice(labels::INNER_SIGNATURE);
    v.extend_from_slice(conversation);
    v.extend_from_slice(fields);
    v
}

fn content_hint(c: &Content) -> usize {
    match c {
        Content::Text(t) => t.len(),
        Content::Delivered(v) | Content::Read(v) => v.len() * 8,
        Content::Unknown { bytes, .. } => bytes.len(),
        Content::KeyUpdate(_) => 128,
        Content::MailboxMove { .. } => 4 + 253 + 2 + 32 + 32 + 32,
        Content::MailboxMoved { .. } => 32,
        Content::SessionRestored { .. } => 8,
    }
}
