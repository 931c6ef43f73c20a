//! The GenAI events of semconv v1.41 (`model/events.yaml`) that travel on the OpenTelemetry logs
//! signal, made from a finished record and the span mapped from it:
//! - `gen_ai.client.inference.operation.details`: opt-in (`emit-event`), one per inference call,
//!   with the call's attributes and, with `capture-content-in-events`, its content;
//! - `gen_ai.evaluation.result`: one per evaluation the runtime reported on the span (a span
//!   event of that name with `gen_ai.evaluation.name`), which leaves the span;
//! - `gen_ai.client.operation.exception`: severity WARN, one per client operation (a call to a
//!   model, a data source or a remote agent) that ended in an error.
//!
//! Every record is parented to its span (same trace and span ids), as the spec asks.

use crate::bindings::agentrace::plugin::types::{
    AgentSpan, Attribute, LogRecord, Operation, OtelSpan, SpanEvent, SpanKind, Value,
};
use crate::config::MapperConfig;
use crate::content;
use crate::semconv::{attr, event};

/// The attributes `gen_ai.client.inference.operation.details` may carry besides its content: the
/// `attributes.gen_ai.inference.client` group of the spec (with the common client attributes it
/// extends). The mapped span's values of these keys are copied.
const INFERENCE_DETAILS_KEYS: &[&str] = &[
    attr::REQUEST_MODEL,
    attr::OPERATION_NAME,
    attr::ERROR_TYPE,
    attr::SERVER_ADDRESS,
    attr::SERVER_PORT,
    attr::REQUEST_MAX_TOKENS,
    attr::REQUEST_CHOICE_COUNT,
    attr::REQUEST_TEMPERATURE,
    attr::REQUEST_TOP_P,
    attr::REQUEST_STOP_SEQUENCES,
    attr::REQUEST_FREQUENCY_PENALTY,
    attr::REQUEST_PRESENCE_PENALTY,
    attr::REQUEST_SEED,
    attr::REQUEST_STREAM,
    attr::OUTPUT_TYPE,
    attr::RESPONSE_ID,
    attr::RESPONSE_MODEL,
    attr::RESPONSE_FINISH_REASONS,
    attr::RESPONSE_TIME_TO_FIRST_CHUNK,
    attr::USAGE_INPUT_TOKENS,
    attr::USAGE_CACHE_READ_INPUT_TOKENS,
    attr::USAGE_CACHE_CREATION_INPUT_TOKENS,
    attr::USAGE_OUTPUT_TOKENS,
    attr::USAGE_REASONING_OUTPUT_TOKENS,
    attr::CONVERSATION_ID,
];

/// Whether a runtime's span event is an evaluation result the mappers move to the logs signal:
/// named `gen_ai.evaluation.result` and carrying the required `gen_ai.evaluation.name` as a
/// string. One without it stays on the span as the runtime reported it.
pub fn is_evaluation(event: &SpanEvent) -> bool {
    event.name == event::EVALUATION_RESULT
        && event
            .attributes
            .iter()
            .any(|a| a.key == attr::EVALUATION_NAME && matches!(a.value, Value::Str(_)))
}

/// The log records of one mapped record, in the order: details, evaluations, exception.
pub fn for_record(record: &AgentSpan, span: &OtelSpan, config: &MapperConfig) -> Vec<LogRecord> {
    let mut logs = Vec::new();
    let mut push = |time: u64, event_name: &str, severity_number: u8, attributes| {
        logs.push(LogRecord {
            trace_id: record.trace_id,
            span_id: record.span_id,
            time,
            event_name: event_name.to_string(),
            severity_number,
            attributes,
        });
    };
    if config.emit_event && is_inference(record.operation) {
        push(
            record.end_time,
            event::INFERENCE_DETAILS,
            0,
            inference_details(record, span, config.capture_content_in_events),
        );
    }
    for evaluation in record.events.iter().filter(|e| is_evaluation(e)) {
        push(
            evaluation.time,
            event::EVALUATION_RESULT,
            0,
            evaluation_attributes(record, evaluation),
        );
    }
    if span.kind == SpanKind::Client
        && let Some(attributes) = exception_attributes(record)
    {
        push(
            record.end_time,
            event::CLIENT_EXCEPTION,
            event::SEVERITY_WARN,
            attributes,
        );
    }
    logs
}

/// The exception's attributes, when the record ended in an error: from the runtime's own
/// `exception` span event when it reported one (with its stack trace), else from the record's
/// error (`exception.type` its type, `exception.message` its message). `None` without an error.
pub fn exception_attributes(record: &AgentSpan) -> Option<Vec<Attribute>> {
    let error = record.error.as_ref()?;
    if let Some(reported) = record.events.iter().find(|e| e.name == event::EXCEPTION) {
        let kept: Vec<Attribute> = reported
            .attributes
            .iter()
            .filter(|a| a.key.starts_with("exception."))
            .cloned()
            .collect();
        if !kept.is_empty() {
            return Some(kept);
        }
    }
    let mut attributes = vec![Attribute {
        key: attr::EXCEPTION_TYPE.to_string(),
        value: Value::Str(error.type_.clone()),
    }];
    if let Some(message) = &error.message {
        attributes.push(Attribute {
            key: attr::EXCEPTION_MESSAGE.to_string(),
            value: Value::Str(message.clone()),
        });
    }
    Some(attributes)
}

fn is_inference(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::Chat | Operation::TextCompletion | Operation::GenerateContent
    )
}

fn inference_details(record: &AgentSpan, span: &OtelSpan, with_content: bool) -> Vec<Attribute> {
    let mut attributes: Vec<Attribute> = span
        .attributes
        .iter()
        .filter(|a| INFERENCE_DETAILS_KEYS.contains(&a.key.as_str()))
        .cloned()
        .collect();
    if with_content {
        let mut json = |key: &str, text: String| {
            attributes.push(Attribute {
                key: key.to_string(),
                value: Value::Json(text),
            })
        };
        if !record.system_instructions.is_empty() {
            json(
                attr::SYSTEM_INSTRUCTIONS,
                content::system_instructions(&record.system_instructions),
            );
        }
        if !record.input_messages.is_empty() {
            json(
                attr::INPUT_MESSAGES,
                content::input_messages(&record.input_messages),
            );
        }
        if !record.output_messages.is_empty() {
            json(
                attr::OUTPUT_MESSAGES,
                content::output_messages(&record.output_messages),
            );
        }
        if !record.tool_definitions.is_empty() {
            json(
                attr::TOOL_DEFINITIONS,
                content::tool_definitions(&record.tool_definitions, true),
            );
        }
    }
    attributes
}

/// The evaluation's attributes as reported, with the evaluated call's `gen_ai.response.id`
/// added when the runtime did not give one (the spec recommends it for correlation).
fn evaluation_attributes(record: &AgentSpan, evaluation: &SpanEvent) -> Vec<Attribute> {
    let mut attributes = evaluation.attributes.clone();
    let response_id = record.response.as_ref().and_then(|r| r.id.as_ref());
    if let Some(id) = response_id
        && !attributes.iter().any(|a| a.key == attr::RESPONSE_ID)
    {
        attributes.push(Attribute {
            key: attr::RESPONSE_ID.to_string(),
            value: Value::Str(id.clone()),
        });
    }
    attributes
}
