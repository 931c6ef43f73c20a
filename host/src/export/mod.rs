//! Where mapped spans, metrics and log records (the mapper's events, `logs`) go: OTLP over gRPC or HTTP/protobuf, with TLS (`otlp`,
//! `tls`), OTLP/JSON lines to a file or stdout (the embedded default: needs nothing else
//! running), in-memory exporters for tests, or nowhere.
//!
//! Exports run inside the worker's own Tokio runtime; the runtime's reporting calls never wait
//! for them. An OTLP span export runs on that runtime's thread while the worker goes on
//! ([`SpanSink::export_in_background`]); the others run on the worker thread.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

mod logs;
mod otlp;
mod tls;

pub(crate) use logs::{LogEvent, LogRecords, LogSink};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::InMemoryLogExporter;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, Temporality};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use otlp::FailureNote;
pub use otlp::{OtlpCompression, OtlpExport, OtlpProtocol};

use crate::error::{Error, Result};

/// Where the pipeline sends what it maps.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ExportTarget {
    /// OTLP to a collector or backend; what the settings leave unset, the standard variables
    /// say.
    Otlp(OtlpExport),
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
        /// Receives the mapper's events on the logs signal.
        logs: InMemoryLogExporter,
    },
    /// Hands each exported batch of spans to the application's own OpenTelemetry pipeline (a
    /// language host forwarding to its SDK's processors and exporters). Metrics are not
    /// forwarded, and log records are counted as dropped (`logs_dropped`).
    Forward(Arc<dyn SpanForwarder>),
    /// Discard everything (still mapped and counted).
    None,
}

/// Receives agentrace's mapped, policy-checked spans instead of an exporter: how a language
/// host sends them through its application's own OpenTelemetry pipeline. Called on the
/// pipeline's worker thread, one batch at a time.
pub trait SpanForwarder: Send + Sync + std::fmt::Debug {
    /// Takes one batch. An error is counted as a failed export, and the batch as dropped.
    fn forward(&self, spans: Vec<SpanData>) -> std::result::Result<(), String>;
}

impl ExportTarget {
    /// The target the standard variables ask for: `OTEL_TRACES_EXPORTER=none|console|otlp`, or
    /// OTLP when an `OTEL_EXPORTER_OTLP_ENDPOINT` / `..._TRACES_ENDPOINT` is set; otherwise
    /// OTLP/JSON lines on stdout, which needs nothing else running. An exporter name this host
    /// does not know is reported once and treated as unset: an application's start-up never
    /// fails on it.
    pub fn from_env() -> Self {
        let otlp = || Self::Otlp(OtlpExport::from_env());
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

/// A span export under way on the export runtime's thread: its answer, with the spans to retry
/// with when it failed.
pub(crate) type BackgroundExport =
    tokio::task::JoinHandle<std::result::Result<(), (OTelSdkError, Vec<SpanData>)>>;

/// How export requests are written to a [`RequestWriter`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// OTLP/JSON, one request per line.
    JsonLines,
    /// OTLP/protobuf, each request length-delimited.
    Protobuf,
}

/// Writes each export as one `ExportTraceServiceRequest`, `ExportMetricsServiceRequest` or
/// `ExportLogsServiceRequest` to a file or stdout: OTLP/JSON lines, or length-delimited
/// OTLP/protobuf.
#[derive(Clone)]
pub(crate) struct RequestWriter {
    writer: SharedWriter,
    resource: Arc<ResourceAttributesWithSchema>,
    encoding: Encoding,
}

impl RequestWriter {
    /// Encodes `request` and then writes it whole: several workers share one writer, and only
    /// the write itself holds it.
    fn write(&self, request: &(impl serde::Serialize + prost::Message)) -> OTelSdkResult {
        let bytes = match self.encoding {
            Encoding::JsonLines => {
                let mut line = serde_json::to_vec(request)
                    .map_err(|e| OTelSdkError::InternalFailure(format!("encoding OTLP: {e}")))?;
                line.push(b'\n');
                line
            }
            Encoding::Protobuf => request.encode_length_delimited_to_vec(),
        };
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("output writer poisoned".into()))?;
        writer
            .write_all(&bytes)
            .and_then(|_| writer.flush())
            .map_err(|e| OTelSdkError::InternalFailure(format!("writing OTLP: {e}")))
    }
}

/// The span side of an [`ExportTarget`], with the resource it exports under: the tracer's own,
/// or for spans received from another producer, theirs ([`SpanSink::export`]).
pub(crate) struct SpanSink {
    kind: SpanSinkKind,
    /// The tracer's resource.
    own_resource: Resource,
    /// Whether the exporter was last given another resource than `own_resource`.
    foreign_resource_set: bool,
}

/// Where a [`SpanSink`] sends spans.
pub(crate) enum SpanSinkKind {
    /// Shared with the export under way, if any ([`SpanSink::export_in_background`]).
    Otlp(Arc<opentelemetry_otlp::SpanExporter>, FailureNote),
    Writer(RequestWriter),
    Memory(InMemorySpanExporter),
    Forward(Arc<dyn SpanForwarder>),
    None,
}

