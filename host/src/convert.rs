//! Conversions at the two edges of the component: the host's span record into the WIT
//! `agent-span`, and the WIT `otel-span` into OpenTelemetry SDK span data for the exporters.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext as OtelSpanContext, SpanKind, Status, TraceFlags, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::bindings::types as wit;
use crate::events::Operation;
use crate::ids::{SpanId, TraceId};
use crate::record::{AttrValue, Attributes, LinkInfo, Message, Part, SpanFields};

/// A span whose end has been reported, ready for mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedSpan {
    /// Its trace.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent.
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent is in another process.
    pub parent_is_remote: bool,
    /// What it stands for.
    pub operation: Operation,
    /// Unix nanoseconds.
    pub start_time: u64,
    /// Unix nanoseconds.
    pub end_time: u64,
    /// Ended by the host at shutdown, not by the runtime.
    pub incomplete: bool,
    /// Everything reported, merged (boxed: 1.6 KB that would otherwise move at every step).
    pub fields: Box<SpanFields>,
    /// Events reported while open.
    pub events: Vec<(String, u64, Attributes)>,
}

fn attr_value(value: &AttrValue) -> wit::Value {
    match value {
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

fn attributes(attrs: &Attributes) -> Vec<wit::Attribute> {
    attrs
        .iter()
        .map(|(key, value)| wit::Attribute {
            key: key.clone(),
            value: attr_value(value),
        })
        .collect()
}

fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

fn string_field(part: &serde_json::Value, key: &str) -> Option<String> {
    part.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

fn media(part: &serde_json::Value, content_key: &str) -> wit::Media {
    wit::Media {
        modality: string_field(part, "modality"),
        mime_type: string_field(part, "mime_type"),
        content: string_field(part, content_key).unwrap_or_default(),
    }
}

fn part(part: &Part) -> wit::MessagePart {
    let value = &part.0;
    let text = |key| string_field(value, key).unwrap_or_default();
    match value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
    {
        "text" => wit::MessagePart::Text(text("content")),
        "reasoning" => wit::MessagePart::Reasoning(text("content")),
        "tool_call" => wit::MessagePart::ToolCall(wit::ToolCallRequest {
            id: string_field(value, "id"),
            name: text("name"),
            arguments: value.get("arguments").map(json_text),
        }),
        "tool_call_response" => wit::MessagePart::ToolCallResponse(wit::ToolCallResponse {
            id: string_field(value, "id"),
            response: value.get("response").map(json_text).unwrap_or_default(),
        }),
        "blob" => wit::MessagePart::Blob(media(value, "content")),
        "uri" => wit::MessagePart::Uri(media(value, "uri")),
        "file" => wit::MessagePart::File(media(value, "file_id")),
        _ => wit::MessagePart::Other(json_text(value)),
    }
}

fn messages(list: &Option<Vec<Message>>) -> Vec<wit::Message> {
    list.iter()
        .flatten()
        .map(|m| wit::Message {
            role: m.role.clone(),
            name: m.name.clone(),
            parts: m.parts.iter().map(part).collect(),
            finish_reason: m.finish_reason.clone(),
        })
        .collect()
}

fn operation(op: Operation) -> wit::Operation {
    match op {
        Operation::Chat => wit::Operation::Chat,
        Operation::TextCompletion => wit::Operation::TextCompletion,
        Operation::GenerateContent => wit::Operation::GenerateContent,
        Operation::Embeddings => wit::Operation::Embeddings,
        Operation::Retrieval => wit::Operation::Retrieval,
        Operation::CreateAgent => wit::Operation::CreateAgent,
        Operation::InvokeAgent => wit::Operation::InvokeAgent,
        Operation::ExecuteTool => wit::Operation::ExecuteTool,
        Operation::InvokeWorkflow => wit::Operation::InvokeWorkflow,
        Operation::Conversation => wit::Operation::Conversation,
        Operation::MultiConversation => wit::Operation::MultiConversation,
        Operation::SpeakerSelection => wit::Operation::SpeakerSelection,
        Operation::HumanInput => wit::Operation::HumanInput,
        Operation::CodeExecution => wit::Operation::CodeExecution,
        Operation::Handoff => wit::Operation::Handoff,
        Operation::Guardrail => wit::Operation::Guardrail,
    }
}

fn link(link: &LinkInfo) -> Option<wit::SpanLink> {
    Some(wit::SpanLink {
        trace_id: TraceId::from_hex(&link.trace_id).ok()?.halves(),
        span_id: SpanId::from_hex(&link.span_id).ok()?.0,
        attributes: attributes(&link.attributes),
    })
}

/// The WIT record handed to the mapper.
pub fn to_agent_span(span: &FinishedSpan) -> wit::AgentSpan {
    let f = &span.fields;
    wit::AgentSpan {
        trace_id: span.trace_id.halves(),
        span_id: span.span_id.0,
        parent_span_id: span.parent_span_id.map(|p| p.0),
        parent_is_remote: span.parent_is_remote,
        operation: operation(span.operation),
        start_time: span.start_time,
        end_time: span.end_time,
        incomplete: span.incomplete,
        agent: f.agent.as_ref().map(|a| wit::AgentInfo {
            name: a.name.clone(),
            id: a.id.clone(),
            description: a.description.clone(),
            version: a.version.clone(),
        }),
        conversation_id: f.conversation_id.clone(),
        provider: f.provider.clone(),
        request: f.request.as_ref().map(|r| wit::ModelRequest {
            model: r.model.clone(),
            temperature: r.temperature,
            top_p: r.top_p,
            top_k: r.top_k,
            max_tokens: r.max_tokens,
            frequency_penalty: r.frequency_penalty,
            presence_penalty: r.presence_penalty,
            stop_sequences: r.stop_sequences.clone().unwrap_or_default(),
            seed: r.seed,
            choice_count: r.choice_count,
            stream: r.stream,
            output_type: r.output_type.clone(),
            dimension_count: r.dimension_count,
            encoding_formats: r.encoding_formats.clone().unwrap_or_default(),
        }),
        response: f.response.as_ref().map(|r| wit::ModelResponse {
            model: r.model.clone(),
            id: r.id.clone(),
            finish_reasons: r.finish_reasons.clone().unwrap_or_default(),
            time_to_first_chunk: r.time_to_first_chunk,
        }),
        usage: f.usage.as_ref().map(|u| wit::Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            reasoning_output_tokens: u.reasoning_output_tokens,
            cost: u.cost,
        }),
        server: f.server.as_ref().map(|s| wit::ServerEndpoint {
            address: s.address.clone(),
            port: s.port,
        }),
        system_instructions: f.system_instructions.iter().flatten().map(part).collect(),
        input_messages: messages(&f.input_messages),
        output_messages: messages(&f.output_messages),
        tool_definitions: f
            .tool_definitions
            .iter()
            .flatten()
            .map(|t| wit::ToolDefinition {
                type_: t.kind.clone(),
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.as_ref().map(json_text),
            })
            .collect(),
        tool: f.tool.as_ref().map(|t| wit::ToolCall {
            name: t.name.clone().unwrap_or_default(),
            call_id: t.call_id.clone(),
            type_: t.kind.clone(),
            description: t.description.clone(),
            arguments: t.arguments.as_ref().map(json_text),
            result: t.result.as_ref().map(json_text),
        }),
        workflow_name: f.workflow_name.clone(),
        retrieval: f.retrieval.as_ref().map(|r| wit::RetrievalInfo {
            data_source_id: r.data_source_id.clone(),
            query_text: r.query_text.clone(),
            documents: r.documents.as_ref().map(json_text),
        }),
        conversation: f.conversation.as_ref().map(|c| wit::ConversationInfo {
            recipient: c.recipient.clone(),
            method: c.method.clone(),
            max_turns: c.max_turns,
            turns: c.turns,
            summary: c.summary.clone(),
        }),
        multi_conversation: f
            .multi_conversation
            .as_ref()
            .map(|m| wit::MultiConversationInfo {
                mode: m.mode.clone(),
                recipients: m.recipients.clone().unwrap_or_default(),
            }),
        speaker_selection: f
            .speaker_selection
            .as_ref()
            .map(|s| wit::SpeakerSelectionInfo {
                candidates: s.candidates.clone().unwrap_or_default(),
                selected: s.selected.clone(),
                method: s.method.clone(),
            }),
        human_input: f.human_input.as_ref().map(|h| wit::HumanInputInfo {
            prompt: h.prompt.clone(),
            response: h.response.clone(),
            input_mode: h.input_mode.clone(),
        }),
        code_execution: f.code_execution.as_ref().map(|c| wit::CodeExecutionInfo {
            language: c.language.clone(),
            executor: c.executor.clone(),
            exit_code: c.exit_code,
            code: c.code.clone(),
            output: c.output.clone(),
        }),
        handoff: f.handoff.as_ref().map(|h| wit::HandoffInfo {
            source: h.source.clone(),
            target: h.target.clone(),
            reason: h.reason.clone(),
        }),
        guardrail: f.guardrail.as_ref().map(|g| wit::GuardrailInfo {
            name: g.name.clone(),
            triggered: g.triggered,
            action: g.action.clone(),
        }),
        error: f.error.as_ref().map(|e| wit::ErrorInfo {
            type_: e.kind.clone(),
            message: e.message.clone(),
        }),
        events: span
            .events
            .iter()
            .map(|(name, time, attrs)| wit::SpanEvent {
                name: name.clone(),
                time: *time,
                attributes: attributes(attrs),
            })
            .collect(),
        links: f.links.iter().flatten().filter_map(link).collect(),
        attributes: attributes(&f.attributes),
    }
}

fn time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A WIT attribute as an OpenTelemetry key/value. JSON values become strings holding the JSON,
/// which is how the GenAI conventions record structured content on spans.
pub fn key_value(attribute: wit::Attribute) -> KeyValue {
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

fn context(trace_id: (u64, u64), span_id: u64, remote: bool) -> OtelSpanContext {
    OtelSpanContext::new(
        opentelemetry::trace::TraceId::from(TraceId::from_halves(trace_id).0),
        opentelemetry::trace::SpanId::from(span_id),
        TraceFlags::SAMPLED,
        remote,
        TraceState::NONE,
    )
}

/// The SDK span data the exporters take.
pub fn to_span_data(span: wit::OtelSpan, scope: &InstrumentationScope) -> SpanData {
    let mut events = SpanEvents::default();
    events.events = span
        .events
        .into_iter()
        .map(|e| {
            opentelemetry::trace::Event::new(
                e.name,
                time(e.time),
                e.attributes.into_iter().map(key_value).collect(),
                0,
            )
        })
        .collect();
    let mut links = SpanLinks::default();
    links.links = span
        .links
        .into_iter()
        .map(|l| {
            opentelemetry::trace::Link::new(
                context(l.trace_id, l.span_id, false),
                l.attributes.into_iter().map(key_value).collect(),
                0,
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
        dropped_attributes_count: 0,
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
