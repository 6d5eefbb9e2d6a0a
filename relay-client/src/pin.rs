//! Certificate pinning: the only certificate check a Cairn client makes.
//!
//! The relay address carries SHA-256 of the relay certificate's DER. The
//! verifier accepts exactly that certificate (compared in constant time)
//! and still checks the handshake signatures against it, so a copied
//! certificate without its private key is useless. No CA, no host name.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use subtle::ConstantTimeEq;

use cairn_protocol::relay_address::pin_of;

/// Accepts only the certificate with the pinned SHA-256.
#[derive(Debug)]
pub(crate) struct PinVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
    /// The pin of a refused certificate, for a precise error.
    pub(crate) refused: Mutex<Option<[u8; 32]>>,
}

impl PinVerifier {
    pub(crate) fn new(pin: [u8; 32], provider: Arc<CryptoProvider>) -> Self {
        Self {
            pin,
            provider,
            refused: Mutex::new(None),
        }
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = pin_of(end_entity);
        if bool::from(actual.ct_eq(&self.pin)) {
            return Ok(ServerCertVerified::assertion());
        }
        if let Ok(mut refused) = self.refused.lock() {
            *refused = Some(actual);
        }
        Err(rustls::Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
