//! A development certificate authority: makes a CA and per-host certificates
//! (with `rcgen`) so tests, examples and demos run with mutual TLS and no
//! manual step. Not for production: the CA key sits in memory and in the
//! output directory unprotected.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::config::TlsFiles;
use crate::error::TransportError;
use crate::tls::host_dns_name;
use crate::HostId;

fn gen_err(e: rcgen::Error) -> TransportError {
    TransportError::Tls(format!("certificate generation: {e}"))
}

/// A self-signed CA that issues host certificates.
pub struct DevCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: String,
}

/// A host certificate and its key, in PEM.
pub struct HostCert {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
}

impl DevCa {
    /// Makes a new CA with the given common name.
    pub fn new(name: &str) -> Result<Self, TransportError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().map_err(gen_err)?).map_err(gen_err)?;
        let pem = issuer.pem();
        Ok(DevCa { issuer, pem })
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.pem
    }

    /// Issues a certificate for host `id`, named `host-<id>.polyraft`, usable
    /// for both ends of a connection.
    pub fn host_cert(&self, id: HostId) -> Result<HostCert, TransportError> {
        self.cert_for_names(vec![host_dns_name(id)])
    }

    /// Issues a certificate for arbitrary DNS names (tests use it for
    /// certificates that name no host or several).
    pub fn cert_for_names(&self, names: Vec<String>) -> Result<HostCert, TransportError> {
        let mut params = CertificateParams::new(names.clone()).map_err(gen_err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().cloned().unwrap_or_else(|| "polyraft".into()));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().map_err(gen_err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(gen_err)?;
        Ok(HostCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// Writes `ca.pem`, `host-<id>.pem` and `host-<id>.key` into `dir`
    /// (created if missing) and returns the files for [`crate::Security::MutualTls`].
    pub fn write_host_files(&self, dir: &Path, id: HostId) -> Result<TlsFiles, TransportError> {
        let cert = self.host_cert(id)?;
        write_files(dir, &format!("host-{id}"), self.ca_pem(), &cert)
    }
}

/// Writes `ca.pem`, `<stem>.pem` and `<stem>.key` into `dir` and returns them
/// as [`TlsFiles`].
pub fn write_files(dir: &Path, stem: &str, ca_pem: &str, cert: &HostCert) -> Result<TlsFiles, TransportError> {
    fs::create_dir_all(dir)?;
    let files = TlsFiles {
        cert: dir.join(format!("{stem}.pem")),
        key: dir.join(format!("{stem}.key")),
        ca: dir.join("ca.pem"),
    };
    fs::write(&files.ca, ca_pem)?;
    fs::write(&files.cert, &cert.cert_pem)?;
    write_private(&files.key, &cert.key_pem)?;
    Ok(files)
}

#[cfg(unix)]
fn write_private(path: &PathBuf, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(pem.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &PathBuf, pem: &str) -> std::io::Result<()> {
    fs::write(path, pem)
}

/// Makes a fresh CA and writes the files of hosts `ids` into `dir`.
pub fn dev_cluster(dir: &Path, ids: &[HostId]) -> Result<Vec<TlsFiles>, TransportError> {
    let ca = DevCa::new("polyraft development CA")?;
    ids.iter().map(|&id| ca.write_host_files(dir, id)).collect()
}
