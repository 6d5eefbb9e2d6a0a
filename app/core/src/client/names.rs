//! Display names: which are allowed, and when a new contact's name looks like
//! an existing contact's.
//!
//! A name is what people go by in the contact list, so it must not be able to
//! pass for another contact. Names refuse control and format characters
//! ([`crate::text::is_control_or_format`]: bidi controls, zero-width
//! characters, ...), and a new contact whose name is *confusable* with an
//! existing contact's (the same Unicode UTS #39 skeleton, so `Bob`, `Bоb` with
//! a Cyrillic `о` and `B0b`-style look-alikes the standard lists) gets a
//! [`EventKind::LookAlikeName`] notice in its conversation.

use super::{ClientError, ClientResult};
#[cfg(doc)]
use crate::store::EventKind;
use crate::store::{ContactId, Db, StoreResult};
use crate::text::is_control_or_format;

/// Longest display name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Trims and checks a display name: non-empty, at most [`MAX_NAME_LEN`]
/// bytes, no control or format characters.
pub fn validate_name(name: &str) -> ClientResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(is_control_or_format) {
        return Err(ClientError::BadName(name.to_owned()));
    }
    Ok(name.to_owned())
}

/// A name someone else chose (the acceptor's name in a handshake), made
/// displayable: control and format characters removed, then checked as
/// [`validate_name`] does; `None` if nothing valid is left.
pub(crate) fn sanitize_remote_name(proposed: &str) -> Option<String> {
    let kept: String = proposed
        .chars()
        .filter(|c| !is_control_or_format(*c))
        .collect();
    validate_name(&kept).ok()
}

/// The UTS #39 skeletons compared: of the name as written, and of its
/// lower-case form (so that `BOB` and `bob` also match; the skeleton alone is
/// case-sensitive, and lower-casing alone would separate `I` from `l`).
fn skeletons(name: &str) -> [String; 2] {
    [
        unicode_security::skeleton(name).collect(),
        unicode_security::skeleton(&name.to_lowercase()).collect(),
    ]
}

/// True if the two names can be mistaken for each other on screen.
pub fn looks_alike(a: &str, b: &str) -> bool {
    let (a, b) = (skeletons(a), skeletons(b));
    a[0] == b[0] || a[1] == b[1]
}

/// The [`EventKind::LookAlikeName`] notice for the new contact `id`, if
/// `name` (the name it proposed, or was given) looks like the name of any
/// other contact. The caller stores it on the new contact.
pub(crate) fn look_alike_notice(
    db: &Db<'_>,
    id: ContactId,
    name: &str,
) -> StoreResult<Option<String>> {
    Ok(db
        .contacts()?
        .into_iter()
        .find(|c| c.id != id && looks_alike(&c.name, name))
        .map(|other| {
            format!(
                "the name \"{name}\" looks like your contact \"{}\": this may be someone \
                 else; compare safety numbers before you trust them",
                other.name
            )
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_bidi_zero_width_and_other_format_characters() {
        assert_eq!(validate_name(" Bob ").unwrap(), "Bob");
        assert_eq!(validate_name("Zoë 🙂").unwrap(), "Zoë 🙂");
        for bad in [
            "",
            "a\nb",
            "Bob\u{202e}",
            "Bo\u{200b}b",
            "\u{2066}Bob\u{2069}",
            "Bob\u{200d}",
            "Bob\u{ad}",
            "Bob\u{e0041}",
            "Bo\u{2028}b",
        ] {
            assert!(
                matches!(validate_name(bad), Err(ClientError::BadName(_))),
                "{bad:?}"
            );
        }
        assert!(validate_name(&"x".repeat(65)).is_err());
        assert_eq!(
            sanitize_remote_name("\u{202e}Bo\u{200b}b").as_deref(),
            Some("Bob")
        );
        assert_eq!(sanitize_remote_name("\u{200b}\u{202e}"), None);
    }

    #[test]
    fn confusable_names_look_alike() {
        assert!(looks_alike("Bob", "Bob"));
        assert!(looks_alike("Bob", "B\u{43e}b")); // Cyrillic о
        assert!(looks_alike("PayPal", "PayPaI")); // capital I for l
        assert!(looks_alike("alice", "ALICE"));
        assert!(looks_alike("rn", "m"));
        assert!(!looks_alike("Bob", "Rob"));
        assert!(!looks_alike("Alice", "Alicia"));
    }
}
