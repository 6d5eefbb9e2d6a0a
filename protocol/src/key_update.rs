//! Identity change (PROTOCOL.md §10.3): the sender moves to a new identity
//! key. The content is signed by the new key over the conversation and both
//! identities (and, as every inner message, by the old key), so only the
//! holder of both can announce it; the receiver still accepts it explicitly.

use crate::identity::{Identity, IdentityError, PublicIdentity};
use crate::labels;

/// A move to a new identity: signed by the old key (as the message) and by the new key (here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUpdate {
    /// The sender's new public identity.
    pub new_identity: PublicIdentity,
    /// New key's signature over `label ‖ conversation ‖ old identity ‖ new identity`.
    pub signature: [u8; 64],
}

impl KeyUpdate {
    /// Builds an update from `old` to `new` for one conversation.
    pub fn create(conversation: &[u8; 32], old: &PublicIdentity, new: &Identity) -> Self {
        let new_identity = new.public();
        let signature = new.sign(&Self::signed_bytes(conversation, old, &new_identity));
        Self {
            new_identity,
            signature,
        }
    }

    /// Checks the new key's signature.
    pub fn verify(
        &self,
        conversation: &[u8; 32],
        old: &PublicIdentity,
    ) -> Result<(), IdentityError> {
        self.new_identity.verify(
            &Self::signed_bytes(conversation, old, &self.new_identity),
            &self.signature,
        )
    }

    fn signed_bytes(
        conversation: &[u8; 32],
        old: &PublicIdentity,
        new: &PublicIdentity,
    ) -> Vec<u8> {
        let mut v = Vec::with_capacity(labels::KEY_UPDATE_SIGNATURE.len() + 32 + 128);
        v.extend_from_slice(labels::KEY_UPDATE_SIGNATURE);
        v.extend_from_slice(conversation);
        v.extend_from_slice(&old.to_bytes());
        v.extend_from_slice(&new.to_bytes());
        v
    }
}
