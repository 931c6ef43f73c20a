//! Span and configuration builders shared by the policies' unit tests.

use crate::bindings::agentrace::plugin::types::{Attribute, OtelSpan, SpanKind, SpanStatus, Value};

/// A configuration lookup over fixed pairs.
pub fn config<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |key| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }
}

/// A client span named `chat gpt-4` from time 1 to 2 with these ids, attributes and status.
pub fn span(
    trace_id: (u64, u64),
    span_id: u64,
    parent: Option<u64>,
    attributes: Vec<(&str, Value)>,
    status: SpanStatus,
) -> OtelSpan {
    OtelSpan {
        trace_id,
        span_id,
        parent_span_id: parent,
        parent_is_remote: false,
        name: "chat gpt-4".into(),
        kind: SpanKind::Client,
        start_time: 1,
        end_time: 2,
        attributes: attributes
            .into_iter()
            .map(|(k, v)| Attribute {
                key: k.into(),
                value: v,
            })
            .collect(),
        events: vec![],
        links: vec![],
        status,
    }
}

/// The value of attribute `key` on `span`.
pub fn get<'a>(span: &'a OtelSpan, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| &a.value)
}
