//! Conversions at the edges of the components: the host's records into the WIT records the
//! mapper receives ([`ToWit`]; the records declared in `record.rs` get theirs generated), the
//! WIT lifecycle fields an agent component reports into the host's records ([`FromWit`], the
//! other way), and the WIT `otel-span` into OpenTelemetry SDK span data for the exporters.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext as OtelSpanContext, SpanKind, Status, TraceFlags, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use serde_json::Value as Json;

use crate::component::bindings::types as wit;
use crate::ids::TraceId;
use crate::record::{
    AttrValue, Attributes, ErrorInfo, LinkInfo, Message, Part, ServerEndpoint, ToolCall,
    ToolDefinition,
};
pub(crate) use crate::record::{provider_details_of, to_agent_span};
use crate::span_limits::{Dropped, SpanLimits};

/// Conversion of the host's records into the WIT records the mapper receives. The target type
/// chooses the impl: an `Option<String>` becomes an `option<string>` or, where the WIT field is
/// a plain `list` or `string`, the empty list or string; JSON becomes its text.
pub(crate) trait ToWit<W> {
    /// The WIT form of `self`.
    fn to_wit(&self) -> W;
}

/// Types the host and the WIT share.
macro_rules! same_in_wit {
    ($($ty:ty),*) => {
        $(impl ToWit<$ty> for $ty {
            fn to_wit(&self) -> $ty {
                self.clone()
            }
        })*
    };
}
same_in_wit!(String, i64, f64, bool, u16);

impl<T: ToWit<W>, W> ToWit<W> for Box<T> {
    fn to_wit(&self) -> W {
        (**self).to_wit()
    }
}

impl<T: ToWit<W>, W> ToWit<Option<W>> for Option<T> {
    fn to_wit(&self) -> Option<W> {
        self.as_ref().map(ToWit::to_wit)
    }
}

impl<T: ToWit<W>, W> ToWit<Vec<W>> for Option<Vec<T>> {
    /// An unset list is the empty list.
    fn to_wit(&self) -> Vec<W> {
        self.iter().flatten().map(ToWit::to_wit).collect()
    }
}

impl<T: ToWit<W>, W> ToWit<Vec<W>> for Vec<T> {
    fn to_wit(&self) -> Vec<W> {
        self.iter().map(ToWit::to_wit).collect()
    }
}

impl ToWit<String> for Option<String> {
    /// An unset string where the WIT requires one is the empty string.
    fn to_wit(&self) -> String {
        self.clone().unwrap_or_default()
    }
}

impl ToWit<String> for Json {
    fn to_wit(&self) -> String {
        self.to_string()
    }
}

impl ToWit<wit::Value> for AttrValue {
    fn to_wit(&self) -> wit::Value {
        match self {
            AttrValue::Str(s) => wit::Value::Str(s.clone()),
            AttrValue::Int(i) => wit::Value::Int(*i),
            AttrValue::Float(f) => wit::Value::Float(*f),
            AttrValue::Bool(b) => wit::Value::Boolean(*b),
            AttrValue::StrArray(v) => wit::Value::StrArray(v.clone()),
            AttrValue::IntArray(v) => wit::Value::IntArray(v.clone()),
            AttrValue::FloatArray(v) => wit::Value::FloatArray(v.clone()),
            AttrValue::BoolArray(v) => wit::Value::BoolArray(v.clone()),
            AttrValue::Json(j) => wit::Value::Json(j.clone()),
        }
    }
}

impl ToWit<Vec<wit::Attribute>> for Attributes {
    fn to_wit(&self) -> Vec<wit::Attribute> {
        self.iter()
            .map(|(key, value)| wit::Attribute {
                key: key.clone(),
                value: value.to_wit(),
            })
            .collect()
    }
}

