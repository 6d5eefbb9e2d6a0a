//! Contacts and their ratchet sessions.

use rusqlite::{OptionalExtension, Row};
use zeroize::Zeroizing;

use super::{Db, StoreError, StoreResult, blob};

/// Row id of a contact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(pub i64);

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Row id.
    pub id: ContactId,
    /// Local display name, unique in this profile.
    pub name: String,
    /// The accepted public identity (64 bytes: Ed25519 ‖ X25519).
    pub identity: [u8; 64],
    /// Their relay address text.
    pub relay: String,
    /// Their mailbox: where we send.
    pub their_mailbox: [u8; 32],
    /// Our mailbox: where they send.
    pub my_mailbox: [u8; 32],
    /// 60-digit safety number for the accepted identity.
    pub safety_number: String,
    /// The user compared the safety number out of band.
    pub verified: bool,
    /// A new identity the contact announced that the user has not accepted yet.
    pub pending_identity: Option<[u8; 64]>,
    /// Their side has completed the handshake (always true for contacts who
    /// accepted our invite; for one whose invite we accepted, once their
    /// first message came — until then someone else may have used the invite first).
    pub confirmed: bool,
}

/// Fields needed to add a contact.
#[derive(Debug, Clone)]
pub struct NewContact<'a> {
    /// Display name.
    pub name: &'a str,
    /// Public identity bytes.
    pub identity: &'a [u8; 64],
    /// Their relay.
    pub relay: &'a str,
    /// Their mailbox.
    pub their_mailbox: &'a [u8; 32],
    /// Our mailbox for them (must be recorded in `mailboxes`).
    pub my_mailbox: &'a [u8; 32],
    /// Safety number digits.
    pub safety_number: &'a str,
    /// Their side has completed the handshake (see [`Contact::confirmed`]).
    pub confirmed: bool,
}

const COLUMNS: &str = "id, name, identity, relay, their_mailbox, my_mailbox, safety_number, \
                       verified, pending_identity, confirmed";

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawContact> {
    Ok(RawContact {
        id: r.get(0)?,
        name: r.get(1)?,
        identity: r.get(2)?,
        relay: r.get(3)?,
        their_mailbox: r.get(4)?,
        my_mailbox: r.get(5)?,
        safety_number: r.get(6)?,
        verified: r.get(7)?,
        pending_identity: r.get(8)?,
        confirmed: r.get(9)?,
    })
}

struct RawContact {
    id: i64,
    name: String,
    identity: Vec<u8>,
    relay: String,
    their_mailbox: Vec<u8>,
    my_mailbox: Vec<u8>,
    safety_number: String,
    verified: bool,
    pending_identity: Option<Vec<u8>>,
    confirmed: bool,
}

impl RawContact {
    fn decode(self) -> StoreResult<Contact> {
        Ok(Contact {
            id: ContactId(self.id),
            name: self.name,
            identity: blob(self.identity, "contact identity")?,
            relay: self.relay,
            their_mailbox: blob(self.their_mailbox, "contact mailbox")?,
            my_mailbox: blob(self.my_mailbox, "contact mailbox")?,
            safety_number: self.safety_number,
            verified: self.verified,
            pending_identity: self
                .pending_identity
                .map(|p| blob(p, "pending identity"))
                .transpose()?,
            confirmed: self.confirmed,
        })
    }
}

