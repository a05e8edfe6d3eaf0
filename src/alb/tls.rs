//! tierlab's local certificate authority and the rustls server configs of HTTPS listeners.
//!
//! The CA is created once per state directory and kept (`ca.pem`, `ca.key.pem` mode 0600), so a
//! user trusts it once and every later run's listener certificates chain to it. Leaf
//! certificates are issued fresh at each start and never written to disk.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::AlbError;
use super::arn;
use super::sni::{CertificateSet, ListenerCertificate};
use crate::config::{Certificate, SslPolicy};
use crate::state::{StateError, create_private_dir, write_private_file};

/// Common name of the CA certificate; also what users see in their trust store.
pub const CA_COMMON_NAME: &str = "tierlab local CA";
/// File name of the CA certificate inside the CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside the CA directory.
pub const CA_KEY_FILE: &str = "ca.key.pem";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// Under the 398 days browsers accept for server certificates.
const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// Names a `LocalCa` certificate gets when the config lists none.
const DEFAULT_HOSTNAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// The local certificate authority: its certificate and the key that signs listener certificates.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// What an HTTPS listener serves with: its rustls config and the certificates SNI picks from.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    /// rustls server config (ring provider, the policy's TLS versions, ALPN `h2`, `http/1.1`).
    pub config: Arc<ServerConfig>,
    /// The listener's certificates (the first is the default), also used by the access log.
    pub certificates: Arc<CertificateSet>,
}

/// The TLS versions of an ALB security policy.
pub fn policy_versions(policy: SslPolicy) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match policy {
        SslPolicy::Tls13And12 => &BOTH,
        SslPolicy::Tls13Only => &TLS13,
    }
}

/// A server certificate issued by the [`LocalCa`], with its private key (PKCS#8).
pub struct LeafCertificate {
    /// The certificate, DER-encoded.
    pub cert_der: CertificateDer<'static>,
    /// The certificate, PEM-encoded.
    pub cert_pem: String,
    /// Its private key (ECDSA P-256, PKCS#8).
    pub key_der: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signing key stays out of logs.
        f.debug_struct("LocalCa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Loads the CA kept in `dir`, creating it there first if `dir` holds none.
    ///
    /// Creation is atomic: the files are written to a private staging directory that is then
    /// renamed to `dir`, so two labs starting at once end up sharing one CA, never a mix of two.
    pub fn load_or_create(dir: &Path) -> Result<LocalCa, AlbError> {
        if let Some(ca) = Self::load(dir)? {
            return Ok(ca);
        }
        create(dir)?;
        Self::load(dir)?.ok_or_else(|| AlbError::InvalidCa {
            path: dir.join(CA_CERT_FILE),
            reason: "missing right after it was created".into(),
        })
    }

    /// The CA certificate to add to a trust store (`ca.pem`).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// The CA certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a server certificate for `hostnames` (DNS names; IP addresses become IP SANs),
    /// valid for about a year.
    pub fn issue(&self, hostnames: &[String]) -> Result<LeafCertificate, AlbError> {
        let err = |source| AlbError::IssueCertificate {
            hostnames: hostnames.join(", "),
            source,
        };
        let mut params = CertificateParams::new(hostnames.to_vec()).map_err(err)?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            hostnames.first().map_or("tierlab", String::as_str),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, LEAF_VALIDITY);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(err)?;
        Ok(LeafCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// A rustls server config (ring provider, TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`) for
    /// the listener on `addr` with `certificate`. `addr` only names the listener in errors.
    pub fn server_config(
        &self,
        certificate: &Certificate,
        addr: SocketAddr,
    ) -> Result<Arc<ServerConfig>, AlbError> {
        Ok(self
            .listener_tls(&[certificate], SslPolicy::default(), addr)?
            .config)
    }

    /// The TLS setup of an HTTPS listener on `addr` with `certificates` (the first is the
    /// default; SNI picks among them) and the TLS versions of `policy`.
    pub fn listener_tls(
        &self,
        certificates: &[&Certificate],
        policy: SslPolicy,
        addr: SocketAddr,
    ) -> Result<ListenerTls, AlbError> {
        let err = |source| AlbError::TlsConfig { addr, source };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = certificates
            .iter()
            .map(|c| self.listener_certificate(c, &provider, addr))
            .collect::<Result<Vec<_>, _>>()?;
        let certs = CertificateSet::new(certs)
            .ok_or_else(|| err(rustls::Error::General("no certificate".into())))?;
        let certs = Arc::new(certs);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(policy_versions(policy))
            .map_err(err)?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ListenerTls {
            config: Arc::new(config),
            certificates: certs,
        })
    }

    /// One certificate with its key, checked to match, and its ARN.
    fn listener_certificate(
        &self,
        certificate: &Certificate,
        provider: &CryptoProvider,
        addr: SocketAddr,
    ) -> Result<ListenerCertificate, AlbError> {
        let (chain, key) = match certificate {
            Certificate::LocalCa { .. } => {
                let leaf = self.issue(&local_ca_names(certificate))?;
                (
                    vec![leaf.cert_der, self.cert_der.clone()],
                    PrivateKeyDer::Pkcs8(leaf.key_der),
                )
            }
            Certificate::Files { cert, key } => (load_chain(cert)?, load_key(key)?),
        };
        let arn_key = certificate_arn_key(certificate);
        let key = CertifiedKey::from_der(chain, key, provider)
            .map_err(|source| AlbError::TlsConfig { addr, source })?;
        Ok(ListenerCertificate {
            key: Arc::new(key),
            arn: arn::certificate_arn(&arn_key).into(),
        })
    }

    /// Reads the CA in `dir`; `None` when neither file exists yet.
    fn load(dir: &Path) -> Result<Option<LocalCa>, AlbError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let (cert_pem, key_pem) = match (read_optional(&cert_path)?, read_optional(&key_path)?) {
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (c, k),
            (Some(_), None) => return Err(missing(&key_path)),
            (None, Some(_)) => return Err(missing(&cert_path)),
        };
        let invalid = |path: &Path, reason: String| AlbError::InvalidCa {
            path: path.into(),
            reason,
        };
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| invalid(&cert_path, e.to_string()))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| invalid(&key_path, e.to_string()))?;
        // The certificate embeds the raw public key; a key from another CA would sign leaves
        // that chain to nothing, so refuse it here with a clear message.
        let public = key.public_key_raw();
        if !cert_der.windows(public.len()).any(|w| w == public) {
            return Err(invalid(
                &key_path,
                format!("does not match {}", cert_path.display()),
            ));
        }
        // rcgen cannot parse a certificate without its x509-parser feature; the issuer only needs
        // the subject name and key usages, which `ca_params` rebuilds exactly as first written.
        let issuer = Issuer::new(ca_params(), key);
        Ok(Some(LocalCa {
            dir: dir.to_path_buf(),
            cert_pem,
            cert_der,
            issuer,
        }))
    }
}

