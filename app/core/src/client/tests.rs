//! Client tests on real SQLCipher profiles.

use super::*;

pub(crate) use crate::testing::new_client;

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
