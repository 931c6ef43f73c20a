//! OTLP traces from other producers (issue 15): a framework's own OpenTelemetry export, received
//! by the sidecar (`POST /v1/traces`) or read from an OTLP/JSON file (`replay`), decoded here
//! into the form the pipeline's policies take, with each span's resource and scope kept beside
//! it so that they survive to the export.
//!
//! What OTLP can say and the WIT `otel-span` cannot is kept on the side ([`Extras`]: trace
//! state and flags, the sender's dropped counts) or said another way: structured attribute
//! values (maps, bytes, mixed arrays) become their OTLP/JSON text as a `json` value, counted in
//! [`ReceivedTraces::values_as_json`]. A span that cannot be exported (an id of the wrong
//! length or all zero) is refused with its reason; the others of the request go through.

use std::sync::Arc;

use opentelemetry::trace::{TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, span::SpanKind, status};
use opentelemetry_sdk::Resource;
use prost::Message as _;

use crate::component::bindings::types as wit;
use crate::error::{Error, Result};
use crate::ids::TraceId;
use crate::span_limits::Dropped;

/// OTLP traces received from another producer, decoded and checked: what
/// [`crate::Tracer::receive`] takes. Spans that could not be used were refused while decoding
/// ([`ReceivedTraces::refused`]); the rest keep their resource, scope, ids, parents, links and
/// times.
#[derive(Debug)]
pub struct ReceivedTraces {
    pub(crate) resources: Vec<ReceivedResource>,
    refused: u64,
    first_refusal: Option<String>,
    values_as_json: u64,
}

/// The spans of one incoming resource.
#[derive(Debug)]
pub(crate) struct ReceivedResource {
    /// The sender's resource (attributes, schema URL), exported unchanged.
    pub(crate) resource: Resource,
    /// Its spans, in the order received.
    pub(crate) spans: Vec<ReceivedSpan>,
}

/// One incoming span in the form the policies take, with what that form cannot hold.
#[derive(Debug)]
pub(crate) struct ReceivedSpan {
    /// The span as the policies see it.
    pub(crate) span: wit::OtelSpan,
    /// Its instrumentation scope (shared by the spans of one scope).
    pub(crate) scope: Arc<InstrumentationScope>,
    /// What the WIT span cannot carry.
    pub(crate) extras: Extras,
}

/// What an OTLP span says that the WIT `otel-span` cannot carry, reattached at export.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    /// The W3C trace state.
    pub(crate) trace_state: TraceState,
    /// The trace flags (sampled).
    pub(crate) flags: TraceFlags,
    /// What the sender already dropped (its dropped counts), plus attributes without a value.
    pub(crate) dropped: Dropped,
}

impl From<ExportTraceServiceRequest> for ReceivedTraces {
    /// A request already decoded (by a gRPC server: `opentelemetry-proto`'s type, of the
    /// version this crate uses), checked as [`ReceivedTraces::decode`] checks it.
    fn from(request: ExportTraceServiceRequest) -> Self {
        Self::from_request(request)
    }
}

/// The body formats of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON: hex ids, lowerCamelCase names).
    Json,
}

impl ReceivedTraces {
    /// Decodes an `ExportTraceServiceRequest` in `encoding`. A body that is not one is an
    /// [`Error::InvalidOtlp`]; a span inside it that cannot be used is refused and counted
    /// ([`ReceivedTraces::refused`]) while the others are kept.
    pub fn decode(body: &[u8], encoding: OtlpEncoding) -> Result<Self> {
        let request = match encoding {
            OtlpEncoding::Protobuf => ExportTraceServiceRequest::decode(body).map_err(|e| {
                Error::InvalidOtlp(format!("not an OTLP/protobuf trace request: {e}"))
            })?,
            OtlpEncoding::Json => serde_json::from_slice(body)
                .map_err(|e| Error::InvalidOtlp(format!("not an OTLP/JSON trace request: {e}")))?,
        };
        Ok(Self::from_request(request))
    }