impl Db<'_> {
    /// Adds a contact; fails with a constraint error if the name is taken.
    pub fn add_contact(&self, c: &NewContact<'_>, now_ms: u64) -> StoreResult<ContactId> {
        self.conn.execute(
            "INSERT INTO contacts (name, identity, relay, their_mailbox, my_mailbox, safety_number, created_ms, confirmed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                c.name,
                &c.identity[..],
                c.relay,
                &c.their_mailbox[..],
                &c.my_mailbox[..],
                c.safety_number,
                now_ms as i64,
                c.confirmed,
            ],
        )?;
        Ok(ContactId(self.conn.last_insert_rowid()))
    }

    /// True if a contact already uses this name.
    pub fn contact_name_taken(&self, name: &str) -> StoreResult<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM contacts WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// All contacts, by name.
    pub fn contacts(&self) -> StoreResult<Vec<Contact>> {
        let sql = format!("SELECT {COLUMNS} FROM contacts ORDER BY name");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], from_row)?;
        rows.map(|r| r?.decode()).collect()
    }

    /// A contact by display name.
    pub fn contact_by_name(&self, name: &str) -> StoreResult<Contact> {
        self.contact_where("name = ?1", &name)?
            .ok_or_else(|| StoreError::NotFound {
                what: "contact",
                key: name.to_owned(),
            })
    }

    /// A contact by row id.
    pub fn contact(&self, id: ContactId) -> StoreResult<Contact> {
        self.contact_where("id = ?1", &id.0)?
            .ok_or_else(|| StoreError::NotFound {
                what: "contact",
                key: id.0.to_string(),
            })
    }

    /// The contact who sends to our mailbox `mailbox`, if any.
    pub fn contact_by_my_mailbox(&self, mailbox: &[u8; 32]) -> StoreResult<Option<Contact>> {
        self.contact_where("my_mailbox = ?1", &&mailbox[..])
    }

    fn contact_where(
        &self,
        filter: &str,
        param: &dyn rusqlite::ToSql,
    ) -> StoreResult<Option<Contact>> {
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE {filter}");
        self.conn
            .query_row(&sql, [param], from_row)
            .optional()?
            .map(RawContact::decode)
            .transpose()
    }

    /// Renames a contact.
    pub fn rename_contact(&self, id: ContactId, name: &str) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE contacts SET name = ?2 WHERE id = ?1",
            rusqlite::params![id.0, name],
        )?;
        Ok(())
    }

    /// Sets or clears the verified flag.
    pub fn set_verified(&self, id: ContactId, verified: bool) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE contacts SET verified = ?2 WHERE id = ?1",
            rusqlite::params![id.0, verified],
        )?;
        Ok(())
    }

    /// Stores a recomputed safety number (after our own key changed); verification resets.
    pub fn update_safety_number(&self, id: ContactId, safety_number: &str) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE contacts SET safety_number = ?2, verified = 0 WHERE id = ?1",
            rusqlite::params![id.0, safety_number],
        )?;
        Ok(())
    }

    /// Records an announced identity change, to be accepted by the user.
    pub fn set_pending_identity(&self, id: ContactId, identity: &[u8; 64]) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE contacts SET pending_identity = ?2 WHERE id = ?1",
            rusqlite::params![id.0, &identity[..]],
        )?;
        Ok(())
    }

    /// Makes the pending identity the accepted one; verification resets.
    pub fn accept_pending_identity(&self, id: ContactId, safety_number: &str) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE contacts SET identity = pending_identity, pending_identity = NULL,
                 safety_number = ?2, verified = 0
             WHERE id = ?1 AND pending_identity IS NOT NULL",
            rusqlite::params![id.0, safety_number],
        )?;
        Ok(())
    }

    /// The serialized ratchet session for a contact.
    pub fn session(&self, id: ContactId) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT state FROM sessions WHERE contact_id = ?1",
                [id.0],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(Zeroizing::new))
    }

    /// Writes a contact's session state (insert or replace).
    pub fn put_session(&self, id: ContactId, state: &[u8], now_ms: u64) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO sessions (contact_id, state, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
            rusqlite::params![id.0, state, now_ms as i64],
        )?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::test_support::temp_store;

    /// Adds contact `name` with its own mailbox; returns its id.
    pub(crate) fn add(store: &mut Store, name: &str, seed: u8) -> ContactId {
        store
            .write(|db| {
                db.add_mailbox(&[seed; 32], "ws://127.0.0.1:1/", b"s", None, 1)?;
                db.add_contact(
                    &NewContact {
                        name,
                        identity: &[seed; 64],
                        relay: "ws://127.0.0.1:2/",
                        their_mailbox: &[seed.wrapping_add(100); 32],
                        my_mailbox: &[seed; 32],
                        safety_number: "123",
                        confirmed: true,
                    },
                    1,
                )
            })
            .unwrap()
    }

    #[test]
    fn add_find_rename_verify() {
        let (_dir, mut store) = temp_store();
        let id = add(&mut store, "alice", 1);
        add(&mut store, "bob", 2);
        let db = store.read();
        assert_eq!(db.contacts().unwrap().len(), 2);
        assert!(db.contact_name_taken("alice").unwrap());
        assert_eq!(db.contact_by_name("alice").unwrap().id, id);
        assert_eq!(
            db.contact_by_my_mailbox(&[2; 32]).unwrap().unwrap().name,
            "bob"
        );
        assert!(matches!(
            db.contact_by_name("carol"),
            Err(StoreError::NotFound { .. })
        ));
        db.rename_contact(id, "al").unwrap();
        db.set_verified(id, true).unwrap();
        let c = db.contact(id).unwrap();
        assert_eq!((c.name.as_str(), c.verified), ("al", true));
    }

    #[test]
    fn identity_change_resets_verification() {
        let (_dir, mut store) = temp_store();
        let id = add(&mut store, "alice", 1);
        let db = store.read();
        db.set_verified(id, true).unwrap();
        db.set_pending_identity(id, &[9; 64]).unwrap();
        assert_eq!(db.contact(id).unwrap().pending_identity, Some([9; 64]));
        db.accept_pending_identity(id, "456").unwrap();
        let c = db.contact(id).unwrap();
        assert_eq!(c.identity, [9; 64]);
        assert_eq!(c.pending_identity, None);
        assert!(!c.verified);
        assert_eq!(c.safety_number, "456");
    }

    #[test]
    fn session_round_trip() {
        let (_dir, mut store) = temp_store();
        let id = add(&mut store, "alice", 1);
        let db = store.read();
        assert!(db.session(id).unwrap().is_none());
        db.put_session(id, b"s1", 1).unwrap();
        db.put_session(id, b"s2", 2).unwrap();
        assert_eq!(db.session(id).unwrap().unwrap().as_slice(), b"s2");
    }
}
