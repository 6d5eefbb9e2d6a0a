//! Key/value settings: profile name, identity seed, home relay.

use rusqlite::OptionalExtension;
use zeroize::Zeroizing;

use super::{Db, StoreResult};

impl Db<'_> {
    /// Reads a setting; the value is zeroized on drop since some settings are secret.
    pub fn setting(&self, key: &str) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .optional()?
            .map(Zeroizing::new))
    }

    /// Reads a UTF-8 setting.
    pub fn setting_text(&self, key: &str) -> StoreResult<Option<String>> {
        match self.setting(key)? {
            None => Ok(None),
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| super::StoreError::Malformed("setting text")),
        }
    }

    /// Removes a setting (nothing if it is not there).
    pub fn delete_setting(&self, key: &str) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM settings WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Inserts or replaces a setting.
    pub fn set_setting(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::temp_store;

    #[test]
    fn set_get_replace() {
        let (_dir, mut store) = temp_store();
        assert!(store.read().setting("a").unwrap().is_none());
        store
            .write(|db| {
                db.set_setting("a", b"1")?;
                db.set_setting("a", b"2")
            })
            .unwrap();
        assert_eq!(
            store.read().setting_text("a").unwrap().as_deref(),
            Some("2")
        );
    }
}
