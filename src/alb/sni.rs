//! An HTTPS listener's certificates and how one is picked for a connection, as ALB does: the
//! first certificate (in config order) valid for the client's SNI, else the default (the first).
//!
//! The same [`CertificateSet::pick`] serves rustls during the handshake and the access log
//! afterwards (its `chosen_cert_arn` field), so both always agree.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, DnsName, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// One certificate of a listener: what rustls presents and its (fake) ACM ARN.
#[derive(Debug)]
pub struct ListenerCertificate {
    /// Chain and signing key.
    pub key: Arc<CertifiedKey>,
    /// `arn:aws:acm:...`, for the access log.
    pub arn: Arc<str>,
}

/// A listener's certificates; the first is the default.
#[derive(Debug)]
pub struct CertificateSet {
    certs: Vec<ListenerCertificate>,
}

impl CertificateSet {
    /// A set with `certs[0]` as the default. `None` when `certs` is empty.
    pub fn new(certs: Vec<ListenerCertificate>) -> Option<CertificateSet> {
        (!certs.is_empty()).then_some(CertificateSet { certs })
    }

    /// The index of the certificate for a client that sent `sni`.
    pub fn pick(&self, sni: Option<&str>) -> usize {
        if self.certs.len() == 1 {
            return 0;
        }
        let Some(name) = sni.and_then(|s| DnsName::try_from(s.to_string()).ok()) else {
            return 0;
        };
        let name = ServerName::DnsName(name);
        self.certs
            .iter()
            .position(|c| {
                c.key
                    .cert
                    .first()
                    .is_some_and(|leaf| valid_for(leaf, &name))
            })
            .unwrap_or(0)
    }

    /// The ARN of certificate `index`.
    pub fn arn(&self, index: usize) -> Arc<str> {
        self.certs[index.min(self.certs.len() - 1)].arn.clone()
    }
}

/// Whether `leaf` names `name` (exactly or through a wildcard), as a client would check it.
fn valid_for(leaf: &CertificateDer<'_>, name: &ServerName<'_>) -> bool {
    webpki::EndEntityCert::try_from(leaf)
        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(name).is_ok())
}

impl ResolvesServerCert for CertificateSet {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certs[self.pick(hello.server_name())].key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::LocalCa;
    use rustls::pki_types::PrivateKeyDer;

    fn set(ca: &LocalCa, names: &[&[&str]]) -> CertificateSet {
        let provider = rustls::crypto::ring::default_provider();
        let certs = names
            .iter()
            .map(|hosts| {
                let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
                let leaf = ca.issue(&hosts).unwrap();
                let key = CertifiedKey::from_der(
                    vec![leaf.cert_der],
                    PrivateKeyDer::Pkcs8(leaf.key_der),
                    &provider,
                )
                .unwrap();
                ListenerCertificate {
                    key: Arc::new(key),
                    arn: hosts.join(",").into(),
                }
            })
            .collect();
        CertificateSet::new(certs).unwrap()
    }

    #[test]
    fn picks_first_matching_certificate_else_default() {
        let tmp = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(&tmp.path().join("ca")).unwrap();
        let s = set(
            &ca,
            &[&["localhost"], &["api.test"], &["*.apps.test", "api.test"]],
        );
        assert_eq!(s.pick(Some("localhost")), 0);
        assert_eq!(s.pick(Some("api.test")), 1, "first match in config order");
        assert_eq!(s.pick(Some("web.apps.test")), 2, "wildcard");
        assert_eq!(
            s.pick(Some("a.b.apps.test")),
            0,
            "wildcards cover one label"
        );
        assert_eq!(
            s.pick(Some("other.test")),
            0,
            "default when nothing matches"
        );
        assert_eq!(s.pick(None), 0, "default without SNI");
        assert_eq!(&*s.arn(1), "api.test");
    }

    #[test]
    fn empty_set_is_none() {
        assert!(CertificateSet::new(Vec::new()).is_none());
    }
}
