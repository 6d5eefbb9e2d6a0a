//! Test data: mailbox ids, auth keys and valid padded envelopes.

use bytes::Bytes;
use cairn_protocol::envelope::{BodyKind, MailboxId, MessageId, write_header};
use ed25519_dalek::SigningKey;
use rand::RngExt;

/// A fresh random mailbox id and auth key.
pub fn mailbox() -> (MailboxId, SigningKey) {
    let mut rng = rand::rng();
    (
        MailboxId(rng.random()),
        SigningKey::from_bytes(&rng.random()),
    )
}

/// A random message id.
pub fn message_id() -> MessageId {
    MessageId(rand::rng().random())
}

/// A valid envelope of `bucket` bytes for `mailbox` whose body starts with `marker`.
pub fn envelope(mailbox: MailboxId, id: MessageId, bucket: usize, marker: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(bucket);
    write_header(&mut out, &mailbox, &id, BodyKind::Ratchet);
    out.extend_from_slice(marker);
    out.resize(bucket, 0);
    Bytes::from(out)
}

/// The message id stored in an envelope.
pub fn id_of(envelope: &[u8]) -> MessageId {
    let mut id = [0; 16];
    id.copy_from_slice(&envelope[33..49]);
    MessageId(id)
}
