//! The one passphrase rule, for every front end: what a new profile or a
//! backup may be protected with.
//!
//! The passphrase is all that protects a stolen profile or a copied backup:
//! the database key is Argon2id over it ([`super::kdf`]), and an attacker
//! holding the files can guess offline. A passphrase is accepted when
//! zxcvbn (Dropbox's estimator: dictionaries, common passwords, names,
//! keyboard walks, dates, repeats, l33t substitutions) scores it at least
//! [`MIN_SCORE`] of 4 — at least 10⁸ guesses, which at Argon2id's cost per
//! guess is years of one machine's time; score 4 (10¹⁰) is what the meter
//! calls "very strong". `cairn-cli` refuses a weaker passphrase at `init` and
//! `export` with [`WeakPassphrase`]; the desktop enables "Create profile" and
//! "Export backup" only when [`passphrase_policy`] accepts, and its meter
//! shows [`PassphraseStrength::score`].

use thiserror::Error;
use zxcvbn::zxcvbn;

/// Lowest acceptable zxcvbn score (0–4).
pub const MIN_SCORE: u8 = 3;

/// How strong a passphrase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassphraseStrength {
    /// zxcvbn's score: 0 (guessed at once) to 4 (very hard to guess).
    pub score: u8,
}

impl PassphraseStrength {
    /// True if [`passphrase_policy`] accepts it.
    pub fn acceptable(self) -> bool {
        self.score >= MIN_SCORE
    }
}

/// Why a passphrase was refused, and what would pass.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WeakPassphrase {
    /// Nothing was typed.
    #[error("the passphrase is empty. To pass: {HOW_TO}")]
    Empty,
    /// Too easy to guess.
    #[error(
        "the passphrase is too easy to guess (strength {score} of 4, {MIN_SCORE} needed).{} To pass: {HOW_TO}",
        .why.as_ref().map(|w| format!(" {}.", w.trim_end_matches('.'))).unwrap_or_default()
    )]
    TooGuessable {
        /// zxcvbn's score.
        score: u8,
        /// zxcvbn's warning, when it has one (e.g. "This is a very common password.").
        why: Option<String>,
    },
}

/// What passes, in one sentence (shown with every refusal).
pub const HOW_TO: &str = "use four or more random words, or a sentence only you would write \
                          (a longer passphrase beats a complicated one)";

/// The strength of `pass` (zxcvbn looks at its first 100 characters).
pub fn passphrase_strength(pass: &str) -> PassphraseStrength {
    PassphraseStrength {
        score: zxcvbn(pass, &[]).score().into(),
    }
}

/// The rule: `Ok` with the strength if `pass` may protect a profile or a
/// backup, else why not and what would pass.
pub fn passphrase_policy(pass: &str) -> Result<PassphraseStrength, WeakPassphrase> {
    if pass.is_empty() {
        return Err(WeakPassphrase::Empty);
    }
    let entropy = zxcvbn(pass, &[]);
    let strength = PassphraseStrength {
        score: entropy.score().into(),
    };
    if strength.acceptable() {
        return Ok(strength);
    }
    Err(WeakPassphrase::TooGuessable {
        score: strength.score,
        why: entropy
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| w.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passphrases_are_refused_with_a_reason_and_strong_ones_pass() {
        // "password1234" and "Summer2024!" passed the desktop's old length-and-classes meter.
        for weak in [
            "",
            "password",
            "password1234",
            "Summer2024!",
            "qwertyuiop",
            "aaaaaaaaaaaaaaaa",
        ] {
            let err = passphrase_policy(weak).unwrap_err();
            assert!(
                err.to_string().contains("four or more random words"),
                "{err}"
            );
            assert!(!passphrase_strength(weak).acceptable(), "{weak}");
        }
        let err = passphrase_policy("password1234").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the passphrase is too easy to guess (strength 1 of 4, 3 needed). This is a very \
             common password. To pass: use four or more random words, or a sentence only you \
             would write (a longer passphrase beats a complicated one)"
        );
        for strong in [
            "correct horse battery staple",
            "velvet harbour 42 lanterns",
            "alice passphrase 123",
        ] {
            let s = passphrase_policy(strong).unwrap();
            assert!(s.score >= MIN_SCORE, "{strong}: {s:?}");
        }
    }
}
