//! Building the record that stands for a received span: its place in the trace, times, events,
//! links and status from the span itself ([`blank`]), the GenAI attributes every producer on
//! the conventions writes, current and deprecated names alike ([`read_genai`]), and what is
//! left ([`finish`]).

use crate::attrs::Attrs;
use crate::bindings::agentrace::plugin::types::{
    AgentInfo, AgentSpan, Attribute, ErrorInfo, ModelRequest, ModelResponse, Operation, OtelSpan,
    ProviderDetails, ServerEndpoint, SpanEvent, SpanStatus, ToolCall, Usage,
};
use crate::messages;

/// The operation a GenAI `gen_ai.operation.name` names, with the names AG2 gives its own
/// concepts.
pub fn operation_of(name: &str) -> Option<Operation> {
    Some(match name {
        "chat" => Operation::Chat,
        "text_completion" => Operation::TextCompletion,
        "generate_content" => Operation::GenerateContent,
        "embeddings" => Operation::Embeddings,
        "retrieval" => Operation::Retrieval,
        "create_agent" => Operation::CreateAgent,
        "invoke_agent" => Operation::InvokeAgent,
        "execute_tool" => Operation::ExecuteTool,
        "invoke_workflow" => Operation::InvokeWorkflow,
        "conversation" => Operation::Conversation,
        "initiate_chats" | "multi_conversation" => Operation::MultiConversation,
        "speaker_selection" => Operation::SpeakerSelection,
        "await_human_input" | "human_input" => Operation::HumanInput,
        "execute_code" | "code_execution" => Operation::CodeExecution,
        "handoff" => Operation::Handoff,
        "guardrail" => Operation::Guardrail,
        _ => return None,
    })
}

/// A record of `operation` in `span`'s place: its ids, parent, times and links; its events as
/// the record's events; everything else empty.
pub fn blank(span: &OtelSpan, operation: Operation) -> AgentSpan {
    AgentSpan {
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        parent_is_remote: span.parent_is_remote,
        operation,
        start_time: span.start_time,
        end_time: span.end_time,
        incomplete: false,
        agent: None,
        conversation_id: None,
        provider: None,
        request: None,
        response: None,
        usage: None,
        server: None,
        system_instructions: Vec::new(),
        input_messages: Vec::new(),
        output_messages: Vec::new(),
        tool_definitions: Vec::new(),
        tool: None,
        workflow_name: None,
        retrieval: None,
        conversation: None,
        multi_conversation: None,
        speaker_selection: None,
        human_input: None,
        code_execution: None,
        handoff: None,
        guardrail: None,
        error: None,
        events: span
            .events
            .iter()
            .map(|event| SpanEvent {
                name: event.name.clone(),
                time: event.time,
                attributes: event.attributes.clone(),
            })
            .collect(),
        links: span.links.clone(),
        attributes: Vec::new(),
    }
}

/// Empty provider details.
pub fn no_details() -> ProviderDetails {
    ProviderDetails {
        request_service_tier: None,
        response_service_tier: None,
        system_fingerprint: None,
        api_type: None,
        guardrail_id: None,
        knowledge_base_id: None,
    }
}

/// An empty model request.
pub fn no_request() -> ModelRequest {
    ModelRequest {
        model: None,
        temperature: None,
        top_p: None,
        top_k: None,
        max_tokens: None,
        frequency_penalty: None,
        presence_penalty: None,
        stop_sequences: Vec::new(),
        seed: None,
        choice_count: None,
        stream: None,
        output_type: None,
        dimension_count: None,
        encoding_formats: Vec::new(),
    }
}

/// The first of `keys` that is there, taken with `read`; the others are taken too (a deprecated
/// name beside its replacement says the same).
fn first<T>(
    attrs: &mut Attrs,
    keys: &[&str],
    read: fn(&mut Attrs, &str) -> Option<T>,
) -> Option<T> {
    let mut found = None;
    for key in keys {
        let value = read(attrs, key);
        if found.is_none() {
            found = value;
        }
    }
    found
}

/// `Some(value)` unless it is the empty default.
fn some_if<T: PartialEq>(value: T, empty: T) -> Option<T> {
    (value != empty).then_some(value)
}

