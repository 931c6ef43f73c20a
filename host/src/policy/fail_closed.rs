//! Failing closed: when a policy fails, the spans of that batch are exported without anything
//! that could carry content. Only attributes known to hold names, ids, models and enumerations,
//! and numeric or boolean values, are kept; event and link attributes and the status message are
//! removed (but for the mark of a log record in transit, `pipeline::log_events::MARK`, so that
//! the mapper's log records still leave as log records, stripped of their attributes too); the
//! span name becomes its operation name (a name like `invoke_agent <agent>` could
//! carry what the policy was meant to remove); the span is marked
//! `agentrace.policy.failed = <policy>`.

use crate::component::bindings::types as wit;

/// Marks spans whose policy failed.
pub(crate) const FAILED_POLICY_ATTRIBUTE: &str = "agentrace.policy.failed";

/// String attributes that never hold content (names, ids, models, enumerations).
const SAFE_STRING_KEYS: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "gen_ai.output.type",
    "gen_ai.request.encoding_formats",
    "gen_ai.agent.name",
    "gen_ai.agent.id",
    "gen_ai.agent.version",
    "gen_ai.tool.name",
    "gen_ai.tool.type",
    "gen_ai.tool.call.id",
    "gen_ai.conversation.id",
    "gen_ai.data_source.id",
    "gen_ai.workflow.name",
    "gen_ai.token.type",
    "server.address",
    "error.type",
    "ag2.span.type",
    "agentrace.conversation.method",
    "agentrace.multi_conversation.mode",
    "agentrace.speaker_selection.method",
    "agentrace.human_input.mode",
    "agentrace.code_execution.language",
    "agentrace.code_execution.executor",
    "agentrace.guardrail.action",
];

fn keep(attribute: &wit::Attribute) -> bool {
    match attribute.value {
        wit::Value::Int(_)
        | wit::Value::Float(_)
        | wit::Value::Boolean(_)
        | wit::Value::IntArray(_)
        | wit::Value::FloatArray(_)
        | wit::Value::BoolArray(_) => true,
        wit::Value::Str(_) | wit::Value::StrArray(_) => {
            SAFE_STRING_KEYS.contains(&attribute.key.as_str())
        }
        wit::Value::Json(_) => false,
    }
}

/// Strips `span` down to what cannot carry content, and marks it with the failed policy.
pub(crate) fn strip(span: &mut wit::OtelSpan, policy: &str) {
    span.attributes.retain(keep);
    span.name = span
        .attributes
        .iter()
        .find(|a| a.key == "gen_ai.operation.name")
        .and_then(|a| match &a.value {
            wit::Value::Str(operation) => Some(operation.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "span".to_string());
    span.attributes.push(wit::Attribute {
        key: FAILED_POLICY_ATTRIBUTE.to_string(),
        value: wit::Value::Str(policy.to_string()),
    });
    for event in &mut span.events {
        event
            .attributes
            .retain(|a| a.key == crate::pipeline::log_events::MARK);
    }
    for link in &mut span.links {
        link.attributes.clear();
    }
    if let wit::SpanStatus::Error(message) = &mut span.status {
        *message = "error (message removed: a policy failed)".to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::log_events;

    #[test]
    fn a_log_record_in_transit_leaves_as_a_log_record_without_its_attributes() {
        let mut spans = vec![wit::OtelSpan {
            trace_id: (1, 2),
            span_id: 3,
            parent_span_id: None,
            parent_is_remote: false,
            name: "chat m".into(),
            kind: wit::SpanKind::Client,
            start_time: 1,
            end_time: 2,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: wit::SpanStatus::Unset,
        }];
        let content = wit::Attribute {
            key: "gen_ai.input.messages".into(),
            value: wit::Value::Json("[\"secret\"]".into()),
        };
        let orphans = log_events::attach(
            &mut spans,
            vec![wit::LogRecord {
                trace_id: (1, 2),
                span_id: 3,
                time: 2,
                event_name: "gen_ai.client.inference.operation.details".into(),
                severity_number: 0,
                attributes: vec![content],
            }],
        );
        assert!(orphans.is_empty());
        strip(&mut spans[0], "redact");
        let events = log_events::detach(&mut spans[0]);
        assert_eq!(events.len(), 1, "still a log record");
        assert!(
            events[0].attributes.is_empty(),
            "and nothing of its content"
        );
        assert!(spans[0].events.is_empty());
    }
}