    /// The spans of a decoded request, each checked as [`ReceivedTraces::decode`] does.
    pub(crate) fn from_request(request: ExportTraceServiceRequest) -> Self {
        let mut received = Self {
            resources: Vec::new(),
            refused: 0,
            first_refusal: None,
            values_as_json: 0,
        };
        for resource_spans in request.resource_spans {
            let attributes = received.key_values(
                resource_spans
                    .resource
                    .map(|r| r.attributes)
                    .unwrap_or_default(),
            );
            let builder = Resource::builder_empty();
            let resource = if resource_spans.schema_url.is_empty() {
                builder.with_attributes(attributes).build()
            } else {
                builder
                    .with_schema_url(attributes, resource_spans.schema_url)
                    .build()
            };
            let mut spans = Vec::new();
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans.scope.unwrap_or_default();
                let scope_attributes = received.key_values(scope.attributes);
                let mut builder =
                    InstrumentationScope::builder(scope.name).with_attributes(scope_attributes);
                if !scope.version.is_empty() {
                    builder = builder.with_version(scope.version);
                }
                if !scope_spans.schema_url.is_empty() {
                    builder = builder.with_schema_url(scope_spans.schema_url);
                }
                let scope = Arc::new(builder.build());
                for span in scope_spans.spans {
                    match received.span(span) {
                        Ok((span, extras)) => spans.push(ReceivedSpan {
                            span,
                            scope: scope.clone(),
                            extras,
                        }),
                        Err(reason) => {
                            received.refused += 1;
                            received.first_refusal.get_or_insert(reason);
                        }
                    }
                }
            }
            if !spans.is_empty() {
                received
                    .resources
                    .push(ReceivedResource { resource, spans });
            }
        }
        received
    }

    /// The same spans, exported under `resource` instead of the sender's: for spans the
    /// tracer's own producers hand it as OpenTelemetry spans (`wasi:otel`).
    pub(crate) fn under_resource(mut self, resource: Resource) -> Self {
        for received in &mut self.resources {
            received.resource = resource.clone();
        }
        self
    }

    /// Splits the spans into `parts` requests by the part `part_of` gives each span's trace
    /// id, keeping each resource (and order) in every part that has spans of it. Only the spans
    /// go: the counts of what was refused stay with the whole (they were counted on receipt).
    pub(crate) fn split(self, parts: usize, part_of: impl Fn(TraceId) -> usize) -> Vec<Self> {
        let mut split: Vec<Self> = (0..parts)
            .map(|_| Self {
                resources: Vec::new(),
                refused: 0,
                first_refusal: None,
                values_as_json: 0,
            })
            .collect();
        for group in self.resources {
            let mut by_part: Vec<Vec<ReceivedSpan>> = (0..parts).map(|_| Vec::new()).collect();
            for span in group.spans {
                let part = part_of(TraceId::from_halves(span.span.trace_id)).min(parts - 1);
                by_part[part].push(span);
            }
            for (part, spans) in by_part.into_iter().enumerate() {
                if !spans.is_empty() {
                    split[part].resources.push(ReceivedResource {
                        resource: group.resource.clone(),
                        spans,
                    });
                }
            }
        }
        split
    }

    /// The spans kept.
    pub fn span_count(&self) -> usize {
        self.resources.iter().map(|r| r.spans.len()).sum()
    }

    /// The spans refused while decoding (bad ids), for OTLP's partial success answer.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Why the first refused span was refused.
    pub fn first_refusal(&self) -> Option<&str> {
        self.first_refusal.as_deref()
    }

    /// Attribute values OTLP can express but a span attribute here cannot (maps, bytes, arrays
    /// of mixed types), kept as their OTLP/JSON text.
    pub fn values_as_json(&self) -> u64 {
        self.values_as_json
    }

    fn span(&mut self, span: ProtoSpan) -> std::result::Result<(wit::OtelSpan, Extras), String> {
        let trace_id = trace_id_of(&span.trace_id).ok_or_else(|| {
            format!(
                "span `{}`: trace id must be 16 bytes, not all zero (got {} bytes)",
                span.name,
                span.trace_id.len()
            )
        })?;
        let span_id = span_id_of(&span.span_id).ok_or_else(|| {
            format!(
                "span `{}`: span id must be 8 bytes, not all zero (got {} bytes)",
                span.name,
                span.span_id.len()
            )
        })?;
        let parent_span_id = if span.parent_span_id.is_empty() {
            None
        } else {
            Some(span_id_or_zero(&span.parent_span_id).ok_or_else(|| {
                format!(
                    "span `{}`: parent span id must be 8 bytes or empty (got {} bytes)",
                    span.name,
                    span.parent_span_id.len()
                )
            })?)
            .filter(|id| *id != 0)
        };
        // Bits 8 and 9 of the span's flags say whether the parent's remoteness is known and
        // whether it is remote (trace.proto, SpanFlags).
        let parent_is_remote = span.flags & 0x300 == 0x300;
        let (attributes, valueless) = self.attributes(span.attributes);
        let mut links = Vec::with_capacity(span.links.len());
        for link in span.links {
            let (Some(link_trace), Some(link_span)) =
                (trace_id_of(&link.trace_id), span_id_of(&link.span_id))
            else {
                return Err(format!("span `{}`: a link has an invalid id", span.name));
            };
            let (attributes, _) = self.attributes(link.attributes);
            links.push(wit::SpanLink {
                trace_id: link_trace,
                span_id: link_span,
                attributes,
            });
        }
        let events = span
            .events
            .into_iter()
            .map(|event| wit::OtelEvent {
                name: event.name,
                time: event.time_unix_nano,
                attributes: self.attributes(event.attributes).0,
            })
            .collect();
        let status = match span.status {
            Some(s) if s.code == status::StatusCode::Error as i32 => {
                wit::SpanStatus::Error(s.message)
            }
            Some(s) if s.code == status::StatusCode::Ok as i32 => wit::SpanStatus::Ok,
            _ => wit::SpanStatus::Unset,
        };
        let kind = match SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified) {
            SpanKind::Client => wit::SpanKind::Client,
            SpanKind::Server => wit::SpanKind::Server,
            SpanKind::Producer => wit::SpanKind::Producer,
            SpanKind::Consumer => wit::SpanKind::Consumer,
            SpanKind::Internal | SpanKind::Unspecified => wit::SpanKind::Internal,
        };
        let extras = Extras {
            trace_state: span.trace_state.parse().unwrap_or_default(),
            flags: TraceFlags::new((span.flags & 0xff) as u8),
            dropped: Dropped {
                attributes: span.dropped_attributes_count.saturating_add(valueless),
                events: span.dropped_events_count,
                links: span.dropped_links_count,
            },
        };
        let span = wit::OtelSpan {
            trace_id,
            span_id,
            parent_span_id,
            parent_is_remote,
            name: span.name,
            kind,
            start_time: span.start_time_unix_nano,
            end_time: span.end_time_unix_nano.max(span.start_time_unix_nano),
            attributes,
            events,
            links,
            status,
        };
        Ok((span, extras))
    }

    /// OTLP attributes as WIT attributes, and how many had no value (left out, counted as
    /// dropped).
    fn attributes(&mut self, attributes: Vec<ProtoKeyValue>) -> (Vec<wit::Attribute>, u32) {
        let mut valueless = 0u32;
        let attributes = attributes
            .into_iter()
            .filter_map(|kv| match kv.value.and_then(|v| v.value) {
                Some(value) => Some(wit::Attribute {
                    key: kv.key,
                    value: self.value(value),
                }),
                None => {
                    valueless = valueless.saturating_add(1);
                    None
                }
            })
            .collect();
        (attributes, valueless)
    }

    /// Resource or scope attributes, in the SDK's form (which has no dropped count: an
    /// attribute without a value is left out).
    fn key_values(&mut self, attributes: Vec<ProtoKeyValue>) -> Vec<KeyValue> {
        let (attributes, _) = self.attributes(attributes);
        attributes
            .into_iter()
            .map(crate::convert::key_value)
            .collect()
    }

    fn value(&mut self, value: any_value::Value) -> wit::Value {
        use any_value::Value as V;
        match value {
            V::StringValue(s) => wit::Value::Str(s),
            V::BoolValue(b) => wit::Value::Boolean(b),
            V::IntValue(i) => wit::Value::Int(i),
            V::DoubleValue(f) => wit::Value::Float(f),
            V::ArrayValue(array) => {
                let items: Vec<Option<V>> = array.values.iter().map(|v| v.value.clone()).collect();
                macro_rules! all {
                    ($variant:ident, $wit:ident) => {
                        items
                            .iter()
                            .map(|v| match v {
                                Some(V::$variant(x)) => Some(x.clone()),
                                _ => None,
                            })
                            .collect::<Option<Vec<_>>>()
                            .map(wit::Value::$wit)
                    };
                }
                all!(StringValue, StrArray)
                    .or_else(|| all!(IntValue, IntArray))
                    .or_else(|| all!(DoubleValue, FloatArray))
                    .or_else(|| all!(BoolValue, BoolArray))
                    .unwrap_or_else(|| self.as_json(V::ArrayValue(array)))
            }
            other => self.as_json(other),
        }
    }

    /// A value kept as its OTLP/JSON text, counted.
    fn as_json(&mut self, value: any_value::Value) -> wit::Value {
        self.values_as_json += 1;
        let text = serde_json::to_string(&AnyValue { value: Some(value) })
            .unwrap_or_else(|e| format!("\"unencodable value: {e}\""));
        wit::Value::Json(text)
    }
}

