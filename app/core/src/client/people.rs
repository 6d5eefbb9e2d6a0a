//! Contacts as the user sees them: list, rename, safety numbers, verification.

use cairn_protocol::identity::PublicIdentity;
use cairn_protocol::safety_number::{SafetyNumber, compare_typed};

use super::sessions::session_mut;
use super::{Client, ClientError, ClientResult, validate_name};
use crate::store::{Contact, ContactId, EventKind, MailboxRecord, StoreError};

impl Client {
    /// All contacts, by name.
    pub fn contacts(&self) -> ClientResult<Vec<Contact>> {
        Ok(self.store().read().contacts()?)
    }

    /// Mailboxes we own and must poll.
    pub fn active_mailboxes(&self) -> ClientResult<Vec<MailboxRecord>> {
        Ok(self.store().read().active_mailboxes()?)
    }

    /// One contact.
    pub fn contact(&self, id: ContactId) -> ClientResult<Contact> {
        Ok(self.store().read().contact(id)?)
    }

    /// The contact the user calls `name` (names are unique in a profile, but
    /// they change: hold on to the [`ContactId`], not the name).
    pub fn contact_named(&self, name: &str) -> ClientResult<Contact> {
        Ok(self.store().read().contact_by_name(name)?)
    }

    /// Renames a contact; returns it as stored now.
    pub fn rename_contact(&mut self, id: ContactId, new_name: &str) -> ClientResult<Contact> {
        let new_name = validate_name(new_name)?;
        self.store_mut().write(|db| {
            let contact = db.contact(id)?;
            if contact.name != new_name && db.contact_name_taken(&new_name)? {
                return Err(ClientError::NameTaken(new_name.clone()));
            }
            db.rename_contact(id, &new_name)?;
            Ok(db.contact(id)?)
        })
    }

    /// Changes our own display name: the name sent when we accept someone's
    /// invite from now on (existing contacts keep the name they gave us).
    pub fn set_name(&mut self, name: &str) -> ClientResult<()> {
        let name = validate_name(name)?;
        self.store_mut()
            .write(|db| db.set_setting(super::keys::PROFILE_NAME, name.as_bytes()))?;
        self.name = name;
        Ok(())
    }

    /// The 60-digit safety number shared with `contact` (identical on both sides).
    pub fn fingerprint(&self, contact: ContactId) -> ClientResult<String> {
        Ok(self.contact(contact)?.safety_number)
    }

    /// Marks `contact` verified if `digits` equal the safety number, with
    /// spaces and dashes ignored (PROTOCOL.md §13, [`compare_typed`]).
    ///
    /// Input that is not a safety number at all (wrong length, a letter) is
    /// [`ClientError::SafetyNumberMalformed`]; a well-formed number that
    /// differs is [`ClientError::SafetyNumberMismatch`]. Both leave the flag
    /// unchanged and are errors, so scripts fail loudly.
    pub fn verify(&mut self, contact: ContactId, digits: &str, now_ms: u64) -> ClientResult<()> {
        let contact = self.contact(contact)?;
        match compare_typed(&contact.safety_number, digits) {
            Ok(true) => {}
            Ok(false) => return Err(ClientError::SafetyNumberMismatch(contact.name)),
            Err(reason) => {
                return Err(ClientError::SafetyNumberMalformed {
                    contact: contact.name,
                    reason,
                });
            }
        }
        self.set_verification(contact.id, Verification::Typed, now_ms)
    }

    /// The safety number with `contact` as the QR code payload we show
    /// (PROTOCOL.md §13): directional, so a picture of our own screen never
    /// verifies anyone ([`Client::verify_qr`]). Costs two fingerprint
    /// derivations (5,200 SHA-512 iterations each): ask when it is shown.
    pub fn safety_qr(&self, contact: ContactId) -> ClientResult<Vec<u8>> {
        Ok(self
            .safety_number_with(&self.contact(contact)?)?
            .qr_payload())
    }

