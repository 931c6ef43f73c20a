//! Metric points of the GenAI client metrics: `gen_ai.client.operation.duration` for model calls
//! (inference, embeddings) and remote agent invocations, and `gen_ai.client.token.usage` with
//! `gen_ai.token.type` for the same operations when usage is known. Units and bucket boundaries
//! are the spec's; the host aggregates the points into histograms.

use crate::bindings::agentrace::plugin::types::{
    AgentSpan, Attribute, MetricPoint, Operation, Value,
};
use crate::provider;
use crate::semconv::{attr, metric, op};

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