fn string_field(part: &Json, key: &str) -> Option<String> {
    part.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

fn media(part: &Json, content_key: &str) -> wit::Media {
    wit::Media {
        modality: string_field(part, "modality"),
        mime_type: string_field(part, "mime_type"),
        content: string_field(part, content_key).unwrap_or_default(),
    }
}

impl ToWit<wit::MessagePart> for Part {
    fn to_wit(&self) -> wit::MessagePart {
        let value = &self.0;
        let text = |key| string_field(value, key).unwrap_or_default();
        match value.get("type").and_then(Json::as_str).unwrap_or_default() {
            "text" => wit::MessagePart::Text(text("content")),
            "reasoning" => wit::MessagePart::Reasoning(text("content")),
            "tool_call" => wit::MessagePart::ToolCall(wit::ToolCallRequest {
                id: string_field(value, "id"),
                name: text("name"),
                arguments: value.get("arguments").map(ToWit::to_wit),
            }),
            "tool_call_response" => wit::MessagePart::ToolCallResponse(wit::ToolCallResponse {
                id: string_field(value, "id"),
                response: value.get("response").map(ToWit::to_wit).unwrap_or_default(),
            }),
            "blob" => wit::MessagePart::Blob(media(value, "content")),
            "uri" => wit::MessagePart::Uri(media(value, "uri")),
            "file" => wit::MessagePart::File(media(value, "file_id")),
            _ => wit::MessagePart::Other(value.to_wit()),
        }
    }
}

impl ToWit<wit::Message> for Message {
    fn to_wit(&self) -> wit::Message {
        wit::Message {
            role: self.role.clone(),
            name: self.name.clone(),
            parts: self.parts.to_wit(),
            finish_reason: self.finish_reason.clone(),
        }
    }
}

impl ToWit<wit::ToolDefinition> for ToolDefinition {
    fn to_wit(&self) -> wit::ToolDefinition {
        wit::ToolDefinition {
            type_: self.kind.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: self.parameters.to_wit(),
        }
    }
}

impl ToWit<wit::ToolCall> for ToolCall {
    fn to_wit(&self) -> wit::ToolCall {
        wit::ToolCall {
            name: self.name.to_wit(),
            call_id: self.call_id.clone(),
            type_: self.kind.clone(),
            description: self.description.clone(),
            arguments: self.arguments.to_wit(),
            result: self.result.to_wit(),
        }
    }
}

impl ToWit<wit::ServerEndpoint> for ServerEndpoint {
    fn to_wit(&self) -> wit::ServerEndpoint {
        wit::ServerEndpoint {
            address: self.address.clone(),
            port: self.port,
        }
    }
}

impl ToWit<wit::ErrorInfo> for ErrorInfo {
    fn to_wit(&self) -> wit::ErrorInfo {
        wit::ErrorInfo {
            type_: self.kind.clone(),
            message: self.message.clone(),
        }
    }
}

impl ToWit<wit::SpanLink> for LinkInfo {
    fn to_wit(&self) -> wit::SpanLink {
        wit::SpanLink {
            trace_id: self.trace_id.halves(),
            span_id: self.span_id.0,
            attributes: self.attributes.to_wit(),
        }
    }
}

impl ToWit<wit::SpanEvent> for (String, u64, Attributes) {
    fn to_wit(&self) -> wit::SpanEvent {
        let (name, time, attributes) = self;
        wit::SpanEvent {
            name: name.clone(),
            time: *time,
            attributes: attributes.to_wit(),
        }
    }
}

/// Conversion of the WIT records an agent component reports through `lifecycle` into the
/// host's records: the way back of [`ToWit`]. Where the WIT has a plain `list` or `string` and
/// the host an option, the empty list or string says nothing (`None`), as the WIT documents;
/// JSON text that does not parse is kept as a JSON string.
pub(crate) trait FromWit<W> {
    /// The host's form of `value`.
    fn from_wit(value: W) -> Self;
}

/// Types the host and the WIT share, the way back.
macro_rules! same_from_wit {
    ($($ty:ty),*) => {
        $(impl FromWit<$ty> for $ty {
            fn from_wit(value: $ty) -> $ty {
                value
            }
        })*
    };
}
same_from_wit!(String, i64, f64, bool, u16);

impl<T: FromWit<W>, W> FromWit<W> for Box<T> {
    fn from_wit(value: W) -> Self {
        Box::new(T::from_wit(value))
    }
}

impl<T: FromWit<W>, W> FromWit<Option<W>> for Option<T> {
    fn from_wit(value: Option<W>) -> Self {
        value.map(T::from_wit)
    }
}

impl<T: FromWit<W>, W> FromWit<Vec<W>> for Option<Vec<T>> {
    /// The empty list is an unset list.
    fn from_wit(value: Vec<W>) -> Self {
        (!value.is_empty()).then(|| value.into_iter().map(T::from_wit).collect())
    }
}

impl<T: FromWit<W>, W> FromWit<Vec<W>> for Vec<T> {
    fn from_wit(value: Vec<W>) -> Self {
        value.into_iter().map(T::from_wit).collect()
    }
}

impl FromWit<String> for Option<String> {
    /// The empty string where the WIT requires one is an unset string.
    fn from_wit(value: String) -> Self {
        (!value.is_empty()).then_some(value)
    }
}

impl FromWit<String> for Json {
    /// JSON text parsed; text that is not JSON is kept as a JSON string.
    fn from_wit(value: String) -> Self {
        serde_json::from_str(&value).unwrap_or(Json::String(value))
    }
}

impl FromWit<wit::Value> for AttrValue {
    fn from_wit(value: wit::Value) -> Self {
        match value {
            wit::Value::Str(s) => AttrValue::Str(s),
            wit::Value::Int(i) => AttrValue::Int(i),
            wit::Value::Float(f) => AttrValue::Float(f),
            wit::Value::Boolean(b) => AttrValue::Bool(b),
            wit::Value::StrArray(v) => AttrValue::StrArray(v),
            wit::Value::IntArray(v) => AttrValue::IntArray(v),
            wit::Value::FloatArray(v) => AttrValue::FloatArray(v),
            wit::Value::BoolArray(v) => AttrValue::BoolArray(v),
            wit::Value::Json(j) => AttrValue::Json(j),
        }
    }
}

impl FromWit<Vec<wit::Attribute>> for Attributes {
    /// A key given twice keeps its last value.
    fn from_wit(value: Vec<wit::Attribute>) -> Self {
        value
            .into_iter()
            .map(|attribute| (attribute.key, AttrValue::from_wit(attribute.value)))
            .collect()
    }
}

/// A media part in the parts format, its reference under `content_key`.
fn media_part(kind: &str, media: wit::Media, content_key: &str) -> Json {
    let mut part = serde_json::Map::new();
    part.insert("type".into(), kind.into());
    if let Some(modality) = media.modality {
        part.insert("modality".into(), modality.into());
    }
    if let Some(mime_type) = media.mime_type {
        part.insert("mime_type".into(), mime_type.into());
    }
    part.insert(content_key.into(), media.content.into());
    Json::Object(part)
}

impl FromWit<wit::MessagePart> for Part {
    fn from_wit(value: wit::MessagePart) -> Self {
        Part(match value {
            wit::MessagePart::Text(content) => {
                serde_json::json!({"type": "text", "content": content})
            }
            wit::MessagePart::Reasoning(content) => {
                serde_json::json!({"type": "reasoning", "content": content})
            }
            wit::MessagePart::ToolCall(call) => {
                let mut part = serde_json::json!({"type": "tool_call", "name": call.name});
                if let Some(id) = call.id {
                    part["id"] = id.into();
                }
                if let Some(arguments) = call.arguments {
                    part["arguments"] = Json::from_wit(arguments);
                }
                part
            }
            wit::MessagePart::ToolCallResponse(response) => {
                let mut part = serde_json::json!({
                    "type": "tool_call_response",
                    "response": Json::from_wit(response.response),
                });
                if let Some(id) = response.id {
                    part["id"] = id.into();
                }
                part
            }
            wit::MessagePart::Blob(media) => media_part("blob", media, "content"),
            wit::MessagePart::Uri(media) => media_part("uri", media, "uri"),
            wit::MessagePart::File(media) => media_part("file", media, "file_id"),
            wit::MessagePart::Other(json) => Json::from_wit(json),
        })
    }
}

impl FromWit<wit::Message> for Message {
    fn from_wit(value: wit::Message) -> Self {
        Message {
            role: value.role,
            name: value.name,
            parts: Vec::from_wit(value.parts),
            finish_reason: value.finish_reason,
        }
    }
}

impl FromWit<wit::ToolDefinition> for ToolDefinition {
    fn from_wit(value: wit::ToolDefinition) -> Self {
        ToolDefinition {
            kind: value.type_,
            name: value.name,
            description: value.description,
            parameters: Option::from_wit(value.parameters),
        }
    }
}

impl FromWit<wit::ToolCall> for ToolCall {
    fn from_wit(value: wit::ToolCall) -> Self {
        ToolCall {
            name: Option::from_wit(value.name),
            call_id: value.call_id,
            kind: value.type_,
            description: value.description,
            arguments: Option::from_wit(value.arguments),
            result: Option::from_wit(value.result),
        }
    }
}

impl FromWit<wit::ServerEndpoint> for ServerEndpoint {
    fn from_wit(value: wit::ServerEndpoint) -> Self {
        ServerEndpoint {
            address: value.address,
            port: value.port,
        }
    }
}

impl FromWit<wit::ErrorInfo> for ErrorInfo {
    fn from_wit(value: wit::ErrorInfo) -> Self {
        ErrorInfo {
            kind: value.type_,
            message: value.message,
        }
    }
}

impl FromWit<wit::SpanLink> for LinkInfo {
    /// Zero ids are refused before this (`agent::check_fields`).
    fn from_wit(value: wit::SpanLink) -> Self {
        LinkInfo {
            trace_id: TraceId::from_halves(value.trace_id),
            span_id: crate::ids::SpanId(value.span_id),
            attributes: Attributes::from_wit(value.attributes),
        }
    }
}

/// A WIT timestamp (nanoseconds since the Unix epoch) as a `SystemTime`.
pub(crate) fn time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A WIT attribute as an OpenTelemetry key/value. JSON values become strings holding the JSON,
/// which is how the GenAI conventions record structured content on spans.
pub(crate) fn key_value(attribute: wit::Attribute) -> KeyValue {
    use opentelemetry::{Array, Value};
    let value = match attribute.value {
        wit::Value::Str(s) | wit::Value::Json(s) => Value::String(s.into()),
        wit::Value::Int(i) => Value::I64(i),
        wit::Value::Float(f) => Value::F64(f),
        wit::Value::Boolean(b) => Value::Bool(b),
        wit::Value::StrArray(v) => Value::Array(Array::String(
            v.into_iter().map(StringValue::from).collect(),
        )),
        wit::Value::IntArray(v) => Value::Array(Array::I64(v)),
        wit::Value::FloatArray(v) => Value::Array(Array::F64(v)),
        wit::Value::BoolArray(v) => Value::Array(Array::Bool(v)),
    };
    KeyValue::new(attribute.key, value)
}

/// The WIT form of an SDK attribute (a received resource's or scope's, for the policies): the
/// way back of [`key_value`], where JSON text was already a string.
pub(crate) fn wit_attribute(
    key: &opentelemetry::Key,
    value: &opentelemetry::Value,
) -> wit::Attribute {
    use opentelemetry::{Array, Value};
    let strings = |v: &[StringValue]| v.iter().map(|s| s.as_str().to_string()).collect();
    let value = match value {
        Value::String(s) => wit::Value::Str(s.as_str().to_string()),
        Value::I64(i) => wit::Value::Int(*i),
        Value::F64(f) => wit::Value::Float(*f),
        Value::Bool(b) => wit::Value::Boolean(*b),
        Value::Array(Array::String(v)) => wit::Value::StrArray(strings(v)),
        Value::Array(Array::I64(v)) => wit::Value::IntArray(v.clone()),
        Value::Array(Array::F64(v)) => wit::Value::FloatArray(v.clone()),
        Value::Array(Array::Bool(v)) => wit::Value::BoolArray(v.clone()),
        // A kind of value a later SDK may add: its text, so that policies still see it.
        other => wit::Value::Str(other.to_string()),
    };
    wit::Attribute {
        key: key.as_str().to_string(),
        value,
    }
}

fn context(trace_id: (u64, u64), span_id: u64, remote: bool) -> OtelSpanContext {
    OtelSpanContext::new(
        opentelemetry::trace::TraceId::from(TraceId::from_halves(trace_id).0),
        opentelemetry::trace::SpanId::from(span_id),
        TraceFlags::SAMPLED,
        remote,
        TraceState::NONE,
    )
}

/// The SDK span data the exporters take, within `limits`; the dropped counts add what the
/// limits cut here to what they cut earlier (`earlier`, before and after the mapper).
pub(crate) fn to_span_data(
    mut span: wit::OtelSpan,
    scope: &InstrumentationScope,
    limits: &SpanLimits,
    earlier: Dropped,
) -> SpanData {
    let (cut, event_cuts, link_cuts) = limits.apply_to_span(&mut span);
    let mut dropped = earlier;
    dropped.add(cut);
    let mut events = SpanEvents::default();
    events.dropped_count = dropped.events;
    events.events = span
        .events
        .into_iter()
        .zip(event_cuts)
        .map(|(e, cut)| {
            opentelemetry::trace::Event::new(
                e.name,
                time(e.time),
                e.attributes.into_iter().map(key_value).collect(),
                cut,
            )
        })
        .collect();
    let mut links = SpanLinks::default();
    links.dropped_count = dropped.links;
    links.links = span
        .links
        .into_iter()
        .zip(link_cuts)
        .map(|(l, cut)| {
            opentelemetry::trace::Link::new(
                context(l.trace_id, l.span_id, false),
                l.attributes.into_iter().map(key_value).collect(),
                cut,
            )
        })
        .collect();
    SpanData {
        span_context: context(span.trace_id, span.span_id, false),
        parent_span_id: opentelemetry::trace::SpanId::from(span.parent_span_id.unwrap_or(0)),
        parent_span_is_remote: span.parent_is_remote,
        span_kind: match span.kind {
            wit::SpanKind::Internal => SpanKind::Internal,
            wit::SpanKind::Client => SpanKind::Client,
            wit::SpanKind::Server => SpanKind::Server,
            wit::SpanKind::Producer => SpanKind::Producer,
            wit::SpanKind::Consumer => SpanKind::Consumer,
        },
        name: Cow::Owned(span.name),
        start_time: time(span.start_time),
        end_time: time(span.end_time),
        attributes: span.attributes.into_iter().map(key_value).collect(),
        dropped_attributes_count: dropped.attributes,
        events,
        links,
        status: match span.status {
            wit::SpanStatus::Unset => Status::Unset,
            wit::SpanStatus::Ok => Status::Ok,
            wit::SpanStatus::Error(message) => Status::error(message),
        },
        instrumentation_scope: scope.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_convert_both_ways_unchanged() {
        let attributes = vec![
            KeyValue::new("service.name", "shop"),
            KeyValue::new("process.pid", 42_i64),
            KeyValue::new("ratio", 0.5),
            KeyValue::new("debug", true),
            KeyValue::new(
                "tags",
                opentelemetry::Value::Array(opentelemetry::Array::String(vec![
                    "a".into(),
                    "b".into(),
                ])),
            ),
        ];
        let wit: Vec<wit::Attribute> = attributes
            .iter()
            .map(|kv| wit_attribute(&kv.key, &kv.value))
            .collect();
        let back: Vec<KeyValue> = wit.into_iter().map(key_value).collect();
        assert_eq!(back, attributes);
    }
}
