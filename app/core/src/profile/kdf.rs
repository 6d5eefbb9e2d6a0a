//! Passphrase → database key, with Argon2id.
//!
//! The database is encrypted by SQLCipher under a raw 256-bit key, so
//! SQLCipher's own PBKDF2 is bypassed and the only thing standing between a
//! stolen laptop and the history is this derivation. Parameters are stored in
//! the profile header so they can be raised later without breaking old
//! profiles.
//!
//! Default: Argon2id v1.3, m = 64 MiB, t = 3, p = 1, 16-byte random salt,
//! 32-byte output (RFC 9106's second recommended option is m = 64 MiB, t = 3;
//! we use one lane so the cost does not drop on machines with fewer cores).
//! Measured on the 2-core development machine (optimised `argon2`, other
//! builds running): 0.17–0.21 s per unlock (`kdf_timing` below). The key
//! goes to SQLCipher as a raw key, so SQLCipher's own PBKDF2 is skipped.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::Zeroizing;

/// Salt length in bytes.
pub const SALT_LEN: usize = 16;

/// Domain separator for the key check value written to the header.
const CHECK_DOMAIN: &[u8] = b"cairn/profile/key-check/v1";

/// Argon2id cost parameters. Stored in the header, never secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// What new profiles use: strong enough for a desktop, about half a second here.
    pub const DEFAULT: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// Minimal cost, for tests only: a weak passphrase under these falls instantly.
    pub const INSECURE_FOR_TESTS: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    /// Upper bounds a header may ask for, so a tampered header cannot make
    /// `open` allocate gigabytes or spin for hours.
    const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    const MAX_ITERATIONS: u32 = 64;
    const MAX_PARALLELISM: u32 = 16;

    fn to_argon2(self) -> Result<Params, KdfError> {
        if self.memory_kib > Self::MAX_MEMORY_KIB
            || self.iterations > Self::MAX_ITERATIONS
            || self.parallelism > Self::MAX_PARALLELISM
        {
            return Err(KdfError::Params(self));
        }
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(KEY_LEN),
        )
        .map_err(|_| KdfError::Params(self))
    }
}

/// Length of the SQLCipher key.
pub const KEY_LEN: usize = 32;

/// Why no key could be derived.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KdfError {
    /// Parameters out of Argon2's range or above our sanity limits.
    #[error("unsupported key derivation parameters {0:?}")]
    Params(KdfParams),
    /// Argon2 itself refused (for example, out of memory).
    #[error("key derivation failed: {0}")]
    Argon2(String),
}

/// A random per-profile salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; SALT_LEN]);

impl Salt {
    /// Fresh salt from the OS-seeded thread RNG.
    pub fn random() -> Self {
        let mut salt = [0u8; SALT_LEN];
        rand::rng().fill_bytes(&mut salt);
        Self(salt)
    }
}

/// The raw SQLCipher key. Zeroized on drop, never printed.
#[derive(Clone)]
pub struct DbKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for DbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbKey(<redacted>)")
    }
}

impl DbKey {
    /// Runs Argon2id over the passphrase.
    pub fn derive(passphrase: &[u8], salt: &Salt, params: KdfParams) -> Result<Self, KdfError> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_argon2()?);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(passphrase, &salt.0, key.as_mut())
            .map_err(|e| KdfError::Argon2(e.to_string()))?;
        Ok(Self(key))
    }

    /// Bytes for SQLCipher.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// `PRAGMA key` argument: `x'<hex>'` tells SQLCipher this is a raw key, not a passphrase.
    pub(crate) fn sqlcipher_literal(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(2 * KEY_LEN + 3));
        s.push_str("x'");
        for b in self.0.iter() {
            s.push(hex_digit(b >> 4));
            s.push(hex_digit(b & 0x0f));
        }
        s.push('\'');
        s
    }

    /// A one-way check value stored in the header.
    ///
    /// It tells a wrong passphrase apart from a damaged database without giving
    /// an attacker anything: guessing passphrases offline against it costs the
    /// same Argon2id work as guessing against the database's page HMACs.
    pub fn check_value(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(CHECK_DOMAIN);
        h.update(self.0.as_ref());
        h.finalize().into()
    }

    /// Constant-time comparison against a stored check value.
    pub fn matches_check(&self, stored: &[u8; 32]) -> bool {
        self.check_value().ct_eq(stored).into()
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_and_salted() {
        let p = KdfParams::INSECURE_FOR_TESTS;
        let a = DbKey::derive(b"pw", &Salt([1; 16]), p).unwrap();
        let b = DbKey::derive(b"pw", &Salt([1; 16]), p).unwrap();
        let c = DbKey::derive(b"pw", &Salt([2; 16]), p).unwrap();
        let d = DbKey::derive(b"pw2", &Salt([1; 16]), p).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), c.as_bytes());
        assert_ne!(a.as_bytes(), d.as_bytes());
        assert!(a.matches_check(&b.check_value()));
        assert!(!a.matches_check(&c.check_value()));
    }

    #[test]
    fn literal_and_debug() {
        let k = DbKey(Zeroizing::new([0xab; KEY_LEN]));
        assert_eq!(
            k.sqlcipher_literal().as_str(),
            format!("x'{}'", "ab".repeat(32))
        );
        assert_eq!(format!("{k:?}"), "DbKey(<redacted>)");
    }

    #[test]
    fn refuses_absurd_params() {
        let p = KdfParams {
            memory_kib: u32::MAX,
            iterations: 1,
            parallelism: 1,
        };
        assert!(matches!(
            DbKey::derive(b"x", &Salt([0; 16]), p),
            Err(KdfError::Params(_))
        ));
    }

    /// Prints the cost of the default parameters: `cargo test -p cairn-core --release -- --ignored --nocapture kdf_timing`.
    #[test]
    #[ignore]
    fn kdf_timing() {
        let start = std::time::Instant::now();
        DbKey::derive(b"correct horse", &Salt::random(), KdfParams::DEFAULT).unwrap();
        println!("argon2id default params: {:?}", start.elapsed());
    }
}
