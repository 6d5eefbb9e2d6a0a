//! Every domain-separation string Cairn feeds to a KDF, MAC or signature.
//!
//! Kept in one place so the spec (PROTOCOL.md, "Labels") and the code cannot
//! drift, and so no two contexts ever share a label.

/// HKDF info: Ed25519 signing seed from the identity seed.
pub const IDENTITY_ED25519: &[u8] = b"Cairn v1 identity ed25519";
/// HKDF info: X25519 secret from the identity seed.
pub const IDENTITY_X25519: &[u8] = b"Cairn v1 identity x25519";
/// Signature prefix over an invite's fields.
pub const INVITE_SIGNATURE: &[u8] = b"Cairn v1 invite";
/// Hash prefix for an invite's id.
pub const INVITE_ID: &[u8] = b"Cairn v1 invite id";
/// Hash prefix of an invite's bytes: the secret of its short link (§7.1).
pub const INVITE_LINK: &[u8] = b"Cairn v1 invite link";
/// HKDF info: link mailbox, its auth seed and the seal key from a link secret (§7.1).
pub const INVITE_LINK_KEYS: &[u8] = b"Cairn v1 invite link keys";
/// Hash prefix for the handshake transcript.
pub const HANDSHAKE_TRANSCRIPT: &[u8] = b"Cairn v1 handshake transcript";
/// HKDF info: stage 1 of the handshake (payload key).
pub const HANDSHAKE_STAGE1: &[u8] = b"Cairn v1 handshake stage 1";
/// HKDF info: stage 2 of the handshake (root, header keys, conversation id).
pub const HANDSHAKE_STAGE2: &[u8] = b"Cairn v1 handshake stage 2";
/// Signature prefix of the acceptor over the handshake.
pub const ACCEPT_SIGNATURE: &[u8] = b"Cairn v1 accept";
/// HKDF info: root-key ratchet step.
pub const ROOT_STEP: &[u8] = b"Cairn v1 root";
/// HKDF info: the body key of one message (its nonce is random, PROTOCOL.md §9.3).
pub const MESSAGE_KEY: &[u8] = b"Cairn v1 message key";
/// Signature prefix over an inner message.
pub const INNER_SIGNATURE: &[u8] = b"Cairn v1 inner";
/// Hash prefix of an inner message for the integrity chain.
pub const MESSAGE_HASH: &[u8] = b"Cairn v1 message hash";
/// Signature prefix of a new identity key over a key update.
pub const KEY_UPDATE_SIGNATURE: &[u8] = b"Cairn v1 key update";
/// Suffix hashed into the safety-number fingerprint.
pub const SAFETY_NUMBER: &[u8] = b"Cairn v1 safety number";
/// Magic prefix of the safety-number QR payload.
pub const SAFETY_QR_MAGIC: &[u8; 8] = b"CAIRN-SN";
/// Signature prefix of a mailbox auth key proving ownership to subscribe (§18).
pub const RELAY_SUBSCRIBE: &[u8] = b"cairn-relay-v1-subscribe";
/// Signature prefix of a mailbox auth key proving ownership to delete (§18).
pub const RELAY_DELETE: &[u8] = b"cairn-relay-v1-delete";