/// The metric side of an [`ExportTarget`].
pub(crate) enum MetricSink {
    Otlp(Box<opentelemetry_otlp::MetricExporter>, FailureNote),
    Writer(RequestWriter),
    Memory(InMemoryMetricExporter),
    None,
}

/// The three sinks of one [`ExportTarget`].
pub(crate) struct Sinks {
    pub(crate) spans: SpanSink,
    pub(crate) metrics: MetricSink,
    pub(crate) logs: LogSink,
}

/// Builds the sinks. Must run inside the worker's Tokio runtime (the gRPC channels bind to it).
/// `OTEL_LOGS_EXPORTER=none` discards the log records of an OTLP or console target.
pub(crate) fn build_sinks(target: &ExportTarget, resource: &Resource) -> Result<Sinks> {
    let writer = |writer: Box<dyn Write + Send>, encoding: Encoding| {
        let requests = RequestWriter {
            writer: Arc::new(Mutex::new(writer)),
            resource: Arc::new(ResourceAttributesWithSchema::from(resource)),
            encoding,
        };
        Sinks {
            spans: SpanSink::new(SpanSinkKind::Writer(requests.clone()), resource),
            metrics: MetricSink::Writer(requests.clone()),
            logs: LogSink::Writer(requests),
        }
    };
    let create = |path: &PathBuf| {
        File::create(path)
            .map(BufWriter::new)
            .map_err(|e| Error::Exporter {
                what: format!("cannot create {}: {e}", path.display()),
                source: Some(e.into()),
            })
    };
    let mut sinks = match target {
        ExportTarget::Otlp(settings) => {
            let (mut spans, span_failures) = settings.span_exporter()?;
            let (metrics, metric_failures) = settings.metric_exporter()?;
            let (logs, log_failures) = settings.log_exporter()?;
            spans.set_resource(resource);
            Sinks {
                spans: SpanSink::new(SpanSinkKind::Otlp(Arc::new(spans), span_failures), resource),
                metrics: MetricSink::Otlp(Box::new(metrics), metric_failures),
                logs: LogSink::Otlp(Box::new(logs), log_failures),
            }
        }
        ExportTarget::JsonFile(path) => writer(Box::new(create(path)?), Encoding::JsonLines),
        ExportTarget::ProtobufFile(path) => writer(Box::new(create(path)?), Encoding::Protobuf),
        ExportTarget::Stdout => writer(Box::new(std::io::stdout()), Encoding::JsonLines),
        ExportTarget::InMemory {
            spans,
            metrics,
            logs,
        } => {
            let mut spans = spans.clone();
            spans.set_resource(resource);
            Sinks {
                spans: SpanSink::new(SpanSinkKind::Memory(spans), resource),
                metrics: MetricSink::Memory(metrics.clone()),
                logs: LogSink::Memory(logs.clone()),
            }
        }
        ExportTarget::Forward(forwarder) => Sinks {
            spans: SpanSink::new(SpanSinkKind::Forward(forwarder.clone()), resource),
            metrics: MetricSink::None,
            logs: LogSink::Refused(
                "the application's own OpenTelemetry pipeline receives spans only; \
                 events on the logs signal are not forwarded",
            ),
        },
        ExportTarget::None => Sinks {
            spans: SpanSink::new(SpanSinkKind::None, resource),
            metrics: MetricSink::None,
            logs: LogSink::None,
        },
    };
    if matches!(target, ExportTarget::Otlp(_) | ExportTarget::Stdout)
        && crate::env::var("OTEL_LOGS_EXPORTER").is_some_and(|v| v == "none")
    {
        sinks.logs = LogSink::None;
    }
    sinks.logs.set_resource(resource);
    Ok(sinks)
}

impl Sinks {
    /// The sinks of another worker for the same `target`, built inside that worker's runtime.
    /// Files and stdout are shared (one writer takes whole requests in turn); receivers get a
    /// connection per worker. Metrics are exported by the first worker alone, so another has
    /// none.
    pub(crate) fn for_another_worker(
        &self,
        target: &ExportTarget,
        resource: &Resource,
    ) -> Result<Sinks> {
        let mut sinks = match (&self.spans.kind, &self.logs) {
            (SpanSinkKind::Writer(requests), logs) => Sinks {
                spans: SpanSink::new(SpanSinkKind::Writer(requests.clone()), resource),
                metrics: MetricSink::None,
                logs: match logs {
                    LogSink::Writer(requests) => LogSink::Writer(requests.clone()),
                    _ => LogSink::None,
                },
            },
            _ => build_sinks(target, resource)?,
        };
        sinks.metrics = MetricSink::None;
        Ok(sinks)
    }
}

impl SpanSink {
    fn new(kind: SpanSinkKind, own_resource: &Resource) -> Self {
        Self {
            kind,
            own_resource: own_resource.clone(),
            foreign_resource_set: false,
        }
    }

