//! OTLP export to a collector or a hosted backend: the settings (endpoint, protocol, timeout,
//! headers, compression, TLS) given in code or read from the standard `OTEL_EXPORTER_OTLP_*`
//! variables with their per-signal forms, and the opentelemetry-otlp exporters built from them.
//!
//! Settings given in code win over the variables and are strict: a file that cannot be read is
//! an error. A variable that cannot be used is reported once and ignored, so an application's
//! start-up never fails on its environment. A failed export names its cause: the OTLP/HTTP
//! client keeps the transport error the exporter would reduce to "network error", and TLS
//! failures are explained in words ([`super::tls::explain`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{
    Compression, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::error::OTelSdkError;

use super::tls::{ClientTls, TlsFiles, explain};
use crate::error::{Error, Result};

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318). The spec's default.
    #[default]
    HttpProtobuf,
}

impl OtlpProtocol {
    /// Reads `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL`;
    /// `http/protobuf` when neither is set. A value this host does not speak is reported once
    /// and replaced by `http/protobuf`: an application's start-up never fails on it.
    pub fn from_env() -> Self {
        let Some((name, value)) = crate::env::exporter_var("TRACES", "PROTOCOL") else {
            return Self::HttpProtobuf;
        };
        Self::parse(&value).unwrap_or_else(|_| {
            crate::env::ignored(
                &name,
                &value,
                "`grpc` or `http/protobuf`",
                "exporting over http/protobuf",
            );
            Self::HttpProtobuf
        })
    }

    /// Parses a protocol name as the OTLP exporter spec spells it.
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim() {
            "" | "http/protobuf" => Ok(Self::HttpProtobuf),
            "grpc" => Ok(Self::Grpc),
            other => Err(Error::exporter(format!(
                "OTLP protocol `{other}` is not supported: use `grpc` or `http/protobuf`"
            ))),
        }
    }
}

/// How export requests are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// gzip, which every OTLP receiver accepts.
    Gzip,
}

/// Where and how to export over OTLP. Anything not set here is read from the standard
/// variables when the exporters are built (per signal: `OTEL_EXPORTER_OTLP_TRACES_*` before
/// `OTEL_EXPORTER_OTLP_*` for spans, `..._METRICS_*` for metrics):
///
/// | setting | variable | default |
/// |---|---|---|
/// | [`endpoint`](Self::with_endpoint) | `ENDPOINT` | `http://localhost:4318` (HTTP), `:4317` (gRPC) |
/// | [`timeout`](Self::with_timeout) | `TIMEOUT` (ms) | 10 s |
/// | [`headers`](Self::with_header) | `HEADERS` (`k=v,k2=v2`, URL-encoded values) | none |
/// | [`compression`](Self::with_compression) | `COMPRESSION` (`gzip`, `none`) | none |
/// | [`certificate`](Self::with_certificate) | `CERTIFICATE` (PEM CA bundle) | the system's roots |
/// | [`client identity`](Self::with_client_identity) | `CLIENT_CERTIFICATE`, `CLIENT_KEY` | none |
/// | [`insecure`](Self::with_insecure) | `INSECURE` (gRPC endpoints without a scheme) | `false` |
///
/// Headers given here are sent beside those of the variables; on the same name the variable's
/// value is sent. `https://` endpoints use TLS (rustls); `http://` ones do not.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OtlpExport {
    /// Transport.
    pub protocol: OtlpProtocol,
    /// Base endpoint (`https://collector:4318`; the signal paths are added for HTTP).
    pub endpoint: Option<String>,
    /// Longest one export may take.
    pub timeout: Option<Duration>,
    /// Extra request headers (gRPC metadata), such as a backend's API key.
    pub headers: Vec<(String, String)>,
    /// Compression of the requests.
    pub compression: Option<OtlpCompression>,
    /// PEM bundle of the certificate authorities to trust instead of the system's.
    pub certificate: Option<PathBuf>,
    /// PEM certificate chain presented to the server (mutual TLS).
    pub client_certificate: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// For a gRPC endpoint without a scheme: plaintext (`true`) or TLS (`false`).
    pub insecure: Option<bool>,
}

impl OtlpExport {
    /// Export over `protocol`; everything else from the standard variables.
    pub fn new(protocol: OtlpProtocol) -> Self {
        Self {
            protocol,
            ..Self::default()
        }
    }

    /// Export as the standard variables say, the protocol included ([`OtlpProtocol::from_env`]).
    pub fn from_env() -> Self {
        Self::new(OtlpProtocol::from_env())
    }

