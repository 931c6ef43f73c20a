//! The logs side of an export target: the events a mapper emits on the OpenTelemetry logs
//! signal (GenAI's `gen_ai.client.inference.operation.details`, `gen_ai.evaluation.result`,
//! `gen_ai.client.operation.exception`), as OTLP log records with their event name, severity,
//! timestamp, attributes and the trace context of the span they belong to.
//!
//! The SDK's log record takes its event name as `&'static str`; event names are few by
//! convention, so each distinct name is leaked once ([`EventNames`]), up to a bound past which
//! records keep a generic name and the real one in an attribute.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{
    InMemoryLogExporter, LogBatch, LogExporter, SdkLogRecord, SdkLogger, SdkLoggerProvider,
};

use super::RequestWriter;
use super::otlp::FailureNote;

/// One event for the logs signal, as the worker takes it off a mapped span.
#[derive(Debug, Clone)]
pub(crate) struct LogEvent {
    /// The trace of the span it belongs to.
    pub(crate) trace_id: TraceId,
    /// The span it belongs to.
    pub(crate) span_id: SpanId,
    /// Whether that span's trace is sampled.
    pub(crate) flags: TraceFlags,
    /// When it happened.
    pub(crate) time: SystemTime,
    /// The event name.
    pub(crate) name: String,
    /// OTLP severity number, 0 for unspecified.
    pub(crate) severity: u8,
    /// Its attributes.
    pub(crate) attributes: Vec<KeyValue>,
}

/// Where log records go.
pub(crate) enum LogSink {
    Otlp(Box<opentelemetry_otlp::LogExporter>, FailureNote),
    Writer(RequestWriter),
    Memory(InMemoryLogExporter),
    /// The target takes no logs (an application's own span pipeline): records are counted as
    /// dropped, with this reason.
    Refused(&'static str),
    /// Discarded on purpose (`OTEL_LOGS_EXPORTER=none`, or export target `None`).
    None,
}

/// More distinct event names than this keep the generic name [`OVERFLOW_NAME`].
const MAX_EVENT_NAMES: usize = 256;
/// The event name of records past [`MAX_EVENT_NAMES`]; the real one is in `event.name`.
const OVERFLOW_NAME: &str = "agentrace.event";

/// The distinct event names seen, each leaked once for the SDK's `&'static str`.
#[derive(Default)]
struct EventNames(Mutex<HashSet<&'static str>>);

impl EventNames {
    /// The name as `&'static str`, or `None` when the bound is reached.
    fn intern(&self, name: &str) -> Option<&'static str> {
        let mut names = self.0.lock().ok()?;
        if let Some(known) = names.get(name) {
            return Some(known);
        }
        if names.len() >= MAX_EVENT_NAMES {
            return None;
        }
        let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
        names.insert(leaked);
        Some(leaked)
    }
}

/// Makes SDK log records (whose constructor is the logger's) and owns the event names.
pub(crate) struct LogRecords {
    logger: SdkLogger,
    /// Keeps the logger's provider alive; it has no processor, so nothing is emitted through it.
    _provider: SdkLoggerProvider,
    names: EventNames,
}

impl LogRecords {
    pub(crate) fn new() -> Self {
        let provider = SdkLoggerProvider::builder().build();
        Self {
            logger: provider.logger("agentrace"),
            _provider: provider,
            names: EventNames::default(),
        }
    }