    /// Exports `spans` under `resource`: the sender's, for spans received as OTLP, or the
    /// tracer's own with `None`. An application's own pipeline (`Forward`) applies its own
    /// resource whatever this says.
    pub(crate) async fn export(
        &mut self,
        resource: Option<&Resource>,
        spans: Vec<SpanData>,
    ) -> OTelSdkResult {
        self.use_resource(resource);
        match &self.kind {
            SpanSinkKind::Otlp(exporter, failures) => exporter
                .export(spans)
                .await
                .map_err(|e| failures.describe(e)),
            SpanSinkKind::Memory(exporter) => exporter.export(spans).await,
            SpanSinkKind::Writer(requests) => {
                let resource_spans = match resource {
                    Some(resource) => group_spans_by_resource_and_scope(
                        spans,
                        &ResourceAttributesWithSchema::from(resource),
                    ),
                    None => group_spans_by_resource_and_scope(spans, &requests.resource),
                };
                requests.write(&ExportTraceServiceRequest { resource_spans })
            }
            SpanSinkKind::Forward(forwarder) => forwarder
                .forward(spans)
                .map_err(|e| OTelSdkError::InternalFailure(format!("forwarding: {e}"))),
            SpanSinkKind::None => Ok(()),
        }
    }

    /// Starts exporting `spans` under `resource` (as [`SpanSink::export`] does) on the
    /// runtime's own thread, where the answer waits in the returned task: OTLP only, whose
    /// encoding and round trip to the receiver would otherwise keep the worker waiting. A
    /// failed export answers with a copy of the spans (made on that thread) to retry with.
    /// Other sinks give the spans back, as does an OTLP exporter that an export under way
    /// still holds: only one runs at a time.
    pub(crate) fn export_in_background(
        &mut self,
        runtime: &tokio::runtime::Handle,
        resource: Option<&Resource>,
        spans: Vec<SpanData>,
    ) -> std::result::Result<BackgroundExport, Vec<SpanData>> {
        let busy = match &mut self.kind {
            SpanSinkKind::Otlp(exporter, _) => Arc::get_mut(exporter).is_none(),
            _ => return Err(spans),
        };
        if busy {
            return Err(spans);
        }
        self.use_resource(resource);
        let SpanSinkKind::Otlp(exporter, failures) = &self.kind else {
            return Err(spans);
        };
        let (exporter, failures) = (exporter.clone(), failures.clone());
        Ok(runtime.spawn(async move {
            let copy = spans.clone();
            exporter
                .export(spans)
                .await
                .map_err(|e| (failures.describe(e), copy))
        }))
    }

    /// Gives the exporter `resource` (or the tracer's own again) when it differs from the last.
    /// An OTLP exporter that an export under way still holds keeps its resource: only
    /// [`SpanSink::export_in_background`] shares it, and it checks first.
    fn use_resource(&mut self, resource: Option<&Resource>) {
        let resource = match resource {
            Some(resource) => {
                self.foreign_resource_set = true;
                resource
            }
            None if self.foreign_resource_set => {
                self.foreign_resource_set = false;
                &self.own_resource
            }
            None => return,
        };
        match &mut self.kind {
            SpanSinkKind::Otlp(exporter, _) => {
                if let Some(exporter) = Arc::get_mut(exporter) {
                    exporter.set_resource(resource);
                }
            }
            SpanSinkKind::Memory(exporter) => exporter.set_resource(resource),
            _ => {}
        }
    }

    pub(crate) fn shutdown(&mut self) -> OTelSdkResult {
        match &mut self.kind {
            SpanSinkKind::Otlp(exporter, _) => exporter.shutdown(),
            _ => Ok(()),
        }
    }

    /// Whether an export may fail and succeed later (a receiver that is down or slow), so that
    /// failed batches are worth keeping for retry.
    pub(crate) fn can_fail_transiently(&self) -> bool {
        matches!(self.kind, SpanSinkKind::Otlp(..))
    }
}

impl MetricSink {
    pub(crate) fn temporality(&self) -> Temporality {
        match self {
            MetricSink::Otlp(exporter, _) => exporter.temporality(),
            MetricSink::Memory(exporter) => exporter.temporality(),
            _ => Temporality::Cumulative,
        }
    }

    pub(crate) async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match self {
            MetricSink::Otlp(exporter, failures) => exporter
                .export(metrics)
                .await
                .map_err(|e| failures.describe(e)),
            MetricSink::Memory(exporter) => exporter.export(metrics).await,
            MetricSink::Writer(requests) => {
                requests.write(&ExportMetricsServiceRequest::from(metrics))
            }
            MetricSink::None => Ok(()),
        }
    }

    pub(crate) fn shutdown(&self) -> OTelSdkResult {
        match self {
            MetricSink::Otlp(exporter, _) => exporter.shutdown(),
            _ => Ok(()),
        }
    }
}
