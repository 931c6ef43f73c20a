//! TLS for OTLP export: which certificate authorities to trust, which client certificate to
//! present, and what a failed handshake means in words.
//!
//! The whole workspace uses one TLS stack, rustls with the ring provider (no system OpenSSL), so
//! the library and the language packages built from it carry everything they need. Trust comes
//! from the operating system's roots by default (Mozilla's bundled roots when the system has
//! none), or only from the CA bundle the user gives (`OTEL_EXPORTER_OTLP_CERTIFICATE`); a client
//! certificate and key give mutual TLS. Both transports get the same material: the OTLP/HTTP
//! client as a rustls configuration, the gRPC channel as tonic's TLS settings.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::error::{Error, Result};

/// The certificate files one signal's exporter uses. Paths only: they are read when the
/// exporter is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// PEM bundle of the certificate authorities to trust instead of the system's.
    pub(crate) certificate: Option<PathBuf>,
    /// PEM certificate chain presented to the server (mutual TLS).
    pub(crate) client_certificate: Option<PathBuf>,
    /// PEM private key of `client_certificate`.
    pub(crate) client_key: Option<PathBuf>,
}

/// A client identity: the chain and its key, parsed, and the PEM text tonic wants.
struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

/// TLS material read from [`TlsFiles`], ready for either transport.
pub(crate) struct ClientTls {
    /// The CA bundle given instead of the system's roots: parsed, and as PEM for tonic.
    custom_roots: Option<(Vec<CertificateDer<'static>>, Vec<u8>)>,
    identity: Option<ClientIdentity>,
}

impl ClientTls {
    /// Reads and checks the files. Each error names the file and what is wrong with it.
    pub(crate) fn load(files: &TlsFiles) -> Result<Self> {
        let custom_roots = match &files.certificate {
            Some(path) => {
                let pem = read(path, "CA certificate bundle")?;
                let certs = certificates(&pem, path)?;
                Some((certs, pem))
            }
            None => None,
        };
        let identity = match (&files.client_certificate, &files.client_key) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::BadSetting {
                    setting: "OTLP client certificate".into(),
                    reason: "mutual TLS needs both the client certificate and its key".into(),
                });
            }
            (Some(cert_path), Some(key_path)) => {
                let chain_pem = read(cert_path, "client certificate")?;
                let chain = certificates(&chain_pem, cert_path)?;
                let key_pem = read(key_path, "client key")?;
                let key =
                    PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| Error::BadSetting {
                        setting: format!("client key {}", key_path.display()),
                        reason: format!("no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
                    })?;
                Some(ClientIdentity {
                    chain,
                    key,
                    chain_pem,
                    key_pem,
                })
            }
        };
        Ok(Self {
            custom_roots,
            identity,
        })
    }

    /// The rustls configuration of the OTLP/HTTP client.
    pub(crate) fn rustls_config(&self) -> Result<ClientConfig> {
        let roots = match &self.custom_roots {
            Some((certs, _)) => {
                let mut roots = RootCertStore::empty();
                for cert in certs {
                    roots.add(cert.clone()).map_err(|e| Error::BadSetting {
                        setting: "OTLP CA certificate".into(),
                        reason: format!("a certificate of the bundle cannot be a trust root: {e}"),
                    })?;
                }
                Arc::new(roots)
            }
            None => system_roots().0.clone(),
        };
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(tls_error)?
                .with_root_certificates(roots);
        match &self.identity {
            Some(identity) => builder
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                .map_err(|e| Error::BadSetting {
                    setting: "OTLP client certificate".into(),
                    reason: format!("the certificate and key do not make an identity: {e}"),
                }),
            None => Ok(builder.with_no_client_auth()),
        }
    }

    /// tonic's TLS settings for the gRPC channel (used for `https` endpoints only).
    pub(crate) fn tonic_config(
        &self,
    ) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
        use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
        let config = match &self.custom_roots {
            Some((_, pem)) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
            // tonic loads the system's roots itself when there are any.
            None if system_roots().1 => ClientTlsConfig::new().with_native_roots(),
            None => ClientTlsConfig::new().with_webpki_roots(),
        };
        match &self.identity {
            Some(identity) => {
                config.identity(Identity::from_pem(&identity.chain_pem, &identity.key_pem))
            }
            None => config,
        }
    }
}

