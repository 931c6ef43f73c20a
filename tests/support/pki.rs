//! Certificates for the TLS tests, made by the test itself (rcgen): a CA, a server certificate
//! it signs for `localhost` and `127.0.0.1`, a client certificate for mutual TLS, and the wrong
//! ones a handshake must refuse (another CA, an expired server certificate, one for another
//! host). Written as PEM files into a directory the caller owns. Shared by the test crates with
//! `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (PKCS#8).
    pub key: PathBuf,
}

/// Everything a TLS test needs, as files.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA that signs the server and client certificates.
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    /// The server's certificate (`localhost`, `127.0.0.1`), signed by `ca`.
    pub server: Identity,
    /// A client certificate for mutual TLS, signed by `ca`.
    pub client: Identity,
    /// A client certificate signed by `other_ca`.
    pub stranger: Identity,
    /// A server certificate signed by `ca` that expired in 2001.
    pub expired: Identity,
    /// A server certificate signed by `ca` for `example.com` only.
    pub wrong_host: Identity,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    dir: &Path,
    name: &str,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
) -> Identity {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    if expired {
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    let identity = Identity {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&identity.cert, cert.pem()).unwrap();
    std::fs::write(&identity.key, key.serialize_pem()).unwrap();
    identity
}

impl Pki {
    /// Makes the certificates and writes them into `dir`.
    pub fn new(dir: &Path) -> Self {
        let authority = ca("agentrace test CA");
        let other = ca("some other CA");
        let write = |name: &str, issuer: &CertifiedIssuer<'static, KeyPair>| {
            let path = dir.join(name);
            std::fs::write(&path, issuer.pem()).unwrap();
            path
        };
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        let client = ExtendedKeyUsagePurpose::ClientAuth;
        let local = ["localhost", "127.0.0.1"];
        Self {
            ca: write("ca.pem", &authority),
            other_ca: write("other-ca.pem", &other),
            server: leaf(dir, "server", &authority, &local, server.clone(), false),
            client: leaf(dir, "client", &authority, &["agent"], client.clone(), false),
            stranger: leaf(dir, "stranger", &other, &["agent"], client, false),
            expired: leaf(dir, "expired", &authority, &local, server.clone(), true),
            wrong_host: leaf(
                dir,
                "wrong-host",
                &authority,
                &["example.com"],
                server,
                false,
            ),
        }
    }
}

impl Pki {
    /// An HTTP client that trusts only this test CA, presenting `client` when given.
    pub fn https_agent(&self, client: Option<&Identity>) -> ureq::Agent {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let ca = Certificate::from_pem(&std::fs::read(&self.ca).unwrap())
            .unwrap()
            .to_owned();
        let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
        if let Some(client) = client {
            let cert = Certificate::from_pem(&std::fs::read(&client.cert).unwrap())
                .unwrap()
                .to_owned();
            let key = PrivateKey::from_pem(&std::fs::read(&client.key).unwrap())
                .unwrap()
                .to_owned();
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        }
        ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .build()
            .new_agent()
    }
}
