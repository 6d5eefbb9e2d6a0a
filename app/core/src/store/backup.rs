//! Whole-database encrypted copies, for `export`.

use std::path::Path;

use super::{Store, StoreError, StoreResult, classify, migrations};
use crate::profile::kdf::DbKey;

impl Store {
    /// Writes a consistent copy of the whole database to a new file at `dest`,
    /// encrypted by SQLCipher under `key` (a key derived with a fresh salt).
    ///
    /// Uses `sqlcipher_export`, which re-encrypts page by page: no plaintext
    /// copy ever touches the disk.
    pub fn export_to(&self, dest: &Path, key: &DbKey) -> StoreResult<()> {
        // The connection was opened without SQLITE_OPEN_CREATE (so a missing
        // profile database is never recreated); ATTACH inherits that, so the
        // scratch file must exist, empty, before it is attached.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(|source| StoreError::Io {
                path: dest.to_owned(),
                source,
            })?;
        let dest_text = dest
            .to_str()
            .ok_or(StoreError::Malformed("backup path (not UTF-8)"))?;
        self.conn
            .execute(
                "ATTACH DATABASE ?1 AS backup KEY ?2",
                rusqlite::params![dest_text, key.sqlcipher_literal().as_str()],
            )
            .map_err(classify)?;
        let result = (|| -> StoreResult<()> {
            self.conn
                .query_row("SELECT sqlcipher_export('backup')", [], |_| Ok(()))?;
            let version = migrations::user_version(&self.conn)?;
            self.conn
                .execute_batch(&format!("PRAGMA backup.user_version = {version};"))?;
            Ok(())
        })();
        let detach = self.conn.execute_batch("DETACH DATABASE backup;");
        result?;
        detach?;
        Ok(())
    }
}
