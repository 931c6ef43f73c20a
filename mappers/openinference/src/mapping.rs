//! One finished `agent-span` record becomes one span on the OpenInference convention.
//!
//! Span kinds:
//!
//! | agentrace operation | `openinference.span.kind` |
//! |---|---|
//! | chat, text_completion, generate_content | `LLM` |
//! | embeddings | `EMBEDDING` |
//! | retrieval | `RETRIEVER` |
//! | execute_tool, code_execution | `TOOL` |
//! | invoke_agent, create_agent | `AGENT` |
//! | guardrail | `GUARDRAIL` |
//! | invoke_workflow, conversation, multi_conversation, speaker_selection, human_input, handoff | `CHAIN` |
//!
//! The agent concepts OpenInference has no kind for keep their `agentrace.*` attributes (the
//! GenAI mapper's, `agentrace_mapping::mapping::agent_concept`). Span names, OpenTelemetry span
//! kinds, status, events and links are the GenAI mapper's. Token counts go on `LLM` and
//! `EMBEDDING` spans only, where Phoenix sums them; other spans keep theirs as
//! `agentrace.usage.*`, so a trace's total is not counted twice (Phoenix also counts
//! `gen_ai.usage.*`). The runtime's own attributes go
//! into `metadata`, a JSON object.
//!
//! Content (messages, tool arguments and results, `input.value`, `output.value`, documents,
//! tool schemas) is written only when capture is on, and then OpenInference's own
//! `OPENINFERENCE_HIDE_*` settings ([`crate::settings`]) hide more.

use agentrace_mapping::attrs::{
    Attrs, agent_name, check_record, request_model, span_name, span_of, status,
};
use agentrace_mapping::bindings::agentrace::plugin::types::{
    AgentSpan, MappedBatch, MappedBatchWithLogs, Operation, OtelSpan, ProviderDetails, Value,
};
use agentrace_mapping::config::MapperConfig;
use agentrace_mapping::content::{input_messages, json_or_string};
use agentrace_mapping::mapping::{agent_concept, map_each, span_kind};
use agentrace_mapping::provider;
use agentrace_mapping::semconv::{attr, op, vendor};
use serde_json::{Map, json};

use crate::keys::{self, kind, mime};
use crate::messages::{self, MessageFilter};
use crate::settings::Settings;

/// Maps a batch. Records that cannot be mapped (invalid ids, end before start) are listed in
/// `rejected` with their reason; the others are unaffected. OpenInference has no schema URL.
pub fn map_batch(records: &[AgentSpan], settings: &Settings) -> MappedBatch {
    map_records(records, &[], settings).batch
}

/// Maps a batch as [`map_batch`] does, with each record's provider details (`details[i]` for
/// `records[i]`) and the GenAI events OpenInference has no equivalent for on the logs signal:
/// evaluation results and client exceptions. The opt-in inference details event is GenAI's
/// form of the content this mapper puts on its spans, so it is not emitted here.
pub fn map_records(
    records: &[AgentSpan],
    details: &[Option<ProviderDetails>],
    settings: &Settings,
) -> MappedBatchWithLogs {
    let events = MapperConfig {
        emit_event: false,
        ..settings.base
    };
    map_each(
        records,
        details,
        "",
        |record, details| map_span(record, details, settings),
        Some(&events),
    )
}

/// The OpenInference span kind of an operation (see the module's table).
pub fn openinference_kind(operation: Operation) -> &'static str {
    match operation {
        Operation::Chat | Operation::TextCompletion | Operation::GenerateContent => kind::LLM,
        Operation::Embeddings => kind::EMBEDDING,
        Operation::Retrieval => kind::RETRIEVER,
        Operation::ExecuteTool | Operation::CodeExecution => kind::TOOL,
        Operation::InvokeAgent | Operation::CreateAgent => kind::AGENT,
        Operation::Guardrail => kind::GUARDRAIL,
        Operation::InvokeWorkflow
        | Operation::Conversation
        | Operation::MultiConversation
        | Operation::SpeakerSelection
        | Operation::HumanInput
        | Operation::Handoff => kind::CHAIN,
    }
}

