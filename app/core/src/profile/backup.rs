//! Encrypted backups: `export FILE` and `import FILE`.
//!
//! A backup is one file:
//!
//! ```text
//! CAIRN-BACKUP 1\n
//! <profile header text, as in profile.cairn, with a fresh salt>
//! \n
//! <SQLCipher database bytes, keyed from the passphrase and that salt>
//! ```
//!
//! The database part is produced by `sqlcipher_export` straight into a new
//! encrypted file, so no plaintext copy exists at any time. Restoring needs
//! the passphrase that was in use when the backup was made.
//!
//! A backup holds the ratchet states as they were: a restored profile must
//! renew every session before it sends anything (PROTOCOL.md §2). The client
//! does that in [`Profile::import_with`]'s `prepare` step, before the
//! directory becomes a profile, so no restored profile ever exists without it.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::files::{ensure_empty_dir, io_err, temp_sibling, write_atomic, write_atomic_with};
use super::header::{HEADER_VERSION, ProfileHeader};
use super::kdf::{DbKey, Salt};
use super::{DB_FILE, HEADER_FILE, Profile, ProfileError};
use crate::store::Store;

const MAGIC_LINE: &str = "CAIRN-BACKUP 1\n";

/// Longest header we read before giving up (a real one is under 200 bytes).
const MAX_HEADER: u64 = 4096;

impl Profile {
    /// Writes an encrypted backup of the whole profile to `file` (must not exist).
    pub fn export(&self, file: &Path, passphrase: &[u8]) -> Result<(), ProfileError> {
        if file.exists() {
            return Err(ProfileError::FileExists(file.to_owned()));
        }
        let salt = Salt::random();
        let kdf = self.kdf();
        let key = DbKey::derive(passphrase, &salt, kdf)?;
        let header = ProfileHeader {
            version: HEADER_VERSION,
            kdf,
            salt,
            check: key.check_value(),
        };
        let scratch = temp_sibling(file, "db");
        let result = (|| {
            self.store().export_to(&scratch, &key)?;
            let mut db = File::open(&scratch).map_err(io_err("opening", &scratch))?;
            write_atomic_with(file, |out| {
                io::Write::write_all(out, MAGIC_LINE.as_bytes())?;
                io::Write::write_all(out, header.to_text().as_bytes())?;
                io::Write::write_all(out, b"\n")?;
                io::copy(&mut db, out).map(|_| ())
            })
        })();
        let _ = fs::remove_file(&scratch);
        result
    }

    /// Restores a backup into `dir` (created if missing; must be empty).
    pub fn import(file: &Path, dir: &Path, passphrase: &[u8]) -> Result<Self, ProfileError> {
        Self::import_with(file, dir, passphrase, |_| Ok::<_, ProfileError>(()))
    }

    /// Restores a backup into `dir` like [`Profile::import`], running
    /// `prepare` on the restored database before the directory becomes a
    /// profile: the header file is written only after `prepare` succeeded, so a
    /// crash or an error in between leaves a directory `open` refuses (an
    /// error also empties it again), never a restored profile `prepare` did
    /// not finish.
    pub fn import_with<E: From<ProfileError>>(
        file: &Path,
        dir: &Path,
        passphrase: &[u8],
        prepare: impl FnOnce(&mut Store) -> Result<(), E>,
    ) -> Result<Self, E> {
        let f = File::open(file).map_err(io_err("opening", file))?;
        let mut reader = BufReader::new(f);
        let header = read_backup_header(&mut reader)?;
        let key =
            DbKey::derive(passphrase, &header.salt, header.kdf).map_err(ProfileError::from)?;
        if !key.matches_check(&header.check) {
            return Err(ProfileError::WrongPassphrase.into());
        }
        ensure_empty_dir(dir)?;
        let db_path = dir.join(DB_FILE);
        let restored = (|| -> Result<Store, E> {
            write_atomic_with(&db_path, |out| io::copy(&mut reader, out).map(|_| ()))?;
            let mut store = Store::open(&db_path, &key).map_err(ProfileError::from)?;
            prepare(&mut store)?;
            write_atomic(&dir.join(HEADER_FILE), header.to_text().as_bytes())?;
            Ok(store)
        })();
        match restored {
            Ok(store) => Ok(Self {
                dir: dir.to_owned(),
                header,
                store,
            }),
            Err(e) => {
                // We created these files in an empty directory: leave it empty again.
                for name in [DB_FILE, "cairn.db-wal", "cairn.db-shm", HEADER_FILE] {
                    let _ = fs::remove_file(dir.join(name));
                }
                Err(e)
            }
        }
    }
}

fn read_backup_header(reader: &mut impl BufRead) -> Result<ProfileHeader, ProfileError> {
    let mut limited = reader.take(MAX_HEADER);
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = limited
            .read_line(&mut line)
            .map_err(|_| ProfileError::BadBackup("header is not text"))?;
        if n == 0 {
            return Err(ProfileError::BadBackup("truncated before the database"));
        }
        if line == "\n" {
            break;
        }
        text.push_str(&line);
    }
    let body = text
        .strip_prefix(MAGIC_LINE)
        .ok_or(ProfileError::BadBackup("missing CAIRN-BACKUP marker"))?;
    Ok(ProfileHeader::parse(body)?)
}
