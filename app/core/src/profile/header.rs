//! The profile header: the one plaintext file in a profile directory.
//!
//! It holds only what is needed to derive the database key — format version,
//! KDF parameters, salt — and a one-way key check value. Nothing secret.
//!
//! ```text
//! cairn-profile 1
//! kdf argon2id m=65536 t=3 p=1
//! salt 00112233445566778899aabbccddeeff
//! check <64 hex digits>
//! ```

use thiserror::Error;

use super::kdf::{KdfParams, SALT_LEN, Salt};

/// Header format version written by this build.
pub const HEADER_VERSION: u32 = 1;

const MAGIC: &str = "cairn-profile";

/// Parsed header contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileHeader {
    /// Format version.
    pub version: u32,
    /// Argon2id parameters for this profile.
    pub kdf: KdfParams,
    /// Argon2id salt.
    pub salt: Salt,
    /// `DbKey::check_value` of the right key.
    pub check: [u8; 32],
}

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// Not a Cairn profile header at all.
    #[error("not a Cairn profile header")]
    Magic,
    /// Written by a newer Cairn.
    #[error("profile format version {0} is newer than this build supports ({HEADER_VERSION})")]
    Version(u32),
    /// A line is missing or malformed.
    #[error("profile header is damaged: bad or missing `{0}` line")]
    Field(&'static str),
}

impl ProfileHeader {
    /// Text form written to disk.
    pub fn to_text(&self) -> String {
        format!(
            "{MAGIC} {}\nkdf argon2id m={} t={} p={}\nsalt {}\ncheck {}\n",
            self.version,
            self.kdf.memory_kib,
            self.kdf.iterations,
            self.kdf.parallelism,
            hex::encode(self.salt.0),
            hex::encode(self.check),
        )
    }

    /// Parses [`ProfileHeader::to_text`] output; strict, so damage is noticed.
    pub fn parse(text: &str) -> Result<Self, HeaderError> {
        let mut lines = text.lines();
        let first = lines.next().ok_or(HeaderError::Magic)?;
        let version = first
            .strip_prefix(MAGIC)
            .and_then(|v| v.strip_prefix(' '))
            .ok_or(HeaderError::Magic)?
            .parse::<u32>()
            .map_err(|_| HeaderError::Magic)?;
        if version > HEADER_VERSION || version == 0 {
            return Err(HeaderError::Version(version));
        }
        let kdf = parse_kdf(lines.next().ok_or(HeaderError::Field("kdf"))?)?;
        let salt = parse_hex::<SALT_LEN>(lines.next(), "salt")?;
        let check = parse_hex::<32>(lines.next(), "check")?;
        Ok(Self {
            version,
            kdf,
            salt: Salt(salt),
            check,
        })
    }
}

fn parse_kdf(line: &str) -> Result<KdfParams, HeaderError> {
    let bad = HeaderError::Field("kdf");
    let rest = line.strip_prefix("kdf argon2id ").ok_or(bad.clone())?;
    let mut parts = rest.split(' ');
    let mut field = |prefix: &str| -> Result<u32, HeaderError> {
        parts
            .next()
            .and_then(|p| p.strip_prefix(prefix))
            .and_then(|v| v.parse().ok())
            .ok_or(bad.clone())
    };
    let kdf = KdfParams {
        memory_kib: field("m=")?,
        iterations: field("t=")?,
        parallelism: field("p=")?,
    };
    if parts.next().is_some() {
        return Err(bad);
    }
    Ok(kdf)
}

fn parse_hex<const N: usize>(
    line: Option<&str>,
    name: &'static str,
) -> Result<[u8; N], HeaderError> {
    let value = line
        .and_then(|l| l.strip_prefix(name))
        .and_then(|l| l.strip_prefix(' '))
        .ok_or(HeaderError::Field(name))?;
    let bytes = hex::decode(value).map_err(|_| HeaderError::Field(name))?;
    bytes.try_into().map_err(|_| HeaderError::Field(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ProfileHeader {
        ProfileHeader {
            version: 1,
            kdf: KdfParams::DEFAULT,
            salt: Salt([7; 16]),
            check: [9; 32],
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let text = h.to_text();
        assert!(text.starts_with("cairn-profile 1\nkdf argon2id m=65536 t=3 p=1\nsalt 0707"));
        assert_eq!(ProfileHeader::parse(&text).unwrap(), h);
    }

    #[test]
    fn rejects_damage() {
        let text = sample().to_text();
        assert_eq!(ProfileHeader::parse(""), Err(HeaderError::Magic));
        assert_eq!(ProfileHeader::parse("hello"), Err(HeaderError::Magic));
        assert_eq!(
            ProfileHeader::parse(&text.replace("profile 1", "profile 9")),
            Err(HeaderError::Version(9))
        );
        assert_eq!(
            ProfileHeader::parse(&text[..text.len() - 10]),
            Err(HeaderError::Field("check"))
        );
        assert_eq!(
            ProfileHeader::parse(&text.replace("t=3", "t=x")),
            Err(HeaderError::Field("kdf"))
        );
    }
}
