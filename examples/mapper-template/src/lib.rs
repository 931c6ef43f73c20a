//! A template agentrace mapper, in Rust: the starting point for a convention of your own.
//!
//! Build it as a component and run it:
//!
//! ```sh
//! rustup target add wasm32-wasip2
//! cargo build -p agentrace-mapper-template --target wasm32-wasip2 --release
//! agentrace check target/wasm32-wasip2/release/agentrace_mapper_template.wasm
//! agentrace replay examples/ag2-group-chat.jsonl \
//!   --mapper target/wasm32-wasip2/release/agentrace_mapper_template.wasm --config prefix=acme
//! ```
//!
//! It maps every agent span to one span named after its operation and target
//! (`chat gpt-4o-mini`, `execute_tool get_weather`), with a few attributes under one prefix:
//! `{prefix}.operation`, `{prefix}.agent`, `{prefix}.model`, `{prefix}.tool`,
//! `{prefix}.input_tokens`, `{prefix}.output_tokens`, and, only when the host captures content,
//! `{prefix}.input` (the last input message's text) and `{prefix}.output` (the reply's).
//!
//! Configuration (read through the host's `config` import):
//! - `prefix`: the attribute namespace (default `app`);
//! - `capture-content`: `true` to write content; the host sets it from `--capture-content` and
//!   `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`. Content stays out otherwise.
//!
//! The rules every mapper follows: one span per record, with the record's ids, parent, times,
//! events and links unchanged (the host checks nothing is re-parented); a record that cannot be
//! mapped goes into `rejected` with its reason and the rest of the batch is unaffected; `Err`
//! only for a configuration it cannot work with — the host then maps that batch with its
//! minimal built-in mapping, so no span is lost. The mapper keeps no state between calls: each
//! record is a finished span, complete.

#[allow(missing_docs, unsafe_code, reason = "generated bindings")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mapper-plugin",
    });
}

use bindings::agentrace::plugin::host;
use bindings::agentrace::plugin::types::{
    AgentSpan, Attribute, MappedBatch, MessagePart, Operation, OtelEvent, OtelSpan, RejectedRecord,
    SpanKind, SpanStatus, Value,
};
use bindings::exports::agentrace::plugin::mapper::{Guest, PluginInfo};

/// The mapper.
pub struct Template;

/// The operation's name in span names and in `{prefix}.operation`.
fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Chat => "chat",
        Operation::TextCompletion => "text_completion",
        Operation::GenerateContent => "generate_content",
        Operation::Embeddings => "embeddings",
        Operation::Retrieval => "retrieval",
        Operation::CreateAgent => "create_agent",
        Operation::InvokeAgent => "invoke_agent",
        Operation::ExecuteTool => "execute_tool",
        Operation::InvokeWorkflow => "invoke_workflow",
        Operation::Conversation => "conversation",
        Operation::MultiConversation => "multi_conversation",
        Operation::SpeakerSelection => "speaker_selection",
        Operation::HumanInput => "human_input",
        Operation::CodeExecution => "code_execution",
        Operation::Handoff => "handoff",
        Operation::Guardrail => "guardrail",
    }
}

/// Whether the operation is a call to a model, named after the model.
fn is_model_call(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::Chat
            | Operation::TextCompletion
            | Operation::GenerateContent
            | Operation::Embeddings
    )
}

/// The text parts of the last message in `messages`, joined.
fn last_text(messages: &[bindings::agentrace::plugin::types::Message]) -> Option<String> {
    let texts: Vec<&str> = messages
        .last()?
        .parts
        .iter()
        .filter_map(|part| match part {
            MessagePart::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// Maps one record, or says why it cannot be.
fn map_one(record: &AgentSpan, prefix: &str, capture: bool) -> Result<OtelSpan, String> {
    if record.trace_id == (0, 0) || record.span_id == 0 {
        return Err("invalid trace or span id".to_string());
    }
    if record.end_time < record.start_time {
        return Err("ends before it starts".to_string());
    }
    let mut attributes = Vec::new();
    let mut put = |key: &str, value: Value| {
        attributes.push(Attribute {
            key: format!("{prefix}.{key}"),
            value,
        })
    };
    let operation = operation_name(record.operation);
    put("operation", Value::Str(operation.to_string()));
    let agent = record.agent.as_ref().and_then(|a| a.name.clone());
    let model = record.request.as_ref().and_then(|r| r.model.clone());
    let tool = record.tool.as_ref().map(|t| t.name.clone());
    for (key, value) in [("agent", &agent), ("model", &model), ("tool", &tool)] {
        if let Some(value) = value {
            put(key, Value::Str(value.clone()));
        }
    }
    if let Some(usage) = &record.usage {
        for (key, tokens) in [
            ("input_tokens", usage.input_tokens),
            ("output_tokens", usage.output_tokens),
        ] {
            if let Some(tokens) = tokens {
                put(key, Value::Int(tokens));
            }
        }
    }
    if capture {
        if let Some(text) = last_text(&record.input_messages) {
            put("input", Value::Str(text));
        }
        if let Some(text) = last_text(&record.output_messages) {
            put("output", Value::Str(text));
        }
    }
    let target = if is_model_call(record.operation) {
        model
    } else {
        tool.or(agent)
    };
    let name = match target {
        Some(target) => format!("{operation} {target}"),
        None => operation.to_string(),
    };
    let status = match &record.error {
        Some(error) => SpanStatus::Error(error.message.clone().unwrap_or(error.type_.clone())),
        None => SpanStatus::Unset,
    };
    Ok(OtelSpan {
        trace_id: record.trace_id,
        span_id: record.span_id,
        parent_span_id: record.parent_span_id,
        parent_is_remote: record.parent_is_remote,
        name,
        kind: if record.server.is_some() {
            SpanKind::Client
        } else {
            SpanKind::Internal
        },
        start_time: record.start_time,
        end_time: record.end_time,
        attributes,
        events: record
            .events
            .iter()
            .map(|e| OtelEvent {
                name: e.name.clone(),
                time: e.time,
                attributes: e.attributes.clone(),
            })
            .collect(),
        links: record.links.clone(),
        status,
    })
}

impl Guest for Template {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "agentrace-mapper-template".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            semconv_version: "in-house".to_string(),
        }
    }

    fn map_spans(records: Vec<AgentSpan>) -> Result<MappedBatch, String> {
        let prefix = host::config("prefix").unwrap_or_else(|| "app".to_string());
        if prefix.is_empty() || prefix.contains(char::is_whitespace) {
            return Err(format!(
                "config `prefix`: `{prefix}` is not an attribute namespace"
            ));
        }
        let capture = host::config("capture-content").is_some_and(|v| v == "true");
        let mut batch = MappedBatch {
            spans: Vec::with_capacity(records.len()),
            metrics: Vec::new(),
            rejected: Vec::new(),
            schema_url: String::new(),
        };
        for record in &records {
            match map_one(record, &prefix, capture) {
                Ok(span) => batch.spans.push(span),
                Err(reason) => batch.rejected.push(RejectedRecord {
                    span_id: record.span_id,
                    reason,
                }),
            }
        }
        Ok(batch)
    }
}

/// The component's exported symbols.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "generated export glue for the canonical ABI")]
mod export {
    use crate::Template;
    crate::bindings::export!(Template with_types_in crate::bindings);
}
