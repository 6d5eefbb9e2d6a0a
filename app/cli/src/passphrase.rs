//! Where the passphrase comes from: `CAIRN_PASSPHRASE`, else a terminal prompt.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

/// Environment variable holding the passphrase for scripted use.
pub(crate) const ENV: &str = "CAIRN_PASSPHRASE";
/// Environment variable holding a separate passphrase for `export`'s backup
/// (default: the profile's passphrase).
pub(crate) const BACKUP_ENV: &str = "CAIRN_BACKUP_PASSPHRASE";

/// The backup passphrase from [`BACKUP_ENV`], if set and not empty.
pub(crate) fn backup() -> anyhow::Result<Option<Zeroizing<String>>> {
    match std::env::var(BACKUP_ENV) {
        Ok(value) if value.is_empty() => bail!("{BACKUP_ENV} is set but empty"),
        Ok(value) => Ok(Some(Zeroizing::new(value))),
        Err(_) => Ok(None),
    }
}

/// Reads the passphrase; for a new profile, asks twice on a terminal.
pub(crate) fn read(confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Ok(value) = std::env::var(ENV) {
        let value = Zeroizing::new(value);
        if value.is_empty() {
            bail!("{ENV} is set but empty");
        }
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: set {ENV} or run on a terminal");
    }
    let first =
        Zeroizing::new(rpassword::prompt_password("Passphrase: ").context("reading passphrase")?);
    if first.is_empty() {
        bail!("empty passphrase");
    }
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("Repeat passphrase: ").context("reading passphrase")?,
        );
        if *first != *second {
            bail!("passphrases differ");
        }
    }
    Ok(first)
}