/// A 16-byte, non-zero trace id as its two big-endian halves.
fn trace_id_of(bytes: &[u8]) -> Option<(u64, u64)> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    let id = u128::from_be_bytes(bytes);
    (id != 0).then_some(((id >> 64) as u64, id as u64))
}

/// An 8-byte, non-zero span id.
fn span_id_of(bytes: &[u8]) -> Option<u64> {
    span_id_or_zero(bytes).filter(|id| *id != 0)
}

fn span_id_or_zero(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn kv(key: &str, value: any_value::Value) -> ProtoKeyValue {
        ProtoKeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn request(spans: Vec<ProtoSpan>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn span(name: &str, span_id: u8) -> ProtoSpan {
        ProtoSpan {
            trace_id: vec![1; 16],
            span_id: vec![span_id; 8],
            name: name.into(),
            start_time_unix_nano: 10,
            end_time_unix_nano: 20,
            ..Default::default()
        }
    }

    #[test]
    fn bad_ids_refuse_their_span_only() {
        let mut short = span("short", 2);
        short.trace_id = vec![1; 15];
        let zero = span("zero", 0);
        let received = ReceivedTraces::from_request(request(vec![span("good", 1), short, zero]));
        assert_eq!(received.span_count(), 1);
        assert_eq!(received.refused(), 2);
        assert!(
            received
                .first_refusal()
                .unwrap()
                .contains("`short`: trace id must be 16")
        );
    }

    #[test]
    fn structured_values_become_json_text_and_empty_ones_are_counted() {
        let mut with_values = span("values", 1);
        with_values.attributes = vec![
            kv(
                "ints",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(any_value::Value::IntValue(1)),
                        },
                        AnyValue {
                            value: Some(any_value::Value::IntValue(2)),
                        },
                    ],
                }),
            ),
            kv(
                "map",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("a", any_value::Value::StringValue("b".into()))],
                }),
            ),
            ProtoKeyValue {
                key: "empty".into(),
                value: None,
                ..Default::default()
            },
        ];
        with_values.dropped_attributes_count = 3;
        let received = ReceivedTraces::from_request(request(vec![with_values]));
        let span = &received.resources[0].spans[0];
        assert_eq!(span.span.attributes.len(), 2);
        assert!(matches!(&span.span.attributes[0].value, wit::Value::IntArray(v) if v == &[1, 2]));
        match &span.span.attributes[1].value {
            wit::Value::Json(text) => assert!(text.contains("\"a\""), "{text}"),
            other => panic!("map kept as {other:?}"),
        }
        assert_eq!(received.values_as_json(), 1);
        assert_eq!(span.extras.dropped.attributes, 4);
    }

    #[test]
    fn a_body_that_is_not_a_request_is_an_error() {
        let error =
            ReceivedTraces::decode(b"{\"resourceSpans\": 3}", OtlpEncoding::Json).unwrap_err();
        assert!(
            error.to_string().contains("not an OTLP/JSON trace request"),
            "{error}"
        );
        assert!(ReceivedTraces::decode(&[0xff, 0xff, 0xff], OtlpEncoding::Protobuf).is_err());
    }
}