    /// The base endpoint, e.g. `https://otlp.example.com:4318`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The longest one export may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a request header (gRPC metadata), e.g. `("x-api-key", key)`.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Compresses the requests.
    pub fn with_compression(mut self, compression: OtlpCompression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Trusts only the certificate authorities of this PEM bundle (a self-signed or private
    /// CA), instead of the system's roots.
    pub fn with_certificate(mut self, ca_bundle: impl Into<PathBuf>) -> Self {
        self.certificate = Some(ca_bundle.into());
        self
    }

    /// Presents this certificate chain and key (both PEM) for mutual TLS.
    pub fn with_client_identity(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_certificate = Some(certificate.into());
        self.client_key = Some(key.into());
        self
    }

    /// For a gRPC endpoint given without a scheme (`collector:4317`): plaintext when `true`,
    /// TLS when `false` (the default).
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = Some(insecure);
        self
    }

    /// The TLS material for `signal`: the files given here, the rest from the variables. A file
    /// named by a variable that cannot be used is reported and left out.
    fn tls(&self, signal: Signal) -> Result<ClientTls> {
        let given = TlsFiles {
            certificate: self.certificate.clone(),
            client_certificate: self.client_certificate.clone(),
            client_key: self.client_key.clone(),
        };
        // Each file not given here comes from its variable, remembered for the warning below.
        let mut files = given.clone();
        let mut variables = Vec::new();
        for (file, setting) in [
            (&mut files.certificate, "CERTIFICATE"),
            (&mut files.client_certificate, "CLIENT_CERTIFICATE"),
            (&mut files.client_key, "CLIENT_KEY"),
        ] {
            if file.is_none()
                && let Some((name, value)) = crate::env::exporter_var(signal.name(), setting)
            {
                *file = Some(PathBuf::from(&value));
                variables.push((name, value));
            }
        }
        match ClientTls::load(&files) {
            Ok(tls) => Ok(tls),
            Err(error) if !variables.is_empty() => {
                for (name, value) in &variables {
                    crate::env::unusable(
                        name,
                        value,
                        &error.to_string(),
                        "exporting without the variables' certificates",
                    );
                }
                ClientTls::load(&given)
            }
            Err(error) => Err(error),
        }
    }
}

/// The signals agentrace exports, for their per-signal variables.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "v1/traces",
            Signal::Metrics => "v1/metrics",
            Signal::Logs => "v1/logs",
        }
    }
}

/// The cause of the last failed HTTP request, kept by [`DiagnosedClient`] for the export error.
#[derive(Debug, Clone, Default)]
pub(crate) struct FailureNote(Arc<Mutex<Option<String>>>);

impl FailureNote {
    fn record(&self, cause: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(cause);
    }

    fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The export error with its cause: the transport error this note kept, and what a TLS
    /// failure means.
    pub(crate) fn describe(&self, error: OTelSdkError) -> OTelSdkError {
        let mut message = match error {
            OTelSdkError::InternalFailure(message) => message,
            other => return other,
        };
        if let Some(cause) = self.take() {
            message = format!("{message}: {cause}");
        }
        if let Some(meaning) = explain(&message) {
            message = format!("{message} (TLS: {meaning})");
        }
        OTelSdkError::InternalFailure(message)
    }
}

/// The OTLP/HTTP exporter's client: reqwest on agentrace's TLS settings, keeping the full
/// cause of a failed request, which the exporter itself reports only as "network error".
#[derive(Debug)]
struct DiagnosedClient {
    inner: reqwest::Client,
    failures: FailureNote,
}

#[async_trait::async_trait]
impl HttpClient for DiagnosedClient {
    async fn send_bytes(
        &self,
        request: Request<Bytes>,
    ) -> std::result::Result<Response<Bytes>, HttpError> {
        let result = HttpClient::send_bytes(&self.inner, request).await;
        if let Err(error) = &result {
            let mut cause = error.to_string();
            let mut source = error.source();
            while let Some(next) = source {
                cause.push_str(": ");
                cause.push_str(&next.to_string());
                source = next.source();
            }
            self.failures.record(cause);
        }
        result
    }
}

fn build_failed(error: opentelemetry_otlp::ExporterBuildError) -> Error {
    Error::Exporter {
        what: format!("cannot build the OTLP exporter: {error}"),
        source: Some(error.into()),
    }
}

fn bad_header(name: &str, reason: String) -> Error {
    Error::BadSetting {
        setting: format!("OTLP header `{name}`"),
        reason,
    }
}

impl OtlpExport {
    /// The headers, checked: each name and value must be valid in HTTP.
    fn header_map(&self) -> Result<http::HeaderMap> {
        let mut map = http::HeaderMap::new();
        for (name, value) in &self.headers {
            let key = http::HeaderName::try_from(name.as_str())
                .map_err(|e| bad_header(name, e.to_string()))?;
            let value = http::HeaderValue::try_from(value.as_str())
                .map_err(|e| bad_header(name, format!("its value: {e}")))?;
            map.append(key, value);
        }
        Ok(map)
    }