/// Parameters of the CA certificate. Must stay stable: reloading relies on the same subject.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "tierlab");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, CA_VALIDITY);
    params
}

/// Valid from a day ago (tolerates clock skew between host and containers) for `validity`.
fn set_validity(params: &mut CertificateParams, validity: Duration) {
    let now = SystemTime::now();
    params.not_before = (now - DAY).into();
    params.not_after = (now + validity).into();
}

/// Generates a CA and moves it into `dir`, unless another process got there first.
fn create(dir: &Path) -> Result<(), AlbError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(AlbError::GenerateCa)?;
    let cert = ca_params()
        .self_signed(&key)
        .map_err(AlbError::GenerateCa)?;
    let files_err = |source| AlbError::CreateCaFiles {
        dir: dir.to_path_buf(),
        source,
    };
    let parent = dir.parent().unwrap_or(Path::new("."));
    create_private_dir(parent).map_err(files_err)?;
    let staging = parent.join(format!(
        ".ca-staging-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let staged = create_private_dir(&staging)
        .and_then(|()| {
            write_private_file(&staging.join(CA_KEY_FILE), key.serialize_pem().as_bytes())
        })
        .and_then(|()| write_private_file(&staging.join(CA_CERT_FILE), cert.pem().as_bytes()));
    if let Err(e) = staged {
        let _ = fs::remove_dir_all(&staging);
        return Err(files_err(e));
    }
    // rename(2) replaces an empty `dir` but fails on a populated one: the loser of a race
    // drops its own CA and loads the winner's.
    match fs::rename(&staging, dir) {
        Ok(()) => Ok(()),
        Err(_) if dir.join(CA_CERT_FILE).exists() && dir.join(CA_KEY_FILE).exists() => {
            let _ = fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(source) => {
            let _ = fs::remove_dir_all(&staging);
            let action = "move the new CA into place";
            Err(files_err(StateError {
                path: dir.to_path_buf(),
                action,
                source,
            }))
        }
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, AlbError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AlbError::ReadCa {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn missing(path: &Path) -> AlbError {
    AlbError::InvalidCa {
        path: path.to_path_buf(),
        reason: "file is missing".into(),
    }
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, AlbError> {
    let err = |reason: String| AlbError::LoadPem {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if chain.is_empty() {
        return Err(err("no CERTIFICATE block found".into()));
    }
    Ok(chain)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, AlbError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| AlbError::LoadPem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The names a local-CA certificate is issued for (the defaults when it names none).
fn local_ca_names(certificate: &Certificate) -> Vec<String> {
    match certificate {
        Certificate::LocalCa { hostnames } if !hostnames.is_empty() => hostnames.clone(),
        _ => DEFAULT_HOSTNAMES.iter().map(|s| s.to_string()).collect(),
    }
}

/// What a certificate's ARN is derived from: its names, or its file's path.
fn certificate_arn_key(certificate: &Certificate) -> String {
    match certificate {
        Certificate::LocalCa { .. } => local_ca_names(certificate).join(","),
        Certificate::Files { cert, .. } => cert.display().to_string(),
    }
}

/// The ACM-style ARN a listener certificate is known by (access logs, `describe-listeners`).
pub fn certificate_arn(certificate: &Certificate) -> String {
    arn::certificate_arn(&certificate_arn_key(certificate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::RootCertStore;
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use std::os::unix::fs::PermissionsExt;

    fn verify(ca_pem: &str, leaf: &LeafCertificate, name: &str) -> Result<(), rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        verifier
            .verify_server_cert(&leaf.cert_der, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    fn names() -> Vec<String> {
        vec!["localhost".into(), "127.0.0.1".into()]
    }

    #[test]
    fn ca_is_created_once_with_private_key_and_reloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        let first = LocalCa::load_or_create(&dir).unwrap();
        let key_mode = fs::metadata(dir.join(CA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(key_mode & 0o777, 0o600);
        assert_eq!(first.cert_path(), dir.join(CA_CERT_FILE));

        let second = LocalCa::load_or_create(&dir).unwrap();
        assert_eq!(first.cert_pem(), second.cert_pem());
        // A leaf from the reloaded CA chains to the certificate written on first run.
        let leaf = second.issue(&names()).unwrap();
        verify(first.cert_pem(), &leaf, "localhost").unwrap();
        verify(first.cert_pem(), &leaf, "127.0.0.1").unwrap();
        assert!(verify(first.cert_pem(), &leaf, "example.com").is_err());
    }

    #[test]
    fn leaf_from_another_ca_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let a = LocalCa::load_or_create(&tmp.path().join("a")).unwrap();
        let b = LocalCa::load_or_create(&tmp.path().join("b")).unwrap();
        assert!(verify(a.cert_pem(), &b.issue(&names()).unwrap(), "localhost").is_err());
    }

    #[test]
    fn concurrent_creation_yields_one_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        let pems: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        LocalCa::load_or_create(&dir)
                            .unwrap()
                            .cert_pem()
                            .to_string()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(pems.iter().all(|p| p == &pems[0]));
        let leftovers: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "staging directories must be cleaned up");
        // The files on disk are a matching pair.
        LocalCa::load_or_create(&dir)
            .unwrap()
            .issue(&names())
            .unwrap();
    }

    #[test]
    fn half_written_ca_is_reported_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(CA_CERT_FILE), "junk").unwrap();
        let err = LocalCa::load_or_create(&dir).err().unwrap().to_string();
        assert!(err.contains(CA_KEY_FILE), "{err}");
    }

    #[test]
    fn server_config_offers_h2_and_http11() {
        let tmp = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(&tmp.path().join("ca")).unwrap();
        let cert = Certificate::LocalCa { hostnames: names() };
        let config = ca
            .server_config(&cert, "127.0.0.1:8443".parse().unwrap())
            .unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn files_certificate_loads_pem_and_names_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(&tmp.path().join("ca")).unwrap();
        let leaf = ca.issue(&names()).unwrap();
        let cert = tmp.path().join("cert.pem");
        let key = tmp.path().join("key.pem");
        fs::write(&cert, &leaf.cert_pem).unwrap();
        fs::write(&key, pkcs8_pem(&leaf.key_der)).unwrap();
        let addr = "127.0.0.1:8443".parse().unwrap();
        let files = Certificate::Files {
            cert: cert.clone(),
            key: key.clone(),
        };
        ca.server_config(&files, addr).unwrap();

        let absent = Certificate::Files {
            cert: tmp.path().join("nope.pem"),
            key,
        };
        let err = ca.server_config(&absent, addr).err().unwrap().to_string();
        assert!(err.contains("nope.pem"), "{err}");
    }

    fn pkcs8_pem(der: &PrivatePkcs8KeyDer<'_>) -> String {
        let kp = KeyPair::try_from(der.secret_pkcs8_der()).unwrap();
        kp.serialize_pem()
    }
}