    /// Marks `contact` verified if `scanned` is *their* safety-number QR
    /// payload for the two of us (read from a picture of their screen:
    /// [`crate::qr_image`]). Our own payload — a picture of our own screen —
    /// is [`ClientError::OwnSafetyQr`]; any other is a mismatch.
    pub fn verify_qr(
        &mut self,
        contact: ContactId,
        scanned: &[u8],
        now_ms: u64,
    ) -> ClientResult<()> {
        let record = self.contact(contact)?;
        let number = self.safety_number_with(&record)?;
        if number.matches_qr(scanned) {
            return self.set_verification(contact, Verification::Scanned, now_ms);
        }
        if number.qr_payload() == scanned {
            return Err(ClientError::OwnSafetyQr(record.name));
        }
        Err(ClientError::SafetyNumberMismatch(record.name))
    }

    fn safety_number_with(&self, contact: &Contact) -> ClientResult<SafetyNumber> {
        let theirs = PublicIdentity::from_bytes(&contact.identity)
            .map_err(|_| StoreError::Malformed("contact identity"))?;
        Ok(SafetyNumber::new(&self.identity.public(), &theirs))
    }

    /// Marks or clears `contact` as verified without typing the number: the
    /// user compared both screens side by side (or on a call) and says they
    /// match, or withdraws an earlier verification. Recorded in the chat.
    pub fn set_verification(
        &mut self,
        contact: ContactId,
        how: Verification,
        now_ms: u64,
    ) -> ClientResult<()> {
        let (verified, kind, detail) = match how {
            Verification::Typed => (true, EventKind::Verified, "safety number verified"),
            Verification::Compared => (
                true,
                EventKind::Verified,
                "safety number compared and marked as matching",
            ),
            Verification::Scanned => (
                true,
                EventKind::Verified,
                "safety number verified from their QR code",
            ),
            Verification::Cleared => (
                false,
                EventKind::VerificationCleared,
                "verification cleared: compare the safety number again",
            ),
        };
        self.store_mut().write(|db| {
            db.set_verified(contact, verified)?;
            db.add_event(Some(contact), kind, detail, now_ms)?;
            Ok::<_, StoreError>(())
        })?;
        Ok(())
    }
}

/// How a contact's verification changes ([`Client::set_verification`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The number they read out was typed and matched ([`Client::verify`]).
    Typed,
    /// Both screens were compared and the user says they match.
    Compared,
    /// Their QR code was read from a picture and matched ([`Client::verify_qr`]).
    Scanned,
    /// The user withdrew the verification.
    Cleared,
}

impl Client {
    /// Accepts `contact`'s announced new identity key: held messages become visible,
    /// the safety number is recomputed and the verified flag resets.
    pub fn accept_key_change(&mut self, contact: ContactId, now_ms: u64) -> ClientResult<()> {
        let contact = self.contact(contact)?;
        if contact.pending_identity.is_none() {
            return Err(ClientError::NoPendingKeyChange(contact.name));
        }
        let me = self.identity.public();
        let Client {
            profile, sessions, ..
        } = self;
        let result = profile.store_mut().write(|db| {
            let session = session_mut(sessions, db, &contact)?;
            let new = session
                .accept_pending_identity()
                .ok_or_else(|| ClientError::NoPendingKeyChange(contact.name.clone()))?;
            let safety = SafetyNumber::new(&me, &new);
            db.accept_pending_identity(contact.id, safety.digits())?;
            let released = db.release_held(contact.id)?;
            db.put_session(contact.id, &session.to_bytes(), now_ms)?;
            db.add_event(
                Some(contact.id),
                EventKind::KeyAccepted,
                &format!("new identity key accepted ({released} held messages shown); verify the new safety number"),
                now_ms,
            )?;
            Ok(())
        });
        if result.is_err() {
            self.sessions.clear();
        }
        result
    }
}
