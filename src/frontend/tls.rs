//! HTTPS for the listeners: rustls (ring), TLS 1.2 and 1.3, certificate and key from files,
//! reloaded on SIGHUP without dropping open connections (new handshakes use the new pair).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A certificate source that can be reloaded.
pub struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<TlsAcceptor>,
}

/// Why a certificate and key pair cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file cannot be read as PEM.
    #[error("{}: cannot read the certificate", .0.display())]
    Certificate(PathBuf, #[source] pem::Error),
    /// The certificate file holds no certificate.
    #[error("{}: no certificate", .0.display())]
    NoCertificate(PathBuf),
    /// The key file cannot be read as PEM.
    #[error("{}: cannot read the private key", .0.display())]
    Key(PathBuf, #[source] pem::Error),
    /// rustls refuses the pair (a key that is not the certificate's, an unsupported algorithm).
    #[error("the certificate and key cannot serve together")]
    Pair(#[source] rustls::Error),
    /// A thread panicked while swapping the pair.
    #[error("TLS state poisoned")]
    Poisoned,
}

fn load(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(std::iter::Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| TlsError::Certificate(cert.to_owned(), e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key(key.to_owned(), e))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Pair)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(TlsError::Pair)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl TlsFiles {
    /// Loads the pair once; an error names the file.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let acceptor = load(cert, key)?;
        Ok(Self { cert: cert.to_owned(), key: key.to_owned(), current: RwLock::new(acceptor) })
    }

    /// Re-reads both files; on failure the previous pair stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let acceptor = load(&self.cert, &self.key)?;
        let mut cur = self.current.write().map_err(|_| TlsError::Poisoned)?;
        *cur = acceptor;
        Ok(())
    }

    /// The acceptor for the next handshake.
    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.current.read().ok().map(|a| a.clone())
    }
}
