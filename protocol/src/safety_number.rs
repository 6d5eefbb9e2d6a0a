//! Safety numbers: what two people compare to know no one sits in the middle.
//!
//! Per party (PROTOCOL.md, "Safety number"), with `key = Ed25519 public ‖ X25519 public`:
//! `H₀ = SHA-512(0x0001 ‖ key ‖ "Cairn v1 safety number")`, `Hᵢ = SHA-512(Hᵢ₋₁ ‖ key)` for
//! i = 1‥5200. The first 30 bytes of H₅₂₀₀ form six 5-byte big-endian integers, each
//! printed mod 100000 as 5 digits: 30 digits. The two parties' 30-digit strings are
//! sorted and concatenated: 60 digits, identical on both sides. (Signal's scheme, whose
//! authors estimate 5,200 iterations at > 112 bits of work for a collision search.)

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::identity::PublicIdentity;
use crate::labels;

/// Hash iterations per party.
pub const ITERATIONS: usize = 5200;
/// Digits in a safety number (two parties × 30).
pub const DIGITS: usize = 60;
const FINGERPRINT_VERSION: [u8; 2] = [0x00, 0x01];
const QR_VERSION: u8 = 1;

/// The safety number of a pair of identities.
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    digits: String,
    local: [u8; 32],
    remote: [u8; 32],
}

impl std::fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SafetyNumber({})", self.grouped())
    }
}

fn fingerprint(id: &PublicIdentity) -> [u8; 64] {
    let key = id.to_bytes();
    let mut h = Sha512::new();
    h.update(FINGERPRINT_VERSION);
    h.update(key);
    h.update(labels::SAFETY_NUMBER);
    let mut out: [u8; 64] = h.finalize().into();
    for _ in 0..ITERATIONS {
        let mut h = Sha512::new();
        h.update(out);
        h.update(key);
        out = h.finalize().into();
    }
    out
}

fn thirty_digits(fp: &[u8; 64]) -> String {
    let mut s = String::with_capacity(30);
    for chunk in fp[..30].chunks_exact(5) {
        let v = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        s.push_str(&format!("{:05}", v % 100_000));
    }
    s
}

impl SafetyNumber {
    /// Computes the number from our and their current identities (≈ 2 × 5,200 SHA-512).
    pub fn new(local: &PublicIdentity, remote: &PublicIdentity) -> Self {
        let lf = fingerprint(local);
        let rf = fingerprint(remote);
        let (ld, rd) = (thirty_digits(&lf), thirty_digits(&rf));
        let digits = if ld <= rd { ld + &rd } else { rd + &ld };
        let mut local = [0u8; 32];
        local.copy_from_slice(&lf[..32]);
        let mut remote = [0u8; 32];
        remote.copy_from_slice(&rf[..32]);
        Self {
            digits,
            local,
            remote,
        }
    }

    /// The 60 digits, no spaces.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// Twelve groups of five digits separated by spaces, for display.
    pub fn grouped(&self) -> String {
        self.digits
            .as_bytes()
            .chunks(5)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Compares typed or pasted digits with this number (see [`compare_typed`]).
    pub fn matches_digits(&self, typed: &str) -> Result<bool, TypedDigitsError> {
        compare_typed(&self.digits, typed)
    }

    /// QR payload: `"CAIRN-SN" ‖ version u8 ‖ our fingerprint (32) ‖ their fingerprint (32)`.
    pub fn qr_payload(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + 1 + 64);
        v.extend_from_slice(labels::SAFETY_QR_MAGIC);
        v.push(QR_VERSION);
        v.extend_from_slice(&self.local);
        v.extend_from_slice(&self.remote);
        v
    }

    /// True if `scanned` is the peer's QR for the same pair (their local is our remote), constant time.
    pub fn matches_qr(&self, scanned: &[u8]) -> bool {
        if scanned.len() != 73
            || &scanned[..8] != labels::SAFETY_QR_MAGIC
            || scanned[8] != QR_VERSION
        {
            return false;
        }
        let their_local = scanned[9..41].ct_eq(&self.remote);
        let their_remote = scanned[41..73].ct_eq(&self.local);
        bool::from(their_local & their_remote)
    }
}

/// Why typed text is not a safety number at all — as opposed to a well-formed
/// number that differs, which is a mismatch and a security finding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TypedDigitsError {
    /// After dropping separators, not exactly [`DIGITS`] digits remain.
    #[error("a safety number has {DIGITS} digits, this has {0}")]
    WrongLength(usize),
    /// A character that is neither an ASCII digit nor a separator.
    #[error("{0:?} is not a digit (only digits, spaces and dashes are allowed)")]
    NotADigit(char),
}