fn tls_error(error: rustls::Error) -> Error {
    Error::Exporter {
        what: format!("cannot set up TLS: {error}"),
        source: Some(error.into()),
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::BadSetting {
        setting: format!("{what} {}", path.display()),
        reason: format!("cannot read it: {e}"),
    })
}

fn certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::BadSetting {
            setting: format!("certificate file {}", path.display()),
            reason: format!("not valid PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(Error::BadSetting {
            setting: format!("certificate file {}", path.display()),
            reason: "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)".into(),
        });
    }
    Ok(certs)
}

/// The system's trust roots, loaded once per process, and whether they are the system's:
/// Mozilla's roots (webpki-roots) stand in when the system has none, so that export still
/// verifies servers on a minimal container image.
fn system_roots() -> &'static (Arc<RootCertStore>, bool) {
    static ROOTS: OnceLock<(Arc<RootCertStore>, bool)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let from_system = !roots.is_empty();
        if !from_system {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        (Arc::new(roots), from_system)
    })
}

/// What a failed export's message says about TLS, in words, with the setting that fixes it;
/// `None` when the failure is not a TLS one. Reads the text of rustls's errors, which both
/// transports pass on.
pub(crate) fn explain(message: &str) -> Option<&'static str> {
    const CAUSES: &[(&[&str], &str)] = &[
        (
            &["UnknownIssuer"],
            "the server's certificate is not signed by a CA this exporter trusts; give the CA \
             bundle that signed it (OTEL_EXPORTER_OTLP_CERTIFICATE, --otlp-certificate)",
        ),
        (
            &["certificate expired", "Expired"],
            "the server's certificate has expired",
        ),
        (
            &["NotValidYet", "not valid yet"],
            "the server's certificate is not valid yet (check the clocks)",
        ),
        (
            &["NotValidForName", "not valid for name"],
            "the server's certificate does not name the endpoint's host",
        ),
        (
            &[
                "CertificateRequired",
                "alert: BadCertificate",
                "alert: UnknownCA",
            ],
            "the server requires a client certificate it trusts (mutual TLS); give one \
             (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY, \
             --otlp-client-certificate and --otlp-client-key)",
        ),
        (
            &["peer closed connection without sending TLS close_notify"],
            "the server closed the TLS connection without saying why; servers that require a \
             client certificate (mutual TLS) do so when none, or one they do not trust, is given",
        ),
        (
            &["InvalidContentType", "CorruptMessage", "InvalidMessage"],
            "the endpoint does not answer in TLS; is it a plain http:// endpoint?",
        ),
        (
            &[
                "invalid peer certificate",
                "peer sent no certificates",
                "HandshakeFailure",
            ],
            "the TLS handshake failed",
        ),
    ];
    CAUSES
        .iter()
        .find(|(needles, _)| needles.iter().any(|needle| message.contains(needle)))
        .map(|(_, cause)| *cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_handshake_failure_is_named() {
        for (message, expected) in [
            (
                "client error (Connect): invalid peer certificate: UnknownIssuer",
                "not signed by a CA",
            ),
            (
                "invalid peer certificate: certificate expired: ...",
                "expired",
            ),
            (
                "received fatal alert: CertificateRequired",
                "client certificate",
            ),
            (
                "received corrupt message of type InvalidContentType",
                "plain http",
            ),
        ] {
            let cause = explain(message).unwrap_or_else(|| panic!("{message}"));
            assert!(cause.contains(expected), "{message}: {cause}");
        }
        assert_eq!(explain("Connection refused (os error 111)"), None);
    }

    #[test]
    fn a_missing_or_empty_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem").unwrap();
        let load = |certificate: &Path| {
            ClientTls::load(&TlsFiles {
                certificate: Some(certificate.to_path_buf()),
                ..Default::default()
            })
            .err()
            .unwrap()
            .to_string()
        };
        let missing = load(&dir.path().join("missing.pem"));
        assert!(
            missing.contains("missing.pem") && missing.contains("cannot read"),
            "{missing}"
        );
        let none = load(&empty);
        assert!(none.contains("holds no PEM certificate"), "{none}");
        let half = ClientTls::load(&TlsFiles {
            client_key: Some(empty),
            ..Default::default()
        });
        assert!(half.err().unwrap().to_string().contains("both"));
    }
}
