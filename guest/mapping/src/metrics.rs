//! Metric points of the GenAI client metrics: `gen_ai.client.operation.duration` for model calls
//! (inference, embeddings) and remote agent invocations, and `gen_ai.client.token.usage` with
//! `gen_ai.token.type` for the same operations when usage is known; for streamed inference
//! calls, `gen_ai.client.operation.time_to_first_chunk` (the response's `time-to-first-chunk`,
//! else the first `agentrace.chunk` event's time after the start) and one
//! `gen_ai.client.operation.time_per_output_chunk` point per chunk event after the first (the
//! time since the previous one). Units and bucket boundaries
//! are the spec's; the host aggregates the points into histograms.

use crate::bindings::agentrace::plugin::types::{
    AgentSpan, Attribute, MetricPoint, Operation, Value,
};
use crate::provider;
use crate::semconv::{attr, metric, op, vendor};

fn operation_name(record: &AgentSpan) -> Option<&'static str> {
    Some(match record.operation {
        Operation::Chat => op::CHAT,
        Operation::TextCompletion => op::TEXT_COMPLETION,
        Operation::GenerateContent => op::GENERATE_CONTENT,
        Operation::Embeddings => op::EMBEDDINGS,
        Operation::InvokeAgent if record.server.is_some() => op::INVOKE_AGENT,
        _ => return None,
    })
}

fn str_attr(key: &str, value: &str) -> Attribute {
    Attribute {
        key: key.to_string(),
        value: Value::Str(value.to_string()),
    }
}

/// The attributes every GenAI client metric point carries.
fn common_attributes(record: &AgentSpan, operation: &str) -> Vec<Attribute> {
    let mut attributes = vec![str_attr(attr::OPERATION_NAME, operation)];
    if let Some(raw) = &record.provider {
        attributes.push(str_attr(attr::PROVIDER_NAME, &provider::normalize(raw)));
    }
    if let Some(model) = record.request.as_ref().and_then(|r| r.model.as_ref()) {
        attributes.push(str_attr(attr::REQUEST_MODEL, model));
    }
    if let Some(model) = record.response.as_ref().and_then(|r| r.model.as_ref()) {
        attributes.push(str_attr(attr::RESPONSE_MODEL, model));
    }
    if let Some(server) = &record.server {
        attributes.push(str_attr(attr::SERVER_ADDRESS, &server.address));
        if let Some(port) = server.port {
            attributes.push(Attribute {
                key: attr::SERVER_PORT.to_string(),
                value: Value::Int(i64::from(port)),
            });
        }
    }
    attributes
}

/// Appends the metric points `record` produces to `points`.
pub fn record_points(record: &AgentSpan, points: &mut Vec<MetricPoint>) {
    let Some(operation) = operation_name(record) else {
        return;
    };
    let common = common_attributes(record, operation);

    let mut duration_attributes = common.clone();
    if let Some(error) = &record.error {
        duration_attributes.push(str_attr(attr::ERROR_TYPE, &error.type_));
    }
    points.push(MetricPoint {
        name: metric::OPERATION_DURATION.to_string(),
        description: metric::OPERATION_DURATION_DESCRIPTION.to_string(),
        unit: metric::OPERATION_DURATION_UNIT.to_string(),
        boundaries: metric::OPERATION_DURATION_BOUNDARIES.to_vec(),
        value: record.end_time.saturating_sub(record.start_time) as f64 / 1e9,
        attributes: duration_attributes,
    });

    streaming_points(record, &common, points);

    let Some(usage) = &record.usage else {
        return;
    };
    for (token_type, count) in [
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
    ] {
        let Some(count) = count else { continue };
        let mut attributes = common.clone();
        attributes.push(str_attr(attr::TOKEN_TYPE, token_type));
        points.push(MetricPoint {
            name: metric::TOKEN_USAGE.to_string(),
            description: metric::TOKEN_USAGE_DESCRIPTION.to_string(),
            unit: metric::TOKEN_USAGE_UNIT.to_string(),
            boundaries: metric::TOKEN_USAGE_BOUNDARIES.to_vec(),
            value: count as f64,
            attributes,
        });
    }
}