/// `llm.provider` and `llm.system` for a runtime's provider name: the hosting provider and the
/// API's vendor, in OpenInference's well-known values (`azure` hosts `openai`'s API, `aws`
/// hosts Bedrock's own `amazon` API, `google` hosts `vertexai`).
fn provider_and_system(raw: &str) -> (String, String) {
    let normalized = provider::normalize(raw);
    let (provider, system) = match normalized.as_str() {
        "azure.ai.openai" => ("azure", "openai"),
        "azure.ai.inference" => ("azure", "azure"),
        "aws.bedrock" => ("aws", "amazon"),
        "gcp.gemini" | "gcp.gen_ai" | "gcp.vertex_ai" => ("google", "vertexai"),
        "mistral_ai" => ("mistralai", "mistralai"),
        "x_ai" => ("xai", "xai"),
        other => (other, other),
    };
    (provider.to_string(), system.to_string())
}

/// What content may be written on this span.
struct Content<'s> {
    settings: &'s Settings,
}

impl Content<'_> {
    fn captured(&self) -> bool {
        self.settings.base.capture_content
    }
    /// `input.value` and its mime type; `__REDACTED__` under `hide-inputs`.
    fn input(&self, a: &mut Attrs, value: Option<String>, mime_type: &str) {
        let Some(value) = value.filter(|_| self.captured()) else {
            return;
        };
        let value = if self.settings.hide.inputs {
            keys::REDACTED.to_string()
        } else {
            value
        };
        a.str(keys::INPUT_VALUE, &value);
        a.str(keys::INPUT_MIME_TYPE, mime_type);
    }
    /// `output.value` and its mime type; `__REDACTED__` under `hide-outputs`.
    fn output(&self, a: &mut Attrs, value: Option<String>, mime_type: &str) {
        let Some(value) = value.filter(|_| self.captured()) else {
            return;
        };
        let value = if self.settings.hide.outputs {
            keys::REDACTED.to_string()
        } else {
            value
        };
        a.str(keys::OUTPUT_VALUE, &value);
        a.str(keys::OUTPUT_MIME_TYPE, mime_type);
    }
    /// A JSON value as `output.value`: a JSON string as plain text, anything else as JSON.
    fn output_json(&self, a: &mut Attrs, raw: Option<&String>) {
        let Some(raw) = raw else { return };
        match json_or_string(raw) {
            serde_json::Value::String(text) => self.output(a, Some(text), mime::TEXT),
            _ => self.output(a, Some(raw.clone()), mime::JSON),
        }
    }
}

/// The record's messages as `input.value` (JSON, in the GenAI parts form, since OpenInference
/// leaves its shape to the producer) and the last output message's text as `output.value`.
fn message_values(record: &AgentSpan, content: &Content, a: &mut Attrs) {
    if !record.input_messages.is_empty() {
        content.input(a, Some(input_messages(&record.input_messages)), mime::JSON);
    }
    if let Some(last) = record.output_messages.last() {
        match messages::plain_text(last) {
            Some(text) => content.output(a, Some(text), mime::TEXT),
            None => content.output(
                a,
                Some(agentrace_mapping::content::output_messages(
                    std::slice::from_ref(last),
                )),
                mime::JSON,
            ),
        }
    }
}

/// `llm.invocation_parameters` (or `embedding.invocation_parameters`): the request's
/// parameters as a JSON object, the names as OpenAI's API spells them.
fn invocation_parameters(record: &AgentSpan) -> Option<String> {
    let request = record.request.as_ref()?;
    let mut p = Map::new();
    let mut put = |key: &str, value: Option<serde_json::Value>| {
        if let Some(value) = value {
            p.insert(key.into(), value);
        }
    };
    put("model", request.model.as_ref().map(|m| json!(m)));
    put("temperature", request.temperature.map(|v| json!(v)));
    put("top_p", request.top_p.map(|v| json!(v)));
    put("top_k", request.top_k.map(|v| json!(v)));
    put("max_tokens", request.max_tokens.map(|v| json!(v)));
    put(
        "frequency_penalty",
        request.frequency_penalty.map(|v| json!(v)),
    );
    put(
        "presence_penalty",
        request.presence_penalty.map(|v| json!(v)),
    );
    put(
        "stop",
        (!request.stop_sequences.is_empty()).then(|| json!(request.stop_sequences)),
    );
    put("seed", request.seed.map(|v| json!(v)));
    put("n", request.choice_count.map(|v| json!(v)));
    put("stream", request.stream.map(|v| json!(v)));
    put("dimensions", request.dimension_count.map(|v| json!(v)));
    put(
        "encoding_format",
        (!request.encoding_formats.is_empty()).then(|| json!(request.encoding_formats)),
    );
    (!p.is_empty()).then(|| serde_json::Value::Object(p).to_string())
}

