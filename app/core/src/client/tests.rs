//! Client tests on real SQLCipher profiles.

use std::path::Path;

use super::*;

/// A fresh client named `name` in `dir`, with a loopback relay and cheap KDF.
pub(crate) fn new_client(dir: &Path, name: &str) -> Client {
    let relay: RelayAddress = "ws://127.0.0.1:7447/".parse().unwrap();
    Client::init(
        &InitOptions {
            dir,
            passphrase: b"pw",
            kdf: KdfParams::INSECURE_FOR_TESTS,
            name,
            relay,
            access_token: None,
        },
        1,
    )
    .unwrap()
}

#[test]
fn init_then_open_restores_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let c = new_client(tmp.path(), "  Alice ");
    let public = c.public();
    assert_eq!(c.name(), "Alice");
    drop(c);
    let c = Client::open(tmp.path(), b"pw").unwrap();
    assert_eq!(c.public(), public);
    assert_eq!(c.name(), "Alice");
    assert_eq!(c.home_relay().to_string(), "ws://127.0.0.1:7447/");
    assert!(c.contacts().unwrap().is_empty());
    assert!(matches!(
        Client::open(tmp.path(), b"nope"),
        Err(ClientError::Profile(
            crate::profile::ProfileError::WrongPassphrase
        ))
    ));
}

#[test]
fn bad_names_are_refused() {
    assert!(validate_name("").is_err());
    assert!(validate_name("a\nb").is_err());
    assert!(validate_name(&"x".repeat(65)).is_err());
    assert_eq!(validate_name(" Bob ").unwrap(), "Bob");
}