/// The streaming metrics of an inference call: none unless it streamed (a first-chunk time or
/// chunk events). The spec says they SHOULD NOT be reported otherwise.
fn streaming_points(record: &AgentSpan, common: &[Attribute], points: &mut Vec<MetricPoint>) {
    if !matches!(
        record.operation,
        Operation::Chat | Operation::TextCompletion | Operation::GenerateContent
    ) {
        return;
    }
    let mut chunks: Vec<u64> = record
        .events
        .iter()
        .filter(|e| e.name == vendor::CHUNK_EVENT)
        .map(|e| e.time)
        .collect();
    chunks.sort_unstable();
    let first = record
        .response
        .as_ref()
        .and_then(|r| r.time_to_first_chunk)
        .or_else(|| {
            let first = *chunks.first()?;
            Some(first.saturating_sub(record.start_time) as f64 / 1e9)
        });
    let point = |name: &str, description: &str, value: f64| MetricPoint {
        name: name.to_string(),
        description: description.to_string(),
        unit: metric::OPERATION_DURATION_UNIT.to_string(),
        boundaries: metric::OPERATION_DURATION_BOUNDARIES.to_vec(),
        value,
        attributes: common.to_vec(),
    };
    if let Some(first) = first {
        points.push(point(
            metric::TIME_TO_FIRST_CHUNK,
            metric::TIME_TO_FIRST_CHUNK_DESCRIPTION,
            first,
        ));
    }
    for pair in chunks.windows(2) {
        points.push(point(
            metric::TIME_PER_OUTPUT_CHUNK,
            metric::TIME_PER_OUTPUT_CHUNK_DESCRIPTION,
            pair[1].saturating_sub(pair[0]) as f64 / 1e9,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::agentrace::plugin::types::{ModelResponse, SpanEvent};

    fn streamed_chat(first_chunk: Option<f64>, chunk_times: &[u64]) -> AgentSpan {
        let mut record: AgentSpan = serde_json::from_value(serde_json::json!({
            "trace_id": [1, 2], "span_id": 3, "parent_span_id": null, "parent_is_remote": false,
            "operation": "Chat", "start_time": 1_000_000_000u64, "end_time": 3_000_000_000u64,
            "incomplete": false, "agent": null, "conversation_id": null, "provider": "openai",
            "request": null, "response": null, "usage": null, "server": null,
            "system_instructions": [], "input_messages": [], "output_messages": [],
            "tool_definitions": [], "tool": null, "workflow_name": null, "retrieval": null,
            "conversation": null, "multi_conversation": null, "speaker_selection": null,
            "human_input": null, "code_execution": null, "handoff": null, "guardrail": null,
            "error": null, "events": [], "links": [], "attributes": []
        }))
        .unwrap();
        record.response = first_chunk.map(|t| ModelResponse {
            model: None,
            id: None,
            finish_reasons: vec![],
            time_to_first_chunk: Some(t),
        });
        record.events = chunk_times
            .iter()
            .map(|&time| SpanEvent {
                name: vendor::CHUNK_EVENT.to_string(),
                time,
                attributes: vec![],
            })
            .collect();
        record
    }

    fn values(points: &[MetricPoint], name: &str) -> Vec<f64> {
        points
            .iter()
            .filter(|p| p.name == name)
            .map(|p| (p.value * 1e6).round() / 1e6)
            .collect()
    }

    #[test]
    fn chunk_events_give_the_first_chunk_time_and_one_point_per_later_chunk() {
        let mut points = Vec::new();
        // Chunks at 1.25 s, 1.5 s and 2 s after a start at 1 s, reported out of order.
        record_points(
            &streamed_chat(None, &[2_000_000_000, 1_250_000_000, 1_500_000_000]),
            &mut points,
        );
        assert_eq!(values(&points, metric::TIME_TO_FIRST_CHUNK), [0.25]);
        assert_eq!(values(&points, metric::TIME_PER_OUTPUT_CHUNK), [0.25, 0.5]);
        let ttfc = points
            .iter()
            .find(|p| p.name == metric::TIME_TO_FIRST_CHUNK)
            .unwrap();
        assert_eq!(ttfc.unit, "s");
        assert!(
            ttfc.attributes
                .iter()
                .any(|a| a.key == attr::OPERATION_NAME)
        );
    }

    #[test]
    fn the_reported_first_chunk_time_wins_and_unstreamed_calls_get_none() {
        let mut points = Vec::new();
        record_points(&streamed_chat(Some(0.1), &[1_250_000_000]), &mut points);
        assert_eq!(values(&points, metric::TIME_TO_FIRST_CHUNK), [0.1]);
        assert!(values(&points, metric::TIME_PER_OUTPUT_CHUNK).is_empty());

        let mut points = Vec::new();
        record_points(&streamed_chat(None, &[]), &mut points);
        assert!(values(&points, metric::TIME_TO_FIRST_CHUNK).is_empty());
        assert_eq!(values(&points, metric::OPERATION_DURATION), [2.0]);
    }
}