/// `llm.token_count.*`; the total is the sum when the runtime gave both sides.
fn token_counts(record: &AgentSpan, a: &mut Attrs) {
    let Some(usage) = &record.usage else { return };
    a.opt_int(keys::TOKENS_PROMPT, usage.input_tokens);
    a.opt_int(keys::TOKENS_COMPLETION, usage.output_tokens);
    if let (Some(input), Some(output)) = (usage.input_tokens, usage.output_tokens) {
        a.push(keys::TOKENS_TOTAL, Value::Int(input.saturating_add(output)));
    }
    a.opt_int(keys::TOKENS_CACHE_READ, usage.cache_read_input_tokens);
    a.opt_int(keys::TOKENS_CACHE_WRITE, usage.cache_creation_input_tokens);
    a.opt_int(keys::TOKENS_REASONING, usage.reasoning_output_tokens);
}

/// Token usage of a span that is not a model call, under agentrace's names (see
/// [`keys::AGENTRACE_INPUT_TOKENS`]: found when Phoenix counted the AG2 example's tokens three
/// times with `gen_ai.usage.*` here).
fn usage_detail(record: &AgentSpan, a: &mut Attrs) {
    let Some(usage) = &record.usage else { return };
    a.opt_int(keys::AGENTRACE_INPUT_TOKENS, usage.input_tokens);
    a.opt_int(keys::AGENTRACE_OUTPUT_TOKENS, usage.output_tokens);
    a.opt_float(vendor::USAGE_COST, usage.cost);
}

/// An LLM span: model, provider, parameters, tokens, tools and (captured) messages.
fn model_call(record: &AgentSpan, settings: &Settings, content: &Content, a: &mut Attrs) {
    let requested = request_model(record);
    let answered = record.response.as_ref().and_then(|r| r.model.as_ref());
    a.opt_str(keys::LLM_MODEL_NAME, answered.or(requested));
    if let (Some(requested), Some(answered)) = (requested, answered)
        && requested != answered
    {
        a.str(keys::LLM_REQUEST_MODEL_NAME, requested);
        a.str(keys::LLM_RESPONSE_MODEL_NAME, answered);
    }
    if let Some(raw) = &record.provider {
        let (provider, system) = provider_and_system(raw);
        a.str(keys::LLM_PROVIDER, &provider);
        a.str(keys::LLM_SYSTEM, &system);
    }
    if !settings.hide.invocation_parameters
        && let Some(parameters) = invocation_parameters(record)
    {
        a.str(keys::LLM_INVOCATION_PARAMETERS, &parameters);
    }
    token_counts(record, a);
    // Tool names are not content (as in the GenAI mapper); their schemas are.
    if !settings.hide.tools_hidden() {
        messages::tools(&record.tool_definitions, content.captured(), a);
    }
    if !content.captured() {
        return;
    }
    let hide = &settings.hide;
    if record.operation == Operation::TextCompletion {
        completion_texts(record, settings, a);
    } else {
        if !hide.input_messages_hidden() {
            let filter = MessageFilter {
                hide_text: hide.input_text,
                hide_images: hide.input_images,
                image_max_length: settings.image_max_length,
            };
            let system = messages::system_message(&record.system_instructions);
            let next = messages::flatten(keys::LLM_INPUT_MESSAGES, 0, system.as_slice(), filter, a);
            messages::flatten(
                keys::LLM_INPUT_MESSAGES,
                next,
                &record.input_messages,
                filter,
                a,
            );
        }
        if !hide.output_messages_hidden() {
            let filter = MessageFilter {
                hide_text: hide.output_text,
                hide_images: false,
                image_max_length: settings.image_max_length,
            };
            messages::flatten(
                keys::LLM_OUTPUT_MESSAGES,
                0,
                &record.output_messages,
                filter,
                a,
            );
        }
    }
    message_values(record, content, a);
}

