//! The relay's TLS identity: an operator's certificate, or a self-signed one
//! generated once and kept in the data directory.
//!
//! Clients do not use CAs: they pin the SHA-256 of the certificate's DER
//! bytes, carried in the relay address. Keeping the generated certificate in
//! the data directory keeps that pin, and so every address handed out,
//! stable across restarts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_protocol::relay_address::pin_of;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

/// Generated certificate file inside the data directory.
pub const CERT_FILE: &str = "tls-cert.pem";
/// Generated private key file inside the data directory.
pub const KEY_FILE: &str = "tls-key.pem";

/// Why the TLS identity could not be loaded or created.
#[derive(Debug, Error)]
pub enum TlsError {
    /// Reading or writing a PEM file failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// A PEM file held no certificate or no private key, or could not be parsed.
    #[error("{path}: {what}")]
    Pem {
        /// File involved.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// Generating a self-signed certificate failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate and key.
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
}

/// A loaded TLS identity: what the listener needs and what the address carries.
pub struct TlsIdentity {
    /// Ready-to-use rustls server configuration.
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the leaf certificate's DER.
    pub pin: [u8; 32],
}

/// Loads `cert`/`key` if given, else the data directory's generated pair
/// (generating it on first start with `names` as subject alternative names).
pub fn load_or_generate(
    data_dir: &Path,
    cert_and_key: Option<(&Path, &Path)>,
    names: &[String],
) -> Result<TlsIdentity, TlsError> {
    let (cert_path, key_path) = match cert_and_key {
        Some((c, k)) => (c.to_path_buf(), k.to_path_buf()),
        None => {
            let cert = data_dir.join(CERT_FILE);
            let key = data_dir.join(KEY_FILE);
            if !cert.exists() || !key.exists() {
                generate(&cert, &key, names)?;
            }
            (cert, key)
        }
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(&cert_path, e))?;
    let leaf = certs.first().ok_or_else(|| TlsError::Pem {
        path: cert_path.clone(),
        what: "no certificate found".into(),
    })?;
    let pin = pin_of(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| pem_error(&key_path, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsIdentity {
        config: Arc::new(config),
        pin,
    })
}

fn generate(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<(), TlsError> {
    let mut names = names.to_vec();
    if names.is_empty() {
        names.push("cairn-relay".into());
    }
    let certified = rcgen::generate_simple_self_signed(names)?;
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes())?;
    fs::write(cert_path, certified.cert.pem()).map_err(|source| TlsError::Io {
        path: cert_path.to_path_buf(),
        source,
    })?;
    tracing::info!(path = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        what: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path(), None, &["localhost".into()]).unwrap();
        let second = load_or_generate(dir.path(), None, &[]).unwrap();
        assert_eq!(first.pin, second.pin);
        let explicit = load_or_generate(
            Path::new("/nonexistent"),
            Some((&dir.path().join(CERT_FILE), &dir.path().join(KEY_FILE))),
            &[],
        )
        .unwrap();
        assert_eq!(explicit.pin, first.pin);
    }
}
