//! The host's built-in minimal mapping, used for a batch when the mapper component fails (traps,
//! overruns its deadline or memory, or returns an error): spans keep flowing with their
//! operation, ids, times and status, marked `agentrace.mapper.fallback = true`. No content is
//! ever written here.

use crate::assembly::FinishedSpan;
use crate::component::bindings::types as wit;

/// Marks spans mapped by the fallback.
pub(crate) const FALLBACK_ATTRIBUTE: &str = "agentrace.mapper.fallback";

/// Maps one span without the component.
pub(crate) fn map(span: &FinishedSpan) -> wit::OtelSpan {
    let fields = &span.fields;
    let target = fields
        .agent
        .as_ref()
        .and_then(|a| a.name.clone())
        .or_else(|| fields.request.as_ref().and_then(|r| r.model.clone()))
        .or_else(|| fields.tool.as_ref().and_then(|t| t.name.clone()));
    let operation = span.operation.as_str();
    let name = match target {
        Some(target) => format!("{operation} {target}"),
        None => operation.to_string(),
    };
    let string = |key: &str, value: &str| wit::Attribute {
        key: key.to_string(),
        value: wit::Value::Str(value.to_string()),
    };
    let mut attributes = vec![
        string("gen_ai.operation.name", operation),
        wit::Attribute {
            key: FALLBACK_ATTRIBUTE.to_string(),
            value: wit::Value::Boolean(true),
        },
    ];
    let status = match &fields.error {
        Some(error) => {
            attributes.push(string("error.type", &error.kind));
            wit::SpanStatus::Error(error.message.clone().unwrap_or_else(|| error.kind.clone()))
        }
        None => wit::SpanStatus::Unset,
    };
    wit::OtelSpan {
        trace_id: span.trace_id.halves(),
        span_id: span.span_id.0,
        parent_span_id: span.parent_span_id.map(|p| p.0),
        parent_is_remote: span.parent_is_remote,
        name,
        kind: wit::SpanKind::Internal,
        start_time: span.start_time,
        end_time: span.end_time.max(span.start_time),
        attributes,
        events: Vec::new(),
        links: Vec::new(),
        status,
    }
}