/// The legacy completions API: `llm.prompts.N.prompt.text` and `llm.choices.N.completion.text`.
fn completion_texts(record: &AgentSpan, settings: &Settings, a: &mut Attrs) {
    let hide = &settings.hide;
    if !(hide.prompts || hide.input_messages_hidden()) {
        let prompts = record
            .input_messages
            .iter()
            .filter_map(messages::plain_text);
        for (index, text) in prompts.enumerate() {
            a.str(&format!("{}.{index}.prompt.text", keys::LLM_PROMPTS), &text);
        }
    }
    if !(hide.choices || hide.output_messages_hidden()) {
        let choices = record
            .output_messages
            .iter()
            .filter_map(messages::plain_text);
        for (index, text) in choices.enumerate() {
            a.str(
                &format!("{}.{index}.completion.text", keys::LLM_CHOICES),
                &text,
            );
        }
    }
}

/// The text of the last input message, for spans whose input is a conversation turn.
fn last_input_text(record: &AgentSpan) -> Option<String> {
    record.input_messages.last().and_then(messages::plain_text)
}

/// Maps one record, or says why it cannot be mapped.
/// Maps one record with its provider details (written under the OpenTelemetry provider
/// namespaces, as the GenAI mapper does: OpenInference has none), or says why it cannot be
/// mapped.
pub fn map_span(
    record: &AgentSpan,
    details: Option<&ProviderDetails>,
    settings: &Settings,
) -> Result<OtelSpan, String> {
    check_record(record)?;
    let content = Content { settings };
    let mut a = Attrs::for_span();
    a.str(keys::SPAN_KIND, openinference_kind(record.operation));

    let name = match record.operation {
        Operation::Chat | Operation::TextCompletion | Operation::GenerateContent => {
            model_call(record, settings, &content, &mut a);
            let base = match record.operation {
                Operation::Chat => op::CHAT,
                Operation::TextCompletion => op::TEXT_COMPLETION,
                _ => op::GENERATE_CONTENT,
            };
            span_name(base, request_model(record))
        }
        Operation::Embeddings => {
            a.opt_str(keys::EMBEDDING_MODEL_NAME, request_model(record));
            if !settings.hide.invocation_parameters
                && let Some(parameters) = invocation_parameters(record)
            {
                a.str(keys::EMBEDDING_INVOCATION_PARAMETERS, &parameters);
            }
            token_counts(record, &mut a);
            span_name(op::EMBEDDINGS, request_model(record))
        }
        Operation::Retrieval => {
            let retrieval = record.retrieval.as_ref();
            let source = retrieval.and_then(|r| r.data_source_id.as_ref());
            a.opt_str(attr::DATA_SOURCE_ID, source);
            if let Some(r) = retrieval {
                content.input(&mut a, r.query_text.clone(), mime::TEXT);
                if content.captured()
                    && !settings.hide.outputs
                    && let Some(documents) = &r.documents
                {
                    messages::documents(documents, &mut a);
                }
            }
            span_name(op::RETRIEVAL, source)
        }
        Operation::ExecuteTool => {
            let tool = record.tool.as_ref();
            if let Some(tool) = tool {
                a.str(keys::TOOL_NAME, &tool.name);
                a.opt_str(keys::TOOL_DESCRIPTION, tool.description.as_ref());
                a.opt_str(keys::TOOL_ID, tool.call_id.as_ref());
                content.input(&mut a, tool.arguments.clone(), mime::JSON);
                content.output_json(&mut a, tool.result.as_ref());
            }
            span_name(op::EXECUTE_TOOL, tool.map(|t| &t.name))
        }
        Operation::InvokeAgent | Operation::CreateAgent => {
            a.opt_str(keys::AGENT_NAME, agent_name(record));
            if let Some(agent) = &record.agent {
                a.opt_str(attr::AGENT_ID, agent.id.as_ref());
                a.opt_str(attr::AGENT_DESCRIPTION, agent.description.as_ref());
                a.opt_str(attr::AGENT_VERSION, agent.version.as_ref());
            }
            a.opt_str(keys::LLM_MODEL_NAME, request_model(record));
            if record.server.is_some() {
                a.push(vendor::AGENT_REMOTE, Value::Boolean(true));
            }
            content.input(&mut a, last_input_text(record), mime::TEXT);
            if let Some(last) = record.output_messages.last() {
                content.output(&mut a, messages::plain_text(last), mime::TEXT);
            }
            usage_detail(record, &mut a);
            let base = if record.operation == Operation::InvokeAgent {
                op::INVOKE_AGENT
            } else {
                op::CREATE_AGENT
            };
            span_name(base, agent_name(record))
        }
        Operation::InvokeWorkflow => {
            a.opt_str(attr::WORKFLOW_NAME, record.workflow_name.as_ref());
            message_values(record, &content, &mut a);
            usage_detail(record, &mut a);
            span_name(op::INVOKE_WORKFLOW, record.workflow_name.as_ref())
        }
        _ => {
            let name = agent_concept(record, &settings.base, &mut a);
            concept_values(record, &content, &mut a);
            usage_detail(record, &mut a);
            name
        }
    };

    a.opt_str(keys::SESSION_ID, record.conversation_id.as_ref());
    if let Some(details) = details {
        let provider_name = record.provider.as_deref().map(provider::normalize);
        provider::write_details(provider_name.as_deref(), details, &mut a);
    }
    if let Some(server) = &record.server {
        a.str(attr::SERVER_ADDRESS, &server.address);
        a.opt_int(attr::SERVER_PORT, server.port.map(i64::from));
    }
    if record.incomplete {
        a.push(vendor::INCOMPLETE, Value::Boolean(true));
    }
    let status = status(record, &mut a);
    if let Some(metadata) = metadata(record) {
        a.str(keys::METADATA, &metadata);
    }
    Ok(span_of(record, name, span_kind(record), a, status))
}

