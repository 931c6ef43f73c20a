//! Where mapped spans and metrics go: OTLP over gRPC or HTTP/protobuf (opentelemetry-otlp,
//! configured by the standard `OTEL_EXPORTER_OTLP_*` variables), OTLP/JSON lines to a file or
//! stdout (the embedded default: needs nothing else running), in-memory exporters for tests, or
//! nowhere.
//!
//! Exports run on the pipeline's worker thread inside its own Tokio runtime; the runtime's
//! reporting calls never wait for them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, Temporality};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};

use crate::error::{Error, Result};

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318). The spec's default.
    HttpProtobuf,
}

impl OtlpProtocol {
    /// Reads `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL`;
    /// `http/protobuf` when neither is set. A value this host does not speak is reported once
    /// and replaced by `http/protobuf`: an application's start-up never fails on it.
    pub fn from_env() -> Self {
        let (name, value) = match crate::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            Some(value) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", value),
            None => match crate::env::var("OTEL_EXPORTER_OTLP_PROTOCOL") {
                Some(value) => ("OTEL_EXPORTER_OTLP_PROTOCOL", value),
                None => return Self::HttpProtobuf,
            },
        };
        Self::parse(&value).unwrap_or_else(|_| {
            crate::env::ignored(
                name,
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

/// Where the pipeline sends what it maps.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ExportTarget {
    /// OTLP to a collector. `endpoint` overrides `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL such
    /// as `http://localhost:4318`; the signal paths are added for HTTP).
    Otlp {
        /// Transport.
        protocol: OtlpProtocol,
        /// Base endpoint; `None` reads the standard variables.
        endpoint: Option<String>,
        /// Longest one export may take; `None` reads `OTEL_EXPORTER_OTLP_TIMEOUT` (10 s).
        timeout: Option<std::time::Duration>,
    },
    /// OTLP/JSON, one export request per line, to a file.
    JsonFile(PathBuf),
    /// OTLP/JSON lines to standard output.
    Stdout,
    /// OTLP/protobuf to a file: each export request (`ExportTraceServiceRequest`, or
    /// `ExportMetricsServiceRequest`) length-delimited as protobuf's `writeDelimitedTo` does.
    /// The bytes an OTLP exporter would send; with `/dev/null` it measures the full pipeline
    /// including encoding, without a network.
    ProtobufFile(PathBuf),
    /// In-memory exporters, for tests.
    InMemory {
        /// Receives spans.
        spans: InMemorySpanExporter,
        /// Receives metrics.
        metrics: InMemoryMetricExporter,
    },
    /// Discard everything (still mapped and counted).
    None,
}

impl ExportTarget {
    /// The target the standard variables ask for: `OTEL_TRACES_EXPORTER=none|console|otlp`, or
    /// OTLP when an `OTEL_EXPORTER_OTLP_ENDPOINT` / `..._TRACES_ENDPOINT` is set; otherwise
    /// OTLP/JSON lines on stdout, which needs nothing else running. An exporter name this host
    /// does not know is reported once and treated as unset: an application's start-up never
    /// fails on it.
    pub fn from_env() -> Self {
        let otlp = || Self::Otlp {
            protocol: OtlpProtocol::from_env(),
            endpoint: None,
            timeout: None,
        };
        if let Some(exporter) = crate::env::var("OTEL_TRACES_EXPORTER") {
            match exporter.as_str() {
                "none" => return Self::None,
                "console" => return Self::Stdout,
                "otlp" => return otlp(),
                other => crate::env::ignored(
                    "OTEL_TRACES_EXPORTER",
                    other,
                    "`otlp`, `console` or `none`",
                    "choosing the exporter as if it were unset",
                ),
            }
        }
        let endpoint_set = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()));
        if endpoint_set { otlp() } else { Self::Stdout }
    }
}

type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// How export requests are written to a [`RequestWriter`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// OTLP/JSON, one request per line.
    JsonLines,
    /// OTLP/protobuf, each request length-delimited.
    Protobuf,
}

/// Writes each export as one `ExportTraceServiceRequest` or `ExportMetricsServiceRequest` to a
/// file or stdout: OTLP/JSON lines, or length-delimited OTLP/protobuf.
#[derive(Clone)]
pub(crate) struct RequestWriter {
    writer: SharedWriter,
    resource: Arc<ResourceAttributesWithSchema>,
    encoding: Encoding,
}

impl RequestWriter {
    fn write(&self, request: &(impl serde::Serialize + prost::Message)) -> OTelSdkResult {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("output writer poisoned".into()))?;
        let written = match self.encoding {
            Encoding::JsonLines => serde_json::to_writer(&mut *writer, request)
                .map_err(std::io::Error::from)
                .and_then(|_| writer.write_all(b"\n")),
            Encoding::Protobuf => writer.write_all(&request.encode_length_delimited_to_vec()),
        };
        written
            .and_then(|_| writer.flush())
            .map_err(|e| OTelSdkError::InternalFailure(format!("writing OTLP: {e}")))
    }
}

/// The span side of an [`ExportTarget`].
pub(crate) enum SpanSink {
    Otlp(Box<opentelemetry_otlp::SpanExporter>),
    Writer(RequestWriter),
    Memory(InMemorySpanExporter),
    None,
}

/// The metric side of an [`ExportTarget`].
pub(crate) enum MetricSink {
    Otlp(Box<opentelemetry_otlp::MetricExporter>),
    Writer(RequestWriter),
    Memory(InMemoryMetricExporter),
    None,
}