/// True for the characters PROTOCOL.md §13 ignores in typed digits: any
/// Unicode white space and any dash (Unicode category Pd, and U+2212 MINUS
/// SIGN, which some keyboards and text editors substitute for a hyphen).
pub fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{2E3A}'
                    | '\u{2E3B}'
                    | '\u{FE58}'
                    | '\u{FE63}'
                    | '\u{FF0D}'
                    | '\u{058A}'
                    | '\u{05BE}'
                    | '\u{1400}'
                    | '\u{1806}'
                    | '\u{2E17}'
                    | '\u{2E1A}'
                    | '\u{2E40}'
                    | '\u{301C}'
                    | '\u{3030}'
                    | '\u{30A0}'
        )
}

/// The §13 normalisation of typed or pasted digits: separators
/// ([`is_separator`]) are dropped; everything else must be an ASCII digit,
/// and exactly [`DIGITS`] of them must remain.
pub fn normalize_typed(typed: &str) -> Result<String, TypedDigitsError> {
    let mut digits = String::with_capacity(DIGITS);
    for c in typed.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !is_separator(c) {
            return Err(TypedDigitsError::NotADigit(c));
        }
    }
    if digits.len() != DIGITS {
        return Err(TypedDigitsError::WrongLength(digits.len()));
    }
    Ok(digits)
}

/// Compares typed digits with a stored 60-digit number (separators ignored
/// on both sides), in constant time. `Err` when `typed` is not a safety
/// number at all; `Ok(false)` when it is one, but a different one.
pub fn compare_typed(expected: &str, typed: &str) -> Result<bool, TypedDigitsError> {
    let typed = normalize_typed(typed)?;
    let expected: String = expected.chars().filter(|c| !is_separator(*c)).collect();
    Ok(expected.len() == typed.len() && bool::from(typed.as_bytes().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    #[test]
    fn symmetric_and_sensitive() {
        let a = Identity::from_seed([1; 32]).public();
        let b = Identity::from_seed([2; 32]).public();
        let c = Identity::from_seed([3; 32]).public();
        let ab = SafetyNumber::new(&a, &b);
        let ba = SafetyNumber::new(&b, &a);
        assert_eq!(ab.digits(), ba.digits());
        assert_eq!(ab.digits().len(), 60);
        assert!(ab.digits().bytes().all(|d| d.is_ascii_digit()));
        assert_ne!(ab.digits(), SafetyNumber::new(&a, &c).digits());
        assert_eq!(ab.matches_digits(&ba.grouped()), Ok(true));
        assert_eq!(
            ab.matches_digits(&SafetyNumber::new(&a, &c).grouped()),
            Ok(false)
        );
        assert!(ab.matches_qr(&ba.qr_payload()));
        assert!(!ab.matches_qr(&ab.qr_payload()));
        assert!(!ab.matches_qr(&SafetyNumber::new(&c, &a).qr_payload()));
    }

    #[test]
    fn typed_digits_ignore_spaces_and_dashes_and_refuse_the_rest() {
        let n = "123456789012345678901234567890123456789012345678901234567890";
        let dashed = n
            .as_bytes()
            .chunks(5)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("-");
        assert_eq!(compare_typed(n, &dashed), Ok(true));
        assert_eq!(
            compare_typed(n, &dashed.replace('-', " \u{2013} ")),
            Ok(true)
        );
        assert_eq!(compare_typed(n, &format!("\t{n}\n")), Ok(true));
        let mut other = n.to_owned();
        other.replace_range(59.., "1");
        assert_eq!(compare_typed(n, &other), Ok(false));
        assert_eq!(
            compare_typed(n, &n[..59]),
            Err(TypedDigitsError::WrongLength(59))
        );
        assert_eq!(
            compare_typed(n, &format!("{n}0")),
            Err(TypedDigitsError::WrongLength(61))
        );
        assert_eq!(
            compare_typed(n, &n.replace('5', "S")),
            Err(TypedDigitsError::NotADigit('S'))
        );
        // Non-ASCII digits are not digits here: what is compared must be what is shown.
        assert_eq!(
            compare_typed(n, &n.replacen('1', "\u{0661}", 1)),
            Err(TypedDigitsError::NotADigit('\u{0661}'))
        );
    }
}
