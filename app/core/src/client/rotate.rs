//! Moving to a new identity key (the sender side of a key change).
//!
//! Every conversation gets a key update signed by both the old and the new
//! key; peers hold what the new key signs until their user accepts it. Our
//! own safety numbers change too, so our verified flags reset.

use cairn_protocol::identity::Identity;
use cairn_protocol::safety_number::SafetyNumber;

use super::send::queue_sealed;
use super::sessions::session_mut;
use super::{Client, ClientResult, keys};
use crate::store::EventKind;

impl Client {
    /// Replaces our identity with a fresh one and announces it to every contact.
    ///
    /// One transaction: new seed, one queued key update per contact, new
    /// sessions and safety numbers. Returns how many contacts were notified.
    pub fn rotate_identity(&mut self, now_ms: u64) -> ClientResult<usize> {
        let new = Identity::generate(&mut rand::rng());
        let contacts = self.contacts()?;
        let notified = self.write_with_sessions(|db, identity, sessions| {
            for contact in &contacts {
                let session = session_mut(sessions, db, contact)?;
                let out = session.rotate_identity(identity, &new, now_ms, &mut rand::rng())?;
                queue_sealed(db, contact, &out, None, now_ms)?;
                db.put_session(contact.id, &session.to_bytes(), now_ms)?;
                let safety = SafetyNumber::new(&new.public(), &session.peer_identity());
                db.update_safety_number(contact.id, safety.digits())?;
                db.add_event(
                    Some(contact.id),
                    EventKind::KeyChange,
                    "you moved to a new identity key: compare the new safety number again",
                    now_ms,
                )?;
            }
            db.set_setting(keys::IDENTITY_SEED, new.seed())?;
            Ok(contacts.len())
        })?;
        self.identity = new;
        Ok(notified)
    }
}