    /// Applies the settings shared by both transports.
    fn common<B: WithExportConfig>(&self, mut builder: B, signal: Signal) -> B {
        match (self.protocol, &self.endpoint) {
            (OtlpProtocol::HttpProtobuf, Some(base)) => {
                let url = format!("{}/{}", base.trim_end_matches('/'), signal.http_path());
                builder = builder.with_endpoint(url);
            }
            (OtlpProtocol::Grpc, endpoint) => {
                // `insecure` given in code decides the scheme of an endpoint without one, the
                // variables' endpoint included.
                let endpoint = match self.insecure {
                    Some(_) => endpoint.clone().or_else(|| {
                        crate::env::exporter_var(signal.name(), "ENDPOINT").map(|(_, v)| v)
                    }),
                    None => endpoint.clone(),
                };
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(match self.insecure {
                        Some(insecure) if !endpoint.contains("://") => {
                            let scheme = if insecure { "http" } else { "https" };
                            format!("{scheme}://{endpoint}")
                        }
                        _ => endpoint,
                    });
                }
            }
            _ => {}
        }
        if let Some(timeout) = self.timeout {
            builder = builder.with_timeout(timeout);
        }
        builder
    }

    /// Configures an OTLP/HTTP exporter builder; returns the note its client keeps failures in.
    fn http<B: WithExportConfig + WithHttpConfig>(
        &self,
        builder: B,
        signal: Signal,
    ) -> Result<(B, FailureNote)> {
        crate::env::check_compression(signal.name());
        let tls = self.tls(signal)?;
        let timeout = self
            .timeout
            .unwrap_or_else(|| crate::env::export_timeout(signal.name()));
        let inner = reqwest::Client::builder()
            .use_preconfigured_tls(tls.rustls_config()?)
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Exporter {
                what: format!("cannot build the OTLP/HTTP client: {e}"),
                source: Some(e.into()),
            })?;
        let failures = FailureNote::default();
        let mut builder = self
            .common(builder, signal)
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(DiagnosedClient {
                inner,
                failures: failures.clone(),
            });
        if !self.headers.is_empty() {
            self.header_map()?; // checks every name and value; the exporter takes strings
            builder = builder.with_headers(self.headers.iter().cloned().collect::<HashMap<_, _>>());
        }
        if self.compression == Some(OtlpCompression::Gzip) {
            builder = builder.with_compression(Compression::Gzip);
        }
        Ok((builder, failures))
    }

    /// Configures an OTLP/gRPC exporter builder.
    fn grpc<B: WithExportConfig + WithTonicConfig>(&self, builder: B, signal: Signal) -> Result<B> {
        crate::env::check_compression(signal.name());
        let tls = self.tls(signal)?;
        let mut builder = self
            .common(builder, signal)
            .with_tls_config(tls.tonic_config());
        if !self.headers.is_empty() {
            builder = builder.with_metadata(MetadataMap::from_headers(self.header_map()?));
        }
        if self.compression == Some(OtlpCompression::Gzip) {
            builder = builder.with_compression(Compression::Gzip);
        }
        Ok(builder)
    }

    /// The span exporter, and the note its failures' causes are kept in.
    pub(crate) fn span_exporter(&self) -> Result<(opentelemetry_otlp::SpanExporter, FailureNote)> {
        let builder = opentelemetry_otlp::SpanExporter::builder();
        match self.protocol {
            OtlpProtocol::Grpc => Ok((
                self.grpc(builder.with_tonic(), Signal::Traces)?
                    .build()
                    .map_err(build_failed)?,
                FailureNote::default(),
            )),
            OtlpProtocol::HttpProtobuf => {
                let (builder, failures) = self.http(builder.with_http(), Signal::Traces)?;
                Ok((builder.build().map_err(build_failed)?, failures))
            }
        }
    }

    /// The metric exporter, and the note its failures' causes are kept in.
    pub(crate) fn metric_exporter(
        &self,
    ) -> Result<(opentelemetry_otlp::MetricExporter, FailureNote)> {
        let builder = opentelemetry_otlp::MetricExporter::builder();
        match self.protocol {
            OtlpProtocol::Grpc => Ok((
                self.grpc(builder.with_tonic(), Signal::Metrics)?
                    .build()
                    .map_err(build_failed)?,
                FailureNote::default(),
            )),
            OtlpProtocol::HttpProtobuf => {
                let (builder, failures) = self.http(builder.with_http(), Signal::Metrics)?;
                Ok((builder.build().map_err(build_failed)?, failures))
            }
        }
    }

    /// The log exporter (GenAI events on the logs signal), and the note its failures' causes are
    /// kept in.
    pub(crate) fn log_exporter(&self) -> Result<(opentelemetry_otlp::LogExporter, FailureNote)> {
        let builder = opentelemetry_otlp::LogExporter::builder();
        match self.protocol {
            OtlpProtocol::Grpc => Ok((
                self.grpc(builder.with_tonic(), Signal::Logs)?
                    .build()
                    .map_err(build_failed)?,
                FailureNote::default(),
            )),
            OtlpProtocol::HttpProtobuf => {
                let (builder, failures) = self.http(builder.with_http(), Signal::Logs)?;
                Ok((builder.build().map_err(build_failed)?, failures))
            }
        }
    }
}
