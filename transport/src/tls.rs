//! Mutual TLS 1.3: loading PEM files, building the rustls configurations, and
//! binding a certificate to a host id.
//!
//! A host's certificate names it with the DNS subject alternative name
//! `host-<id>.polyraft` ([`host_dns_name`]). A dialer checks that the acceptor
//! it reached holds the certificate of the host it meant to dial (rustls does
//! this with the DNS name as server name), and an acceptor checks that the
//! dialer's certificate names the host id its Hello claims
//! ([`verify_peer_host`]). Both chain to the configured CA; only TLS 1.3 is
//! offered.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::config::TlsFiles;
use crate::error::TransportError;
use crate::HostId;

/// The DNS name that a certificate for host `id` carries.
pub fn host_dns_name(id: HostId) -> String {
    format!("host-{id}.polyraft")
}

fn config_err(what: &str, path: &Path, e: impl std::fmt::Display) -> TransportError {
    TransportError::Config(format!("{what} {}: {e}", path.display()))
}

/// Reads every certificate in a PEM file (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_err("cannot read certificates from", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_err("bad certificate PEM in", path, e))?;
    if certs.is_empty() {
        return Err(config_err("no certificate in", path, "empty"));
    }
    Ok(certs)
}

/// Reads the private key in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TransportError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| config_err("cannot read a private key from", path, e))
}

// rustls deprecates the ring provider because it lacks post-quantum key
// exchange; aws-lc-rs has it but needs cmake and a longer build. Switching is
// one line here once the build can afford it.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Both rustls configurations of one host.
#[derive(Clone)]
pub struct TlsContext {
    /// For connections this host accepts: client certificates required.
    pub server: Arc<ServerConfig>,
    /// For connections this host dials: presents this host's certificate.
    pub client: Arc<ClientConfig>,
}

impl TlsContext {
    /// Loads the PEM files and builds the TLS 1.3 mutual-authentication
    /// configurations.
    pub fn load(files: &TlsFiles) -> Result<Self, TransportError> {
        let certs = load_certs(&files.cert)?;
        let key = load_key(&files.key)?;
        let mut roots = RootCertStore::empty();
        for ca in load_certs(&files.ca)? {
            roots.add(ca).map_err(|e| config_err("unusable CA certificate in", &files.ca, e))?;
        }
        let roots = Arc::new(roots);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| TransportError::Tls(format!("client verifier: {e}")))?;
        let server = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)?;
        Ok(TlsContext { server: Arc::new(server), client: Arc::new(client) })
    }
}

/// The server name a dialer expects the acceptor of host `id` to prove.
pub fn server_name(id: HostId) -> ServerName<'static> {
    ServerName::try_from(host_dns_name(id)).expect("host-<n>.polyraft is a valid DNS name")
}

/// Checks that `cert` (the dialer's end-entity certificate, already chained
/// to the CA by rustls) names host `claimed`. A certificate that would also
/// be valid for the nonexistent host 0 (a wildcard such as `*.polyraft`) is
/// refused: it could pose as every host.
pub fn verify_peer_host(cert: &CertificateDer<'_>, claimed: HostId) -> Result<(), TransportError> {
    let ee = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| TransportError::Refused(format!("unparsable peer certificate: {e}")))?;
    if ee.verify_is_valid_for_subject_name(&server_name(0)).is_ok() {
        return Err(TransportError::Refused("peer certificate names every host (wildcard)".into()));
    }
    ee.verify_is_valid_for_subject_name(&server_name(claimed)).map_err(|_| {
        TransportError::Refused(format!("peer certificate does not name {}", host_dns_name(claimed)))
    })
}