/// Reads the GenAI attributes into `record` and `details`: the agent, provider, conversation,
/// request, response, usage, server, content, tool call and error. Deprecated names of earlier
/// versions of the conventions (`gen_ai.system`, `gen_ai.usage.prompt_tokens`,
/// `gen_ai.openai.*`) are read as their replacements.
pub fn read_genai(record: &mut AgentSpan, details: &mut ProviderDetails, attrs: &mut Attrs) {
    let agent = AgentInfo {
        name: attrs.str("gen_ai.agent.name"),
        id: attrs.str("gen_ai.agent.id"),
        description: attrs.str("gen_ai.agent.description"),
        version: attrs.str("gen_ai.agent.version"),
    };
    let no_agent = AgentInfo {
        name: None,
        id: None,
        description: None,
        version: None,
    };
    record.agent = some_if(agent, no_agent);
    record.provider = first(
        attrs,
        &["gen_ai.provider.name", "gen_ai.system"],
        Attrs::str,
    );
    record.conversation_id = attrs.str("gen_ai.conversation.id");

    let mut request = no_request();
    request.model = attrs.str("gen_ai.request.model");
    request.temperature = attrs.float("gen_ai.request.temperature");
    request.top_p = attrs.float("gen_ai.request.top_p");
    request.top_k = attrs.float("gen_ai.request.top_k");
    request.max_tokens = attrs.int("gen_ai.request.max_tokens");
    request.frequency_penalty = attrs.float("gen_ai.request.frequency_penalty");
    request.presence_penalty = attrs.float("gen_ai.request.presence_penalty");
    request.stop_sequences = attrs.strings("gen_ai.request.stop_sequences");
    request.seed = first(
        attrs,
        &["gen_ai.request.seed", "gen_ai.openai.request.seed"],
        Attrs::int,
    );
    request.choice_count = attrs.int("gen_ai.request.choice.count");
    request.output_type = first(
        attrs,
        &[
            "gen_ai.output.type",
            "gen_ai.openai.request.response_format",
        ],
        Attrs::str,
    );
    request.dimension_count = attrs.int("gen_ai.embeddings.dimension.count");
    request.encoding_formats = attrs.strings("gen_ai.request.encoding_formats");
    record.request = some_if(request, no_request());

    let response = ModelResponse {
        model: attrs.str("gen_ai.response.model"),
        id: attrs.str("gen_ai.response.id"),
        finish_reasons: attrs.strings("gen_ai.response.finish_reasons"),
        time_to_first_chunk: attrs.float("gen_ai.response.time_to_first_chunk"),
    };
    let no_response = ModelResponse {
        model: None,
        id: None,
        finish_reasons: Vec::new(),
        time_to_first_chunk: None,
    };
    record.response = some_if(response, no_response);

    let usage = Usage {
        input_tokens: first(
            attrs,
            &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
            Attrs::int,
        ),
        output_tokens: first(
            attrs,
            &[
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
            ],
            Attrs::int,
        ),
        cache_read_input_tokens: attrs.int("gen_ai.usage.cache_read.input_tokens"),
        cache_creation_input_tokens: attrs.int("gen_ai.usage.cache_creation.input_tokens"),
        reasoning_output_tokens: attrs.int("gen_ai.usage.reasoning.output_tokens"),
        cost: None,
    };
    let no_usage = Usage {
        input_tokens: None,
        output_tokens: None,
        cache_read_input_tokens: None,
        cache_creation_input_tokens: None,
        reasoning_output_tokens: None,
        cost: None,
    };
    record.usage = some_if(usage, no_usage);

    let address = attrs.str("server.address");
    let port = attrs.int("server.port").and_then(|p| u16::try_from(p).ok());
    record.server = address.map(|address| ServerEndpoint { address, port });

    if let Some(value) = attrs.json("gen_ai.input.messages") {
        record.input_messages = messages::messages(&value);
    }
    if let Some(value) = attrs.json("gen_ai.output.messages") {
        record.output_messages = messages::messages(&value);
    }
    if let Some(value) = attrs.json("gen_ai.system_instructions") {
        record.system_instructions = messages::instructions(&value);
    }
    if let Some(value) = attrs.json("gen_ai.tool.definitions") {
        record.tool_definitions = messages::tool_definitions(&value);
    }

    if let Some(name) = attrs.str("gen_ai.tool.name") {
        record.tool = Some(ToolCall {
            name,
            call_id: attrs.str("gen_ai.tool.call.id"),
            type_: attrs.str("gen_ai.tool.type"),
            description: attrs.str("gen_ai.tool.description"),
            arguments: attrs
                .json("gen_ai.tool.call.arguments")
                .map(|a| a.to_string()),
            result: attrs.json("gen_ai.tool.call.result").map(|r| r.to_string()),
        });
    }

    details.request_service_tier = first(
        attrs,
        &[
            "openai.request.service_tier",
            "gen_ai.openai.request.service_tier",
        ],
        Attrs::str,
    );
    details.response_service_tier = first(
        attrs,
        &[
            "openai.response.service_tier",
            "gen_ai.openai.response.service_tier",
        ],
        Attrs::str,
    );
    details.system_fingerprint = first(
        attrs,
        &[
            "openai.response.system_fingerprint",
            "gen_ai.openai.response.system_fingerprint",
        ],
        Attrs::str,
    );
    details.api_type = attrs.str("openai.api.type");
}

/// The error of a failed span: its `error.type` (or the type of its `exception` event) and the
/// status message. `None` unless the status is an error or `error.type` is set.
pub fn read_error(span: &OtelSpan, attrs: &mut Attrs) -> Option<ErrorInfo> {
    let error_type = attrs.str("error.type");
    let message = match &span.status {
        SpanStatus::Error(message) => Some(message.clone()),
        _ => None,
    };
    if error_type.is_none() && message.is_none() {
        return None;
    }
    let from_event = || {
        span.events
            .iter()
            .filter(|event| event.name == "exception")
            .flat_map(|event| &event.attributes)
            .find(|a| a.key == "exception.type")
            .and_then(|a| match &a.value {
                crate::bindings::agentrace::plugin::types::Value::Str(t) => Some(t.clone()),
                _ => None,
            })
    };
    Some(ErrorInfo {
        type_: error_type
            .or_else(from_event)
            .unwrap_or_else(|| "_OTHER".to_string()),
        message: message.filter(|m| !m.is_empty()),
    })
}

/// What no rule read goes on with the record, except the `gen_ai.*` attributes the conventions
/// do not define (a producer's own extensions under the conventions' namespace), which move to
/// the producer's namespace, `vendor` (`gen_ai.usage.total_tokens` → `<vendor>.usage.total_tokens`).
pub fn finish(record: &mut AgentSpan, attrs: Attrs, vendor: &str) {
    record.attributes = attrs
        .rest()
        .into_iter()
        .map(|attribute| match attribute.key.strip_prefix("gen_ai.") {
            Some(rest) => Attribute {
                key: format!("{vendor}.{rest}"),
                value: attribute.value,
            },
            None => attribute,
        })
        .collect();
}

/// `details`, or `None` when the producer said nothing provider-specific.
pub fn some_details(details: ProviderDetails) -> Option<ProviderDetails> {
    some_if(details, no_details())
}
