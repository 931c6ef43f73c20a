//! Building blocks every mapper shares: the attribute list under construction, the checks a
//! record must pass before it is mapped, and the small readings of a record (its agent's name,
//! its requested model) that span names and attributes are made from.
//!
//! The GenAI mapper (this crate) and the OpenInference mapper (`mappers/openinference/`) both
//! build on these, so a record is refused for the same reasons whichever convention is chosen.

use crate::bindings::agentrace::plugin::types::{
    AgentSpan, Attribute, OtelEvent, OtelSpan, SpanKind, SpanStatus, Value,
};
use crate::semconv::{attr, event};

/// The attribute list's starting capacity: room for a typical span's attributes up front (the
/// AG2 example's chat spans have 8 to 14 without content); growing the list from 4
/// reallocated it once or twice per span.
pub const ATTRIBUTES_PER_SPAN: usize = 24;

/// Attribute list under construction, with helpers that skip absent values.
#[derive(Default)]
pub struct Attrs(pub Vec<Attribute>);

impl Attrs {
    /// An empty list with room for a typical span.
    pub fn for_span() -> Self {
        Self(Vec::with_capacity(ATTRIBUTES_PER_SPAN))
    }
    /// Appends `key = value`.
    pub fn push(&mut self, key: &str, value: Value) {
        self.0.push(Attribute {
            key: key.to_string(),
            value,
        });
    }
    /// Appends a string.
    pub fn str(&mut self, key: &str, value: &str) {
        self.push(key, Value::Str(value.to_string()));
    }
    /// Appends a string when there is one.
    pub fn opt_str(&mut self, key: &str, value: Option<&String>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }
    /// Appends an integer when there is one.
    pub fn opt_int(&mut self, key: &str, value: Option<i64>) {
        if let Some(v) = value {
            self.push(key, Value::Int(v));
        }
    }
    /// Appends a float when there is one.
    pub fn opt_float(&mut self, key: &str, value: Option<f64>) {
        if let Some(v) = value {
            self.push(key, Value::Float(v));
        }
    }
    /// Appends a boolean when there is one.
    pub fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(v) = value {
            self.push(key, Value::Boolean(v));
        }
    }
    /// Appends a string array unless it is empty.
    pub fn str_array(&mut self, key: &str, values: &[String]) {
        if !values.is_empty() {
            self.push(key, Value::StrArray(values.to_vec()));
        }
    }
    /// Appends structured content as JSON text.
    pub fn json(&mut self, key: &str, text: String) {
        self.push(key, Value::Json(text));
    }
    /// Whether `key` is already set.
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|a| a.key == key)
    }
    /// Appends the runtime's own attributes, never overriding what the mapping wrote.
    pub fn pass_through(&mut self, extra: &[Attribute]) {
        for attribute in extra {
            if !self.has(&attribute.key) {
                self.0.push(attribute.clone());
            }
        }
    }
}

/// Why a record cannot be mapped, whatever the convention: ids that OpenTelemetry calls
/// invalid, or an end before the start.
pub fn check_record(record: &AgentSpan) -> Result<(), String> {
    if record.trace_id == (0, 0) {
        return Err("trace id is all zeros".to_string());
    }
    if record.span_id == 0 {
        return Err("span id is zero".to_string());
    }
    if record.end_time < record.start_time {
        return Err(format!(
            "end time {} is before start time {}",
            record.end_time, record.start_time
        ));
    }
    Ok(())
}

/// `{base} {target}`, or `base` alone when the target is unknown (as the spec says for
/// `invoke_agent` without a name).
pub fn span_name(base: &str, target: Option<&String>) -> String {
    match target {
        Some(t) if !t.is_empty() => format!("{base} {t}"),
        _ => base.to_string(),
    }
}

/// The name of the agent the record is about.
pub fn agent_name(record: &AgentSpan) -> Option<&String> {
    record.agent.as_ref().and_then(|a| a.name.as_ref())
}

/// The model the request asked for.
pub fn request_model(record: &AgentSpan) -> Option<&String> {
    record.request.as_ref().and_then(|r| r.model.as_ref())
}

/// The record's events as span events, unchanged, except the stream's chunk events
/// (`agentrace.chunk`), which become the streaming metrics instead (`metrics`), and evaluation
/// results, which go to the logs signal (`logs`). A record that ended in an error gets the
/// standard `exception` event at its end, unless the runtime reported one.
pub fn span_events(record: &AgentSpan) -> Vec<OtelEvent> {
    let mut events: Vec<OtelEvent> = record
        .events
        .iter()
        .filter(|e| e.name != crate::semconv::vendor::CHUNK_EVENT && !crate::logs::is_evaluation(e))
        .map(|e| OtelEvent {
            name: e.name.clone(),
            time: e.time,
            attributes: e.attributes.clone(),
        })
        .collect();
    if !events.iter().any(|e| e.name == event::EXCEPTION)
        && let Some(attributes) = crate::logs::exception_attributes(record)
    {
        events.push(OtelEvent {
            name: event::EXCEPTION.to_string(),
            time: record.end_time,
            attributes,
        });
    }
    events
}

/// The span's status from the record's error: ERROR with the message (or the error's type) and
/// `error.type` written, or UNSET.
pub fn status(record: &AgentSpan, a: &mut Attrs) -> SpanStatus {
    match &record.error {
        Some(error) => {
            a.str(attr::ERROR_TYPE, &error.type_);
            SpanStatus::Error(error.message.clone().unwrap_or_else(|| error.type_.clone()))
        }
        None => SpanStatus::Unset,
    }
}

/// The finished span: the record's ids, parent, times, events and links unchanged, with the
/// mapping's name, kind, attributes and status.
pub fn span_of(
    record: &AgentSpan,
    name: String,
    kind: SpanKind,
    attributes: Attrs,
    status: SpanStatus,
) -> OtelSpan {
    OtelSpan {
        trace_id: record.trace_id,
        span_id: record.span_id,
        parent_span_id: record.parent_span_id,
        parent_is_remote: record.parent_is_remote,
        name,
        kind,
        start_time: record.start_time,
        end_time: record.end_time,
        attributes: attributes.0,
        events: span_events(record),
        links: record.links.clone(),
        status,
    }
}