fn signal_endpoint(base: &str, protocol: OtlpProtocol, path: &str) -> String {
    match protocol {
        OtlpProtocol::Grpc => base.to_string(),
        OtlpProtocol::HttpProtobuf => format!("{}/{path}", base.trim_end_matches('/')),
    }
}

/// Builds both sinks. Must run inside the worker's Tokio runtime (the gRPC channel binds to it).
pub(crate) fn build_sinks(
    target: &ExportTarget,
    resource: &Resource,
) -> Result<(SpanSink, MetricSink)> {
    let writer = |writer: Box<dyn Write + Send>, encoding: Encoding| {
        let requests = RequestWriter {
            writer: Arc::new(Mutex::new(writer)),
            resource: Arc::new(ResourceAttributesWithSchema::from(resource)),
            encoding,
        };
        (
            SpanSink::Writer(requests.clone()),
            MetricSink::Writer(requests),
        )
    };
    let create = |path: &PathBuf| {
        File::create(path)
            .map(BufWriter::new)
            .map_err(|e| Error::Exporter {
                what: format!("cannot create {}: {e}", path.display()),
                source: Some(e.into()),
            })
    };
    Ok(match target {
        ExportTarget::Otlp {
            protocol,
            endpoint,
            timeout,
        } => {
            let fail = |e: opentelemetry_otlp::ExporterBuildError| Error::Exporter {
                what: format!("cannot build the OTLP exporter: {e}"),
                source: Some(e.into()),
            };
            let (mut spans, metrics) = match protocol {
                OtlpProtocol::Grpc => {
                    let mut s = opentelemetry_otlp::SpanExporter::builder().with_tonic();
                    let mut m = opentelemetry_otlp::MetricExporter::builder().with_tonic();
                    if let Some(base) = endpoint {
                        s = s.with_endpoint(base.clone());
                        m = m.with_endpoint(base.clone());
                    }
                    if let Some(timeout) = timeout {
                        s = s.with_timeout(*timeout);
                        m = m.with_timeout(*timeout);
                    }
                    (s.build().map_err(fail)?, m.build().map_err(fail)?)
                }
                OtlpProtocol::HttpProtobuf => {
                    let mut s = opentelemetry_otlp::SpanExporter::builder()
                        .with_http()
                        .with_protocol(Protocol::HttpBinary);
                    let mut m = opentelemetry_otlp::MetricExporter::builder()
                        .with_http()
                        .with_protocol(Protocol::HttpBinary);
                    if let Some(base) = endpoint {
                        s = s.with_endpoint(signal_endpoint(base, *protocol, "v1/traces"));
                        m = m.with_endpoint(signal_endpoint(base, *protocol, "v1/metrics"));
                    }
                    if let Some(timeout) = timeout {
                        s = s.with_timeout(*timeout);
                        m = m.with_timeout(*timeout);
                    }
                    (s.build().map_err(fail)?, m.build().map_err(fail)?)
                }
            };
            spans.set_resource(resource);
            (
                SpanSink::Otlp(Box::new(spans)),
                MetricSink::Otlp(Box::new(metrics)),
            )
        }
        ExportTarget::JsonFile(path) => writer(Box::new(create(path)?), Encoding::JsonLines),
        ExportTarget::ProtobufFile(path) => writer(Box::new(create(path)?), Encoding::Protobuf),
        ExportTarget::Stdout => writer(Box::new(std::io::stdout()), Encoding::JsonLines),
        ExportTarget::InMemory { spans, metrics } => {
            let mut spans = spans.clone();
            spans.set_resource(resource);
            (SpanSink::Memory(spans), MetricSink::Memory(metrics.clone()))
        }
        ExportTarget::None => (SpanSink::None, MetricSink::None),
    })
}

impl SpanSink {
    pub(crate) async fn export(&self, spans: Vec<SpanData>) -> OTelSdkResult {
        match self {
            SpanSink::Otlp(exporter) => exporter.export(spans).await,
            SpanSink::Memory(exporter) => exporter.export(spans).await,
            SpanSink::Writer(requests) => requests.write(&ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(spans, &requests.resource),
            }),
            SpanSink::None => Ok(()),
        }
    }

    pub(crate) fn shutdown(&mut self) -> OTelSdkResult {
        match self {
            SpanSink::Otlp(exporter) => exporter.shutdown(),
            _ => Ok(()),
        }
    }

    /// Whether an export may fail and succeed later (a receiver that is down or slow), so that
    /// failed batches are worth keeping for retry.
    pub(crate) fn can_fail_transiently(&self) -> bool {
        matches!(self, SpanSink::Otlp(_))
    }
}

impl MetricSink {
    pub(crate) fn temporality(&self) -> Temporality {
        match self {
            MetricSink::Otlp(exporter) => exporter.temporality(),
            MetricSink::Memory(exporter) => exporter.temporality(),
            _ => Temporality::Cumulative,
        }
    }

    pub(crate) async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match self {
            MetricSink::Otlp(exporter) => exporter.export(metrics).await,
            MetricSink::Memory(exporter) => exporter.export(metrics).await,
            MetricSink::Writer(requests) => {
                requests.write(&ExportMetricsServiceRequest::from(metrics))
            }
            MetricSink::None => Ok(()),
        }
    }

    pub(crate) fn shutdown(&self) -> OTelSdkResult {
        match self {
            MetricSink::Otlp(exporter) => exporter.shutdown(),
            _ => Ok(()),
        }
    }
}
