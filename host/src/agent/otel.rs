//! The host side of the draft standard `wasi:otel/tracing` (`wasi:otel@0.2.0-rc.2`, WIT under
//! `wit/deps/otel/`, unmodified): a component built against the standard hands the host each
//! OpenTelemetry span it ends, and agentrace treats it like a span received as OTLP: the
//! ingest component normalises GenAI spans among them (older conventions upgraded, content
//! obeying the capture setting), the policies apply, and the exporters send it under the
//! tracer's resource and the component's instrumentation scope.
//!
//! `on-start` and `on-end` keep a stack of the spans entered, for `current-span-context`
//! (the most recently entered span still open; the invalid all-zero context when none is).
//! Values arrive as the standard has them, OTel `AnyValue`s as JSON text; a span the host
//! cannot use (a malformed id) is refused and counted like a bad received span.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use serde_json::Value as Json;

use super::lifecycle::AgentSpans;
use crate::component::bindings::agent::otel_tracing::{
    self as wit, SpanContext, SpanData, SpanKind, TraceFlags,
};
use crate::component::bindings::agent::otel_types::{self, KeyValue as WitKeyValue};
use crate::error::Error;
use crate::otlp_in::ReceivedTraces;

/// The invalid span context: what `current-span-context` answers when no span is entered.
fn no_span() -> SpanContext {
    SpanContext {
        trace_id: "0".repeat(32),
        span_id: "0".repeat(16),
        trace_flags: TraceFlags::empty(),
        is_remote: false,
        trace_state: Vec::new(),
    }
}

/// A hex id as bytes; text that is not hex gives bytes the host then refuses as an id of the
/// wrong length.
fn id_bytes(hex: &str) -> Vec<u8> {
    if !hex.len().is_multiple_of(2) {
        return Vec::new();
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .unwrap_or_default()
}

/// A `wasi:clocks` datetime as Unix nanoseconds.
fn nanos(time: wasmtime_wasi::p2::bindings::sync::clocks::wall_clock::Datetime) -> u64 {
    time.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(time.nanoseconds))
}