    /// The SDK record of `event`.
    fn record(&self, event: LogEvent) -> SdkLogRecord {
        let mut record = self.logger.create_log_record();
        match self.names.intern(&event.name) {
            Some(name) => record.set_event_name(name),
            None => {
                record.set_event_name(OVERFLOW_NAME);
                record.add_attribute("event.name", event.name);
            }
        }
        record.set_timestamp(event.time);
        record.set_observed_timestamp(SystemTime::now());
        if let Some(severity) = severity(event.severity) {
            record.set_severity_number(severity);
        }
        record.set_trace_context(event.trace_id, event.span_id, Some(event.flags));
        record.add_attributes(
            event
                .attributes
                .into_iter()
                .map(|kv| (kv.key, any_value(kv.value))),
        );
        record
    }
}

/// OTLP's severity numbers 1-24; anything else is unspecified.
fn severity(number: u8) -> Option<Severity> {
    use Severity::*;
    const ALL: [Severity; 24] = [
        Trace, Trace2, Trace3, Trace4, Debug, Debug2, Debug3, Debug4, Info, Info2, Info3, Info4,
        Warn, Warn2, Warn3, Warn4, Error, Error2, Error3, Error4, Fatal, Fatal2, Fatal3, Fatal4,
    ];
    ALL.get(usize::from(number).checked_sub(1)?).copied()
}

/// An attribute value in the log data model's form.
fn any_value(value: opentelemetry::Value) -> opentelemetry::logs::AnyValue {
    use opentelemetry::logs::AnyValue;
    use opentelemetry::{Array, Value};
    let list = |items: Vec<AnyValue>| AnyValue::ListAny(Box::new(items));
    match value {
        Value::Bool(b) => AnyValue::Boolean(b),
        Value::I64(i) => AnyValue::Int(i),
        Value::F64(f) => AnyValue::Double(f),
        Value::String(s) => AnyValue::String(s),
        Value::Array(Array::Bool(v)) => list(v.into_iter().map(AnyValue::Boolean).collect()),
        Value::Array(Array::I64(v)) => list(v.into_iter().map(AnyValue::Int).collect()),
        Value::Array(Array::F64(v)) => list(v.into_iter().map(AnyValue::Double).collect()),
        Value::Array(Array::String(v)) => list(v.into_iter().map(AnyValue::String).collect()),
        other => AnyValue::String(other.to_string().into()),
    }
}

impl LogSink {
    /// Sets the resource of exporters that keep their own.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        match self {
            LogSink::Otlp(exporter, _) => exporter.set_resource(resource),
            LogSink::Memory(exporter) => exporter.set_resource(resource),
            _ => {}
        }
    }

    /// Exports records, each under its scope, in one request. `Ok(n)` is the number exported;
    /// an error says why none were.
    pub(crate) async fn export(
        &self,
        records: &LogRecords,
        groups: Vec<(Arc<InstrumentationScope>, Vec<LogEvent>)>,
    ) -> Result<usize, OTelSdkError> {
        let count = groups.iter().map(|(_, events)| events.len()).sum();
        if count == 0 {
            return Ok(0);
        }
        if let LogSink::Refused(why) = self {
            return Err(OTelSdkError::InternalFailure((*why).to_string()));
        }
        if matches!(self, LogSink::None) {
            return Ok(count);
        }
        let owned: Vec<(SdkLogRecord, Arc<InstrumentationScope>)> = groups
            .into_iter()
            .flat_map(|(scope, events)| {
                events
                    .into_iter()
                    .map(move |event| (records.record(event), scope.clone()))
            })
            .collect();
        let pairs: Vec<(&SdkLogRecord, &InstrumentationScope)> = owned
            .iter()
            .map(|(record, scope)| (record, &**scope))
            .collect();
        let batch = LogBatch::new(&pairs);
        let exported: OTelSdkResult = match self {
            LogSink::Otlp(exporter, failures) => exporter
                .export(batch)
                .await
                .map_err(|e| failures.describe(e)),
            LogSink::Memory(exporter) => exporter.export(batch).await,
            LogSink::Writer(requests) => requests.write(&ExportLogsServiceRequest {
                resource_logs: group_logs_by_resource_and_scope(&batch, &requests.resource),
            }),
            LogSink::Refused(_) | LogSink::None => Ok(()),
        };
        exported.map(|()| count)
    }

    pub(crate) fn shutdown(&self) -> OTelSdkResult {
        match self {
            LogSink::Otlp(exporter, _) => exporter.shutdown(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_map_to_the_sdk_levels() {
        assert_eq!(severity(0), None);
        assert_eq!(severity(13), Some(Severity::Warn));
        assert_eq!(severity(24), Some(Severity::Fatal4));
        assert_eq!(severity(25), None);
    }

    #[test]
    fn event_names_are_interned_up_to_the_bound() {
        let names = EventNames::default();
        let first = names.intern("gen_ai.evaluation.result").unwrap();
        let again = names.intern("gen_ai.evaluation.result").unwrap();
        assert!(std::ptr::eq(first, again), "one leak per distinct name");
        for i in 1..MAX_EVENT_NAMES {
            assert!(names.intern(&format!("name.{i}")).is_some());
        }
        assert_eq!(names.intern("one.too.many"), None);
        assert!(names.intern("gen_ai.evaluation.result").is_some());
    }
}
