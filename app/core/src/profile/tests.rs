//! Profile tests on real SQLCipher files in temp directories.

use std::fs;
use std::path::Path;

use super::*;
use crate::store::{Direction, StoreError, contacts::tests::add};
use crate::store::{MessageStatus, NewMessage};

const PW: &[u8] = b"correct horse battery staple";
const MARKER: &str = "PLAINTEXT-MARKER-7f3a9c";

fn fast() -> KdfParams {
    KdfParams::INSECURE_FOR_TESTS
}

fn profile_with_secrets(dir: &Path) -> Profile {
    let mut p = Profile::create(dir, PW, fast()).unwrap();
    let store = p.store_mut();
    let contact = add(store, "alice", 1);
    store
        .write(|db| {
            db.set_setting("identity_seed", MARKER.as_bytes())?;
            db.put_session(contact, MARKER.as_bytes(), 1)?;
            db.add_extra_relay(&format!("wss://{MARKER}.example:7447/#pin"), 1)?;
            for i in 0..200 {
                let body = format!("{MARKER} message {i}");
                db.insert_message(&NewMessage {
                    contact,
                    direction: Direction::Incoming,
                    counter: i,
                    body: &body,
                    sent_ms: i,
                    received_ms: Some(i),
                    status: MessageStatus::Received,
                    held: false,
                    envelope_id: Some([i as u8; 16]),
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    p
}

fn key_of(dir: &Path) -> [u8; 32] {
    let h = read_header(dir).unwrap();
    *DbKey::derive(PW, &h.salt, h.kdf).unwrap().as_bytes()
}

fn assert_no_secrets(path: &Path, key: &[u8; 32]) {
    let bytes = fs::read(path).unwrap();
    let hex_key = hex::encode(key);
    for needle in [
        MARKER.as_bytes(),
        &key[..],
        hex_key.as_bytes(),
        b"SQLite format 3",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} contains secret or plaintext ({} bytes)",
            path.display(),
            needle.len()
        );
    }
}

fn scan_dir(dir: &Path, key: &[u8; 32]) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_no_secrets(&path, key);
            n += 1;
        }
    }
    n
}

#[test]
fn nothing_secret_on_disk_open_or_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let p = profile_with_secrets(&dir);
    let key = key_of(&dir);
    // While open: the WAL holds the recent pages.
    assert!(scan_dir(&dir, &key) >= 2);
    drop(p);
    assert!(scan_dir(&dir, &key) >= 2);
    // And the data is really there once unlocked.
    let p = Profile::open(&dir, PW).unwrap();
    let a = p.store().read().contact_by_name("alice").unwrap();
    assert_eq!(p.store().read().history(a.id).unwrap().len(), 200);
    assert_eq!(p.store().read().search("message 199", 5).unwrap().len(), 1);
    assert_eq!(p.store().read().extra_relays().unwrap().len(), 1);
}

#[test]
fn wrong_passphrase_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Profile::create(tmp.path(), PW, fast()).unwrap());
    let err = Profile::open(tmp.path(), b"wrong").unwrap_err();
    assert!(matches!(err, ProfileError::WrongPassphrase), "{err}");
    assert_eq!(err.to_string(), "wrong passphrase for this profile");
}

#[test]
fn missing_profile_and_refusal_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        Profile::open(tmp.path(), PW),
        Err(ProfileError::NotAProfile(_))
    ));
    drop(Profile::create(tmp.path(), PW, fast()).unwrap());
    assert!(matches!(
        Profile::create(tmp.path(), PW, fast()),
        Err(ProfileError::AlreadyExists(_))
    ));
}

#[test]
fn truncated_database_is_reported_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    drop(profile_with_secrets(tmp.path()));
    let db = tmp.path().join(DB_FILE);
    let len = fs::metadata(&db).unwrap().len();
    assert!(len > 8192, "test needs a multi-page database, got {len}");
    for cut in [len / 2, 100, 0] {
        let f = fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let err = Profile::open(tmp.path(), PW).unwrap_err();
        assert!(
            matches!(err, ProfileError::Store(StoreError::Corrupt(_))),
            "cut at {cut}: {err:?}"
        );
        // Never silently replaced.
        assert_eq!(fs::metadata(&db).unwrap().len(), cut);
    }
    fs::remove_file(&db).unwrap();
    assert!(matches!(
        Profile::open(tmp.path(), PW),
        Err(ProfileError::Store(StoreError::Corrupt(_)))
    ));
    assert!(!db.exists());
}

