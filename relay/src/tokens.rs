//! Access tokens: who may create mailboxes (`user`) and read stats or purge (`admin`).
//!
//! A token is `cairn_` followed by 32 random bytes in base64url. The relay
//! stores only its SHA-256 hash, so a leaked database does not leak usable
//! tokens; the first 6 bytes of the hash, in hex, name the token in
//! `token list` and `token revoke`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Prefix of every token, so a pasted token is recognisable.
pub const TOKEN_PREFIX: &str = "cairn_";

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May create mailboxes on a `--access token` relay.
    User,
    /// May also read stats and purge mailboxes.
    Admin,
}

impl Role {
    /// Name used in the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is neither `user` nor `admin`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown role {0:?}: use user or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// What the relay knows about a token: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public name: hex of the first 6 bytes of the hash.
    pub id: String,
    /// What it allows.
    pub role: Role,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds after which it is refused; `None` = never.
    pub expires_at: Option<u64>,
    /// Revoked tokens are kept for the audit trail but refused.
    pub revoked: bool,
    /// The operator's name for it (`token create --label`), matched by
    /// policy rules; empty = none. Letters, digits, `.`, `_`, `-` only.
    pub label: String,
}

/// A freshly generated token: the secret to hand out once, and what to store.
#[derive(Debug)]
pub struct NewToken {
    /// The secret, shown once to the operator.
    pub secret: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    /// The record to store.
    pub record: TokenRecord,
}

/// A token label with characters other than letters, digits, `.`, `_`, `-`, or too long.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid token label {0:?}: use up to 64 letters, digits, '.', '_' or '-'")]
pub struct BadLabel(pub String);

/// Checks a token label (it is stored space-separated and matched by policies).
pub fn check_label(label: &str) -> Result<(), BadLabel> {
    let ok = label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(BadLabel(label.to_owned()))
    }
}

/// Generates a token with a role, optional lifetime and label (checked by the caller).
pub fn generate(role: Role, now: u64, lifetime: Option<Duration>, label: &str) -> NewToken {
    let bytes: [u8; 32] = rand::rng().random();
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(secret.as_bytes());
    NewToken {
        record: TokenRecord {
            id: token_id(&hash),
            role,
            created_at: now,
            expires_at: lifetime.map(|d| now.saturating_add(d.as_secs())),
            revoked: false,
            label: label.to_owned(),
        },
        secret,
        hash,
    }
}

/// SHA-256 of a presented token: the database key.
pub fn hash_token(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Public id derived from a token hash.
pub fn token_id(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..6])
}

/// A duration like `30d`, `12h`, `15m` or `90s` that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid duration {0:?}: use a number followed by s, m, h or d (e.g. 30d)")]
pub struct BadDuration(pub String);

/// Parses `30d`, `12h`, `15m`, `90s` (a bare number means seconds).
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let bad = || BadDuration(text.to_owned());
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate(Role::User, 100, Some(Duration::from_secs(10)), "family");
        let b = generate(Role::Admin, 100, None, "");
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(a.hash, hash_token(a.secret.as_bytes()));
        assert_eq!(a.record.expires_at, Some(110));
        assert_eq!(a.record.id.len(), 12);
        assert_eq!(b.record.expires_at, None);
        assert_eq!(a.record.label, "family");
        assert!(check_label("office-2026.q1_x").is_ok());
        assert!(check_label("two words").is_err());
        assert!(check_label(&"x".repeat(65)).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn roles_parse() {
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
    }
}