/// `input.value` / `output.value` of the agent concepts: what the human was asked and
/// answered, the code run and its output, the conversation's first message and summary, the
/// speaker chosen.
fn concept_values(record: &AgentSpan, content: &Content, a: &mut Attrs) {
    match record.operation {
        Operation::HumanInput => {
            if let Some(h) = &record.human_input {
                content.input(a, h.prompt.clone(), mime::TEXT);
                content.output(a, h.response.clone(), mime::TEXT);
            }
        }
        Operation::CodeExecution => {
            a.str(keys::TOOL_NAME, "code_execution");
            if let Some(c) = &record.code_execution {
                content.input(a, c.code.clone(), mime::TEXT);
                content.output(a, c.output.clone(), mime::TEXT);
            }
        }
        Operation::Conversation => {
            let first = record.input_messages.first().and_then(messages::plain_text);
            content.input(a, first, mime::TEXT);
            let summary = record.conversation.as_ref().and_then(|c| c.summary.clone());
            content.output(a, summary, mime::TEXT);
        }
        Operation::SpeakerSelection => {
            // The chosen agent's name is not content: written without capture, unless
            // outputs are hidden.
            let selected = record.speaker_selection.as_ref();
            if !content.settings.hide.outputs
                && let Some(selected) = selected.and_then(|s| s.selected.as_ref())
            {
                a.str(keys::OUTPUT_VALUE, selected);
                a.str(keys::OUTPUT_MIME_TYPE, mime::TEXT);
            }
        }
        _ => {}
    }
}

/// The runtime's own attributes as OpenInference's `metadata`: one JSON object. Structured
/// values stay structured.
fn metadata(record: &AgentSpan) -> Option<String> {
    if record.attributes.is_empty() {
        return None;
    }
    let mut object = Map::new();
    for attribute in &record.attributes {
        let value = match &attribute.value {
            Value::Str(s) => json!(s),
            Value::Int(i) => json!(i),
            Value::Float(f) => json!(f),
            Value::Boolean(b) => json!(b),
            Value::StrArray(v) => json!(v),
            Value::IntArray(v) => json!(v),
            Value::FloatArray(v) => json!(v),
            Value::BoolArray(v) => json!(v),
            Value::Json(text) => json_or_string(text),
        };
        object.insert(attribute.key.clone(), value);
    }
    Some(serde_json::Value::Object(object).to_string())
}