#[test]
fn flipped_byte_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    drop(profile_with_secrets(tmp.path()));
    let db = tmp.path().join(DB_FILE);
    let mut bytes = fs::read(&db).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::write(&db, &bytes).unwrap();
    let err = Profile::open(tmp.path(), PW).unwrap_err();
    assert!(
        matches!(err, ProfileError::Store(StoreError::Corrupt(_))),
        "{err:?}"
    );
}

#[test]
fn damaged_header_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Profile::create(tmp.path(), PW, fast()).unwrap());
    fs::write(tmp.path().join(HEADER_FILE), "cairn-profile 1\nkdf").unwrap();
    assert!(matches!(
        Profile::open(tmp.path(), PW),
        Err(ProfileError::Header(_))
    ));
}

#[test]
fn second_open_is_refused_while_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Profile::create(tmp.path(), PW, fast()).unwrap();
    let err = Profile::open(tmp.path(), PW).unwrap_err();
    assert!(
        matches!(err, ProfileError::Store(StoreError::Locked)),
        "{err:?}"
    );
    drop(first);
    Profile::open(tmp.path(), PW).unwrap();
}

#[test]
fn export_import_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let p = profile_with_secrets(&src);
    let backup = tmp.path().join("backup.cairn");
    p.export(&backup, PW).unwrap();
    assert!(matches!(
        p.export(&backup, PW),
        Err(ProfileError::FileExists(_))
    ));
    // The backup holds nothing readable either (and uses a key of its own).
    assert_no_secrets(&backup, &key_of(&src));
    let text = fs::read(&backup).unwrap();
    assert!(text.starts_with(b"CAIRN-BACKUP 1\ncairn-profile 1\n"));
    // Only the backup file is left behind, no scratch copy.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 2);

    let dst = tmp.path().join("dst");
    assert!(matches!(
        Profile::import(&backup, &dst, b"nope"),
        Err(ProfileError::WrongPassphrase)
    ));
    let restored = Profile::import(&backup, &dst, PW).unwrap();
    let db = restored.store().read();
    let a = db.contact_by_name("alice").unwrap();
    assert_eq!(db.history(a.id).unwrap().len(), 200);
    assert_eq!(
        db.session(a.id).unwrap().unwrap().as_slice(),
        MARKER.as_bytes()
    );
    drop(restored);
    Profile::open(&dst, PW).unwrap();
    assert_eq!(scan_dir(&dst, &key_of(&dst)), 2);
}

#[test]
fn import_of_truncated_backup_fails_and_leaves_dir_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let p = profile_with_secrets(&tmp.path().join("src"));
    let backup = tmp.path().join("b");
    p.export(&backup, PW).unwrap();
    let bytes = fs::read(&backup).unwrap();
    fs::write(&backup, &bytes[..bytes.len() / 2]).unwrap();
    let dst = tmp.path().join("dst");
    let err = Profile::import(&backup, &dst, PW).unwrap_err();
    assert!(
        matches!(err, ProfileError::Store(StoreError::Corrupt(_))),
        "{err:?}"
    );
    assert_eq!(fs::read_dir(&dst).unwrap().count(), 0);
    fs::write(&backup, b"garbage").unwrap();
    assert!(matches!(
        Profile::import(&backup, &dst, PW),
        Err(ProfileError::BadBackup(_))
    ));
}

#[test]
fn import_whose_preparation_fails_leaves_no_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let p = profile_with_secrets(&tmp.path().join("src"));
    let backup = tmp.path().join("b");
    p.export(&backup, PW).unwrap();
    let dst = tmp.path().join("dst");
    let mut prepared = false;
    let err = Profile::import_with(&backup, &dst, PW, |store| {
        prepared = store.read().contact_by_name("alice").is_ok();
        Err(ProfileError::BadBackup("refused by prepare"))
    })
    .unwrap_err();
    assert!(prepared, "prepare saw the restored database");
    assert!(matches!(err, ProfileError::BadBackup("refused by prepare")));
    assert!(!Profile::exists(&dst));
    assert_eq!(fs::read_dir(&dst).unwrap().count(), 0);
    // What prepare writes is in the profile.
    let restored = Profile::import_with(&backup, &dst, PW, |store| {
        store.write(|db| {
            db.set_setting("prepared", b"yes")
                .map_err(ProfileError::from)
        })
    })
    .unwrap();
    assert_eq!(
        restored
            .store()
            .read()
            .setting("prepared")
            .unwrap()
            .unwrap()
            .as_slice(),
        b"yes"
    );
}
