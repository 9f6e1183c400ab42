//! The one TLS client configuration (rustls with ring): the webpki roots plus, optionally, the
//! certificates of a PEM CA file. Verification can never be switched off. Used by the provider
//! client and by the admin CLI.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A client configuration trusting the webpki roots and the certificates in `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(std::iter::Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {}: no certificate", path.display()));
        }
        for c in certs {
            roots.add(c).map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// True when `host` (a name or an IP address, IPv6 with or without brackets) is this machine:
/// `localhost`, 127.0.0.0/8 or `::1`.
pub fn loopback_host(host: &str) -> bool {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
