//! A profile: one directory, one encrypted database, one plaintext header.
//!
//! ```text
//! PROFILE_DIR/
//!   profile.cairn   plaintext: format version, Argon2id params, salt, key check
//!   cairn.db        SQLCipher database (plus cairn.db-wal while open)
//! ```
//!
//! Opening derives the key with Argon2id, checks it against the header's
//! check value (so a wrong passphrase is told apart from damage), then opens
//! and integrity-checks the database. A missing, empty, truncated or otherwise
//! damaged database is an error; it is never recreated.

mod backup;
mod files;
mod header;
pub mod kdf;
mod passphrase;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::store::{Store, StoreError};
pub use header::{HEADER_VERSION, HeaderError, ProfileHeader};
use kdf::{DbKey, KdfError, KdfParams, Salt};
pub use passphrase::{
    HOW_TO, MIN_SCORE, PassphraseStrength, WeakPassphrase, passphrase_policy, passphrase_strength,
};

/// Name of the plaintext header file.
pub const HEADER_FILE: &str = "profile.cairn";
/// Name of the database file.
pub const DB_FILE: &str = "cairn.db";

/// Why a profile could not be created, opened, exported or imported.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// The passphrase does not match this profile.
    #[error("wrong passphrase for this profile")]
    WrongPassphrase,
    /// No profile header in the directory.
    #[error("no Cairn profile in {0} (run `init` first)")]
    NotAProfile(PathBuf),
    /// Refusing to overwrite an existing profile.
    #[error("{0} already contains a Cairn profile or other files")]
    AlreadyExists(PathBuf),
    /// Refusing to overwrite an existing file (for example a backup target).
    #[error("refusing to overwrite existing file {0}")]
    FileExists(PathBuf),
    /// The header is unreadable.
    #[error("profile header is damaged: {0}")]
    Header(#[from] HeaderError),
    /// A backup file is malformed.
    #[error("not a valid Cairn backup: {0}")]
    BadBackup(&'static str),
    /// Key derivation failed.
    #[error(transparent)]
    Kdf(#[from] KdfError),
    /// The database failed to open, check or migrate.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// Which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// An unlocked profile.
#[derive(Debug)]
pub struct Profile {
    dir: PathBuf,
    header: ProfileHeader,
    store: Store,
}

impl Profile {
    /// Creates a new, empty profile in `dir` (created if missing; must be empty).
    pub fn create(dir: &Path, passphrase: &[u8], kdf: KdfParams) -> Result<Self, ProfileError> {
        files::ensure_empty_dir(dir)?;
        let salt = Salt::random();
        let key = DbKey::derive(passphrase, &salt, kdf)?;
        let header = ProfileHeader {
            version: HEADER_VERSION,
            kdf,
            salt,
            check: key.check_value(),
        };
        // Database first, header last: a crash in between leaves a directory
        // that `open` reports as "not a profile", never a half-keyed one.
        let store = Store::create(&dir.join(DB_FILE), &key)?;
        files::write_atomic(&dir.join(HEADER_FILE), header.to_text().as_bytes())?;
        Ok(Self {
            dir: dir.to_owned(),
            header,
            store,
        })
    }

    /// Unlocks an existing profile.
    pub fn open(dir: &Path, passphrase: &[u8]) -> Result<Self, ProfileError> {
        let header = read_header(dir)?;
        let key = DbKey::derive(passphrase, &header.salt, header.kdf)?;
        if !key.matches_check(&header.check) {
            return Err(ProfileError::WrongPassphrase);
        }
        let store = Store::open(&dir.join(DB_FILE), &key)?;
        Ok(Self {
            dir: dir.to_owned(),
            header,
            store,
        })
    }

    /// True if `dir` holds a profile header (it may still fail to open).
    pub fn exists(dir: &Path) -> bool {
        dir.join(HEADER_FILE).is_file()
    }

    /// Profile directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// KDF parameters of this profile (for display and for backups).
    pub fn kdf(&self) -> KdfParams {
        self.header.kdf
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The database, for writes.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

fn read_header(dir: &Path) -> Result<ProfileHeader, ProfileError> {
    let path = dir.join(HEADER_FILE);
    let text = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ProfileError::NotAProfile(dir.to_owned()));
        }
        Err(source) => {
            return Err(ProfileError::Io {
                op: "reading",
                path,
                source,
            });
        }
    };
    let text = String::from_utf8(text).map_err(|_| HeaderError::Magic)?;
    Ok(ProfileHeader::parse(&text)?)
}

#[cfg(test)]
mod tests;