/// An OTel `AnyValue` from its JSON encoding (the standard's `value`); text that is not JSON is
/// kept as a string.
fn any_value(json_text: &str) -> AnyValue {
    fn from_json(value: Json) -> any_value::Value {
        match value {
            Json::String(s) => any_value::Value::StringValue(s),
            Json::Bool(b) => any_value::Value::BoolValue(b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => any_value::Value::IntValue(i),
                None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::Array(items) => any_value::Value::ArrayValue(ArrayValue {
                values: items
                    .into_iter()
                    .map(|item| AnyValue {
                        value: Some(from_json(item)),
                    })
                    .collect(),
            }),
            Json::Object(members) => any_value::Value::KvlistValue(KeyValueList {
                values: members
                    .into_iter()
                    .map(|(key, value)| KeyValue {
                        key,
                        value: Some(AnyValue {
                            value: Some(from_json(value)),
                        }),
                        ..KeyValue::default()
                    })
                    .collect(),
            }),
            Json::Null => any_value::Value::StringValue(String::new()),
        }
    }
    let value = match serde_json::from_str(json_text) {
        Ok(json) => from_json(json),
        Err(_) => any_value::Value::StringValue(json_text.to_string()),
    };
    AnyValue { value: Some(value) }
}

fn key_values(attributes: Vec<WitKeyValue>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .map(|attribute| KeyValue {
            value: Some(any_value(&attribute.value)),
            key: attribute.key,
            ..KeyValue::default()
        })
        .collect()
}

fn trace_state(state: &[(String, String)]) -> String {
    state
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// OTLP's span flags: the W3C flags, and whether the parent is known to be remote.
fn flags(context: &SpanContext, parent_is_remote: bool) -> u32 {
    let sampled = u32::from(context.trace_flags.contains(TraceFlags::SAMPLED));
    // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, and SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK when remote.
    sampled | 0x100 | if parent_is_remote { 0x200 } else { 0 }
}

/// One ended span as an OTLP trace request of one span, under its instrumentation scope.
fn request_of(span: SpanData) -> ExportTraceServiceRequest {
    let kind = match span.span_kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
    };
    let status = match span.status {
        wit::Status::Unset => None,
        wit::Status::Ok => Some(Status {
            message: String::new(),
            code: status::StatusCode::Ok as i32,
        }),
        wit::Status::Error(message) => Some(Status {
            message,
            code: status::StatusCode::Error as i32,
        }),
    };
    let scope = span.instrumentation_scope;
    let proto = Span {
        trace_id: id_bytes(&span.span_context.trace_id),
        span_id: id_bytes(&span.span_context.span_id),
        trace_state: trace_state(&span.span_context.trace_state),
        parent_span_id: id_bytes(&span.parent_span_id),
        flags: flags(&span.span_context, span.span_context.is_remote),
        name: span.name,
        kind: kind as i32,
        start_time_unix_nano: nanos(span.start_time),
        end_time_unix_nano: nanos(span.end_time),
        attributes: key_values(span.attributes),
        dropped_attributes_count: span.dropped_attributes,
        events: span
            .events
            .into_iter()
            .map(|event| span::Event {
                time_unix_nano: nanos(event.time),
                name: event.name,
                attributes: key_values(event.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: span.dropped_events,
        links: span
            .links
            .into_iter()
            .map(|link| span::Link {
                trace_id: id_bytes(&link.span_context.trace_id),
                span_id: id_bytes(&link.span_context.span_id),
                trace_state: trace_state(&link.span_context.trace_state),
                flags: flags(&link.span_context, link.span_context.is_remote),
                attributes: key_values(link.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_links_count: span.dropped_links,
        status,
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: None,
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.name,
                    version: scope.version.unwrap_or_default(),
                    attributes: key_values(scope.attributes),
                    dropped_attributes_count: 0,
                }),
                spans: vec![proto],
                schema_url: scope.schema_url.unwrap_or_default(),
            }],
            schema_url: String::new(),
        }],
    }
}

impl otel_types::Host for AgentSpans {}

impl wit::Host for AgentSpans {
    fn on_start(&mut self, context: SpanContext) -> wasmtime::Result<()> {
        self.entered.push(context);
        Ok(())
    }

    fn on_end(&mut self, span: SpanData) -> wasmtime::Result<()> {
        let (trace, id) = (&span.span_context.trace_id, &span.span_context.span_id);
        if let Some(at) = self
            .entered
            .iter()
            .rposition(|entered| &entered.span_id == id && &entered.trace_id == trace)
        {
            self.entered.remove(at);
        }
        let traces = ReceivedTraces::from_request(request_of(span))
            .under_resource(self.tracer.resource().clone());
        match self.tracer.receive(traces) {
            // Refused spans (a malformed id) are counted by `receive`; a full queue too.
            Ok(()) | Err(Error::QueueFull) | Err(Error::ShutDown) => Ok(()),
            Err(error) => {
                self.tracer
                    .reject(format!("agent component: a wasi:otel span: {error}"));
                Ok(())
            }
        }
    }

    fn current_span_context(&mut self) -> wasmtime::Result<SpanContext> {
        Ok(self.entered.last().cloned().unwrap_or_else(no_span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::bindings::agent::otel_types::InstrumentationScope as WitScope;
    use wasmtime_wasi::p2::bindings::sync::clocks::wall_clock::Datetime;

    fn span(trace_id: &str, span_id: &str, attributes: Vec<WitKeyValue>) -> SpanData {
        let at = Datetime {
            seconds: 1_700_000_000,
            nanoseconds: 5,
        };
        SpanData {
            span_context: SpanContext {
                trace_id: trace_id.into(),
                span_id: span_id.into(),
                ..no_span()
            },
            parent_span_id: String::new(),
            span_kind: SpanKind::Client,
            name: "chat".into(),
            start_time: at,
            end_time: at,
            attributes,
            events: Vec::new(),
            links: Vec::new(),
            status: wit::Status::Error("boom".into()),
            instrumentation_scope: WitScope {
                name: "scope".into(),
                version: None,
                schema_url: None,
                attributes: Vec::new(),
            },
            dropped_attributes: 2,
            dropped_events: 0,
            dropped_links: 0,
        }
    }

    #[test]
    fn a_span_with_a_malformed_id_is_refused_and_counted() {
        let good = ReceivedTraces::from_request(request_of(span(
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            Vec::new(),
        )));
        assert_eq!((good.span_count(), good.refused()), (1, 0));
        for (trace, span_id) in [
            ("not hex", "00f067aa0ba902b7"),
            ("4bf92f3577b34da6a3ce929d0e0e4736", "00f0"),
            ("0".repeat(32).as_str(), "00f067aa0ba902b7"),
        ] {
            let bad = ReceivedTraces::from_request(request_of(span(trace, span_id, Vec::new())));
            assert_eq!(
                (bad.span_count(), bad.refused()),
                (0, 1),
                "{trace} {span_id}"
            );
        }
    }

    #[test]
    fn values_are_read_as_the_json_any_values_the_standard_sends() {
        let read = |json: &str| any_value(json).value.unwrap();
        assert_eq!(
            read(r#""text""#),
            any_value::Value::StringValue("text".into())
        );
        assert_eq!(read("3"), any_value::Value::IntValue(3));
        assert_eq!(read("0.5"), any_value::Value::DoubleValue(0.5));
        assert_eq!(read("true"), any_value::Value::BoolValue(true));
        assert!(
            matches!(read(r#"["a", 1]"#), any_value::Value::ArrayValue(a) if a.values.len() == 2)
        );
        assert!(
            matches!(read(r#"{"k": "v"}"#), any_value::Value::KvlistValue(l) if l.values.len() == 1)
        );
        // Not JSON: kept as the text it is.
        assert_eq!(
            read("not json"),
            any_value::Value::StringValue("not json".into())
        );
    }

    #[test]
    fn times_status_and_dropped_counts_are_kept() {
        let request = request_of(span(
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            vec![WitKeyValue {
                key: "k".into(),
                value: "1".into(),
            }],
        ));
        let proto = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(proto.start_time_unix_nano, 1_700_000_000_000_000_005);
        assert_eq!(proto.status.as_ref().unwrap().message, "boom");
        assert_eq!(proto.dropped_attributes_count, 2);
        assert_eq!(proto.kind, span::SpanKind::Client as i32);
    }
}
