//! The mapping itself: one finished `agent-span` record becomes one OpenTelemetry span.
//!
//! Spec operations (chat, text_completion, generate_content, embeddings, retrieval,
//! create_agent, invoke_agent, execute_tool, invoke_workflow) follow GenAI semconv v1.41: span
//! names `{operation} {target}`, span kinds, required and conditionally required attributes with
//! the spec's types. Agent concepts the spec lacks (conversation, multi-conversation, speaker
//! selection, human input, code execution, handoff, guardrail) go under the `agentrace.*`
//! namespace, or AG2's own names with the `ag2` compatibility option. Content attributes are
//! written only when capture is on.

use crate::attrs::{Attrs, agent_name, check_record, request_model, span_name, span_of, status};
use crate::bindings::agentrace::plugin::types::{
    AgentSpan, MappedBatch, MappedBatchWithLogs, Operation, OtelSpan, ProviderDetails,
    RejectedRecord, SpanKind, Value,
};
use crate::config::{Compat, MapperConfig};
use crate::semconv::{ag2, attr, op, vendor};
use crate::{content, logs, metrics, provider};

/// Maps a batch. Records that cannot be mapped (invalid ids, end before start) are listed in
/// `rejected` with their reason; the others are unaffected.
pub fn map_batch(records: &[AgentSpan], config: &MapperConfig) -> MappedBatch {
    map_records(records, &[], config).batch
}

/// Maps a batch as [`map_batch`] does, with each record's provider details (`details[i]` for
/// `records[i]`; missing entries count as none) and the GenAI events of each mapped record on
/// the logs signal ([`logs::for_record`]).
pub fn map_records(
    records: &[AgentSpan],
    details: &[Option<ProviderDetails>],
    config: &MapperConfig,
) -> MappedBatchWithLogs {
    map_each(
        records,
        details,
        crate::semconv::SCHEMA_URL,
        |record, details| map_span(record, details, config),
        Some(config),
    )
}

/// Why an `extended-mapper.map-records` call is refused whole: provider details that neither
/// pair one to one with the records nor are empty (no record has any).
pub fn check_details(
    records: &[AgentSpan],
    details: &[Option<ProviderDetails>],
) -> Result<(), String> {
    if details.is_empty() || details.len() == records.len() {
        Ok(())
    } else {
        Err(format!(
            "provider-details has {} entries for {} records (one per record, or none, is the \
             contract)",
            details.len(),
            records.len()
        ))
    }
}

/// Maps each record with `map_one` (given its provider details) and records its GenAI client
/// metric points, and with `events` its GenAI log records ([`logs::for_record`]): the batch
/// loop every mapper shares. A record `map_one` refuses is listed in `rejected` with its
/// reason; the others are unaffected.
pub fn map_each(
    records: &[AgentSpan],
    details: &[Option<ProviderDetails>],
    schema_url: &str,
    map_one: impl Fn(&AgentSpan, Option<&ProviderDetails>) -> Result<OtelSpan, String>,
    events: Option<&MapperConfig>,
) -> MappedBatchWithLogs {
    let mut spans = Vec::with_capacity(records.len());
    let mut points = Vec::new();
    let mut rejected = Vec::new();
    let mut log_records = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match map_one(record, details.get(i).and_then(Option::as_ref)) {
            Ok(span) => {
                metrics::record_points(record, &mut points);
                if let Some(config) = events {
                    log_records.extend(logs::for_record(record, &span, config));
                }
                spans.push(span);
            }
            Err(reason) => rejected.push(RejectedRecord {
                span_id: record.span_id,
                reason,
            }),
        }
    }
    MappedBatchWithLogs {
        batch: MappedBatch {
            spans,
            metrics: points,
            rejected,
            schema_url: schema_url.to_string(),
        },
        logs: log_records,
    }
}

fn is_sequential_chats(record: &AgentSpan) -> bool {
    record.operation == Operation::MultiConversation
        && record
            .multi_conversation
            .as_ref()
            .is_some_and(|m| m.mode.as_deref() == Some("sequential"))
}

/// The names the two compatibility modes give to one non-spec concept.
struct VendorNames {
    /// `gen_ai.operation.name` value.
    operation: &'static str,
    /// Span name before the target.
    span_base: &'static str,
    /// `ag2.span.type` value (written in `ag2` mode only).
    ag2_span_type: &'static str,
}

fn vendor_names(operation: Operation, compat: Compat) -> VendorNames {
    let (semconv_op, semconv_base, ag2_op, ag2_base, ag2_type) = match operation {
        Operation::Conversation => (
            "agentrace.conversation",
            "conversation",
            "conversation",
            "conversation",
            "conversation",
        ),
        Operation::MultiConversation => (
            "agentrace.multi_conversation",
            "multi_conversation",
            "initiate_chats",
            "initiate_chats",
            "multi_conversation",
        ),
        Operation::SpeakerSelection => (
            "agentrace.speaker_selection",
            "speaker_selection",
            "speaker_selection",
            "speaker_selection",
            "speaker_selection",
        ),
        Operation::HumanInput => (
            "agentrace.human_input",
            "human_input",
            "await_human_input",
            "await_human_input",
            "human_input",
        ),
        Operation::CodeExecution => (
            "agentrace.code_execution",
            "code_execution",
            "execute_code",
            "execute_code",
            "code_execution",
        ),
        Operation::Handoff => (
            "agentrace.handoff",
            "handoff",
            "handoff",
            "handoff",
            "handoff",
        ),
        _ => (
            "agentrace.guardrail",
            "guardrail",
            "guardrail",
            "guardrail",
            "guardrail",
        ),
    };
    match compat {
        Compat::Semconv => VendorNames {
            operation: semconv_op,
            span_base: semconv_base,
            ag2_span_type: ag2_type,
        },
        Compat::Ag2 => VendorNames {
            operation: ag2_op,
            span_base: ag2_base,
            ag2_span_type: ag2_type,
        },
    }
}

/// `ag2.span.type` for the spec operations, in `ag2` mode.
fn ag2_span_type(operation: Operation) -> &'static str {
    match operation {
        Operation::Chat | Operation::TextCompletion | Operation::GenerateContent => "llm",
        Operation::InvokeAgent | Operation::CreateAgent => "agent",
        Operation::ExecuteTool => "tool",
        Operation::Embeddings => "embeddings",
        Operation::Retrieval => "retrieval",
        _ => "workflow",
    }
}

/// The OpenTelemetry span kind of a record: CLIENT for calls to a model, a data source or a
/// remote agent; SERVER for an agent invoked for a remote caller (its parent came in a
/// traceparent, as on an A2A server); INTERNAL for the rest.
pub fn span_kind(record: &AgentSpan) -> SpanKind {
    match record.operation {
        Operation::Chat
        | Operation::TextCompletion
        | Operation::GenerateContent
        | Operation::Embeddings
        | Operation::Retrieval
        | Operation::CreateAgent => SpanKind::Client,
        Operation::InvokeAgent if record.server.is_some() => SpanKind::Client,
        Operation::InvokeAgent if record.parent_is_remote => SpanKind::Server,
        _ => SpanKind::Internal,
    }
}

/// Maps one record with its provider details, or says why it cannot be mapped.
pub fn map_span(
    record: &AgentSpan,
    details: Option<&ProviderDetails>,
    config: &MapperConfig,
) -> Result<OtelSpan, String> {
    check_record(record)?;
    let capture = config.capture_content;
    let ag2_mode = config.compat == Compat::Ag2;
    let mut a = Attrs::for_span();

    let kind = span_kind(record);
    let (name, kind) = match record.operation {
        Operation::Chat | Operation::TextCompletion | Operation::GenerateContent => {
            let operation = match record.operation {
                Operation::Chat => op::CHAT,
                Operation::TextCompletion => op::TEXT_COMPLETION,
                _ => op::GENERATE_CONTENT,
            };
            a.str(attr::OPERATION_NAME, operation);
            model_call(record, capture, &mut a);
            (span_name(operation, request_model(record)), kind)
        }
        Operation::Embeddings => {
            a.str(attr::OPERATION_NAME, op::EMBEDDINGS);
            model_call(record, false, &mut a);
            (span_name(op::EMBEDDINGS, request_model(record)), kind)
        }
        Operation::Retrieval => {
            a.str(attr::OPERATION_NAME, op::RETRIEVAL);
            request_params(record, &mut a);
            let retrieval = record.retrieval.as_ref();
            let source = retrieval.and_then(|r| r.data_source_id.as_ref());
            a.opt_str(attr::DATA_SOURCE_ID, source);
            if capture && let Some(r) = retrieval {
                a.opt_str(attr::RETRIEVAL_QUERY_TEXT, r.query_text.as_ref());
                if let Some(docs) = &r.documents {
                    a.json(attr::RETRIEVAL_DOCUMENTS, docs.clone());
                }
            }
            (span_name(op::RETRIEVAL, source), kind)
        }
        Operation::CreateAgent => {
            a.str(attr::OPERATION_NAME, op::CREATE_AGENT);
            agent_attrs(record, &mut a);
            a.opt_str(attr::REQUEST_MODEL, request_model(record));
            if capture && !record.system_instructions.is_empty() {
                a.json(
                    attr::SYSTEM_INSTRUCTIONS,
                    content::system_instructions(&record.system_instructions),
                );
            }
            (span_name(op::CREATE_AGENT, agent_name(record)), kind)
        }
        Operation::InvokeAgent => {
            a.str(attr::OPERATION_NAME, op::INVOKE_AGENT);
            agent_attrs(record, &mut a);
            model_call(record, capture, &mut a);
            if record.server.is_some() {
                let key = if ag2_mode {
                    ag2::AGENT_REMOTE
                } else {
                    vendor::AGENT_REMOTE
                };
                a.push(key, Value::Boolean(true));
            }
            (span_name(op::INVOKE_AGENT, agent_name(record)), kind)
        }
        Operation::ExecuteTool => {
            a.str(attr::OPERATION_NAME, op::EXECUTE_TOOL);
            let tool = record.tool.as_ref();
            if let Some(tool) = tool {
                a.str(attr::TOOL_NAME, &tool.name);
                a.opt_str(attr::TOOL_CALL_ID, tool.call_id.as_ref());
                a.opt_str(attr::TOOL_TYPE, tool.type_.as_ref());
                a.opt_str(attr::TOOL_DESCRIPTION, tool.description.as_ref());
                if capture {
                    if let Some(args) = &tool.arguments {
                        a.json(attr::TOOL_CALL_ARGUMENTS, args.clone());
                    }
                    if let Some(result) = &tool.result {
                        a.json(attr::TOOL_CALL_RESULT, result.clone());
                    }
                }
            }
            (span_name(op::EXECUTE_TOOL, tool.map(|t| &t.name)), kind)
        }
        Operation::InvokeWorkflow => {
            a.str(attr::OPERATION_NAME, op::INVOKE_WORKFLOW);
            a.opt_str(attr::WORKFLOW_NAME, record.workflow_name.as_ref());
            messages(record, capture, &mut a);
            (
                span_name(op::INVOKE_WORKFLOW, record.workflow_name.as_ref()),
                kind,
            )
        }
        _ => (agent_concept(record, config, &mut a), kind),
    };

    if ag2_mode && !a.has(ag2::SPAN_TYPE) {
        a.str(ag2::SPAN_TYPE, ag2_span_type(record.operation));
    }
    let provider_name = record.provider.as_deref().map(provider::normalize);
    if let Some(name) = &provider_name {
        a.str(attr::PROVIDER_NAME, name);
    }
    if let Some(details) = details {
        provider::write_details(provider_name.as_deref(), details, &mut a);
    }
    if let Some(server) = &record.server {
        a.str(attr::SERVER_ADDRESS, &server.address);
        a.opt_int(attr::SERVER_PORT, server.port.map(i64::from));
    }
    a.opt_str(attr::CONVERSATION_ID, record.conversation_id.as_ref());
    usage_attrs(record, ag2_mode, &mut a);
    if record.incomplete {
        a.push(vendor::INCOMPLETE, Value::Boolean(true));
    }
    let status = status(record, &mut a);
    // Runtime-specific attributes pass through, never overriding what the mapping wrote.
    a.pass_through(&record.attributes);
    Ok(span_of(record, name, kind, a, status))
}

fn agent_attrs(record: &AgentSpan, a: &mut Attrs) {
    if let Some(agent) = &record.agent {
        a.opt_str(attr::AGENT_NAME, agent.name.as_ref());
        a.opt_str(attr::AGENT_ID, agent.id.as_ref());
        a.opt_str(attr::AGENT_DESCRIPTION, agent.description.as_ref());
        a.opt_str(attr::AGENT_VERSION, agent.version.as_ref());
    }
}

fn request_params(record: &AgentSpan, a: &mut Attrs) {
    let Some(request) = &record.request else {
        return;
    };
    a.opt_str(attr::REQUEST_MODEL, request.model.as_ref());
    a.opt_float(attr::REQUEST_TEMPERATURE, request.temperature);
    a.opt_float(attr::REQUEST_TOP_P, request.top_p);
    a.opt_float(attr::REQUEST_TOP_K, request.top_k);
    a.opt_int(attr::REQUEST_MAX_TOKENS, request.max_tokens);
    a.opt_float(attr::REQUEST_FREQUENCY_PENALTY, request.frequency_penalty);
    a.opt_float(attr::REQUEST_PRESENCE_PENALTY, request.presence_penalty);
    a.str_array(attr::REQUEST_STOP_SEQUENCES, &request.stop_sequences);
    a.opt_int(attr::REQUEST_SEED, request.seed);
    // Conditionally required only when != 1.
    a.opt_int(
        attr::REQUEST_CHOICE_COUNT,
        request.choice_count.filter(|n| *n != 1),
    );
    // Conditionally required if and only if the request streamed.
    if request.stream == Some(true) {
        a.push(attr::REQUEST_STREAM, Value::Boolean(true));
    }
    a.opt_str(attr::OUTPUT_TYPE, request.output_type.as_ref());
    a.opt_int(attr::EMBEDDINGS_DIMENSION_COUNT, request.dimension_count);
    a.str_array(attr::REQUEST_ENCODING_FORMATS, &request.encoding_formats);
}

/// Request, response and (when captured) content of a model call or agent invocation.
fn model_call(record: &AgentSpan, capture: bool, a: &mut Attrs) {
    request_params(record, a);
    if let Some(response) = &record.response {
        a.opt_str(attr::RESPONSE_MODEL, response.model.as_ref());
        a.opt_str(attr::RESPONSE_ID, response.id.as_ref());
        a.str_array(attr::RESPONSE_FINISH_REASONS, &response.finish_reasons);
        a.opt_float(
            attr::RESPONSE_TIME_TO_FIRST_CHUNK,
            response.time_to_first_chunk,
        );
    }
    if capture && !record.system_instructions.is_empty() {
        a.json(
            attr::SYSTEM_INSTRUCTIONS,
            content::system_instructions(&record.system_instructions),
        );
    }
    // Tool names are not content: the spec's own "content disabled" example records the
    // definitions with their required fields only. Descriptions and schemas need capture.
    if !record.tool_definitions.is_empty() {
        a.json(
            attr::TOOL_DEFINITIONS,
            content::tool_definitions(&record.tool_definitions, capture),
        );
    }
    messages(record, capture, a);
}

fn messages(record: &AgentSpan, capture: bool, a: &mut Attrs) {
    if !capture {
        return;
    }
    if !record.input_messages.is_empty() {
        a.json(
            attr::INPUT_MESSAGES,
            content::input_messages(&record.input_messages),
        );
    }
    if !record.output_messages.is_empty() {
        a.json(
            attr::OUTPUT_MESSAGES,
            content::output_messages(&record.output_messages),
        );
    }
}

fn usage_attrs(record: &AgentSpan, ag2_mode: bool, a: &mut Attrs) {
    let Some(usage) = &record.usage else {
        return;
    };
    a.opt_int(attr::USAGE_INPUT_TOKENS, usage.input_tokens);
    a.opt_int(attr::USAGE_OUTPUT_TOKENS, usage.output_tokens);
    a.opt_int(
        attr::USAGE_CACHE_READ_INPUT_TOKENS,
        usage.cache_read_input_tokens,
    );
    a.opt_int(
        attr::USAGE_CACHE_CREATION_INPUT_TOKENS,
        usage.cache_creation_input_tokens,
    );
    a.opt_int(
        attr::USAGE_REASONING_OUTPUT_TOKENS,
        usage.reasoning_output_tokens,
    );
    let cost_key = if ag2_mode {
        ag2::USAGE_COST
    } else {
        vendor::USAGE_COST
    };
    a.opt_float(cost_key, usage.cost);
}

/// The agent concepts GenAI semconv lacks (conversation, multi-conversation, speaker
/// selection, human input, code execution, handoff, guardrail): writes their operation name
/// and attributes under `agentrace.*` (or AG2's names in `ag2` mode) and returns the span name.
/// Other conventions' mappers call it to keep the agentrace detail of these concepts.
pub fn agent_concept(record: &AgentSpan, config: &MapperConfig, a: &mut Attrs) -> String {
    let ag2_mode = config.compat == Compat::Ag2;
    let names = vendor_names(record.operation, config.compat);
    a.str(attr::OPERATION_NAME, names.operation);
    if ag2_mode {
        a.str(ag2::SPAN_TYPE, names.ag2_span_type);
    }
    let target = vendor_attrs(record, config, a);
    let base = if ag2_mode && is_sequential_chats(record) {
        // AG2 names the synchronous (sequential) `initiate_chats` differently from the
        // asynchronous one.
        ag2::SEQUENTIAL_CHATS_SPAN
    } else {
        names.span_base
    };
    span_name(base, target)
}

/// Attributes of the non-spec operations; returns the span name's target.
fn vendor_attrs<'r>(
    record: &'r AgentSpan,
    config: &MapperConfig,
    a: &mut Attrs,
) -> Option<&'r String> {
    let capture = config.capture_content;
    let ag2_mode = config.compat == Compat::Ag2;
    let pick = |semconv_key: &'static str, ag2_key: &'static str| {
        if ag2_mode { ag2_key } else { semconv_key }
    };
    agent_attrs(record, a);
    match record.operation {
        Operation::Conversation => {
            if let Some(c) = &record.conversation {
                a.opt_str(vendor::CONVERSATION_RECIPIENT, c.recipient.as_ref());
                a.opt_str(vendor::CONVERSATION_METHOD, c.method.as_ref());
                a.opt_int(
                    pick(vendor::CONVERSATION_MAX_TURNS, ag2::CONVERSATION_MAX_TURNS),
                    c.max_turns,
                );
                a.opt_int(
                    pick(vendor::CONVERSATION_TURNS, ag2::CONVERSATION_TURNS),
                    c.turns,
                );
                if ag2_mode && c.method.as_deref() == Some("resume") {
                    a.push(ag2::CONVERSATION_RESUMED, Value::Boolean(true));
                }
                if capture {
                    a.opt_str(vendor::CONVERSATION_SUMMARY, c.summary.as_ref());
                }
            }
            if ag2_mode {
                // AG2 writes the recipient's model and the models that answered on the
                // conversation; the spec keeps them on the model calls.
                a.opt_str(attr::REQUEST_MODEL, request_model(record));
                let response = record.response.as_ref();
                a.opt_str(
                    attr::RESPONSE_MODEL,
                    response.and_then(|r| r.model.as_ref()),
                );
            }
            messages(record, capture, a);
            agent_name(record)
        }
        Operation::MultiConversation => {
            if let Some(m) = &record.multi_conversation {
                a.opt_str(pick(vendor::CHATS_MODE, ag2::CHATS_MODE), m.mode.as_ref());
                a.push(
                    pick(vendor::CHATS_COUNT, ag2::CHATS_COUNT),
                    Value::Int(m.recipients.len() as i64),
                );
                if ag2_mode {
                    a.json(ag2::CHATS_RECIPIENTS, content::name_list(&m.recipients));
                } else {
                    a.str_array(vendor::CHATS_RECIPIENTS, &m.recipients);
                }
            }
            None
        }
        Operation::SpeakerSelection => {
            if let Some(s) = &record.speaker_selection {
                if ag2_mode {
                    a.json(ag2::SPEAKER_CANDIDATES, content::name_list(&s.candidates));
                } else {
                    a.str_array(vendor::SPEAKER_CANDIDATES, &s.candidates);
                    a.opt_str(vendor::SPEAKER_METHOD, s.method.as_ref());
                }
                a.opt_str(
                    pick(vendor::SPEAKER_SELECTED, ag2::SPEAKER_SELECTED),
                    s.selected.as_ref(),
                );
            }
            None
        }
        Operation::HumanInput => {
            if let Some(h) = &record.human_input {
                a.opt_str(vendor::HUMAN_INPUT_MODE, h.input_mode.as_ref());
                if capture {
                    a.opt_str(
                        pick(vendor::HUMAN_INPUT_PROMPT, ag2::HUMAN_INPUT_PROMPT),
                        h.prompt.as_ref(),
                    );
                    a.opt_str(
                        pick(vendor::HUMAN_INPUT_RESPONSE, ag2::HUMAN_INPUT_RESPONSE),
                        h.response.as_ref(),
                    );
                }
            }
            agent_name(record)
        }
        Operation::CodeExecution => {
            if let Some(c) = &record.code_execution {
                a.opt_str(vendor::CODE_LANGUAGE, c.language.as_ref());
                a.opt_str(vendor::CODE_EXECUTOR, c.executor.as_ref());
                a.opt_int(
                    pick(vendor::CODE_EXIT_CODE, ag2::CODE_EXIT_CODE),
                    c.exit_code,
                );
                if capture {
                    a.opt_str(vendor::CODE_SOURCE, c.code.as_ref());
                    a.opt_str(
                        pick(vendor::CODE_OUTPUT, ag2::CODE_OUTPUT),
                        c.output.as_ref(),
                    );
                }
            }
            agent_name(record)
        }
        Operation::Handoff => {
            let h = record.handoff.as_ref();
            if let Some(h) = h {
                a.opt_str(vendor::HANDOFF_SOURCE, h.source.as_ref());
                a.opt_str(vendor::HANDOFF_TARGET, h.target.as_ref());
                a.opt_str(vendor::HANDOFF_REASON, h.reason.as_ref());
            }
            h.and_then(|h| h.target.as_ref())
        }
        _ => {
            let g = record.guardrail.as_ref();
            if let Some(g) = g {
                a.opt_str(vendor::GUARDRAIL_NAME, g.name.as_ref());
                a.opt_bool(vendor::GUARDRAIL_TRIGGERED, g.triggered);
                a.opt_str(vendor::GUARDRAIL_ACTION, g.action.as_ref());
            }
            g.and_then(|g| g.name.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::agentrace::plugin::types::{
        AgentInfo, ErrorInfo, HumanInputInfo, Message, MessagePart, ModelRequest, ModelResponse,
        MultiConversationInfo, ServerEndpoint, SpanStatus, SpeakerSelectionInfo, ToolCall, Usage,
    };

    fn record(operation: Operation) -> AgentSpan {
        AgentSpan {
            trace_id: (1, 2),
            span_id: 3,
            parent_span_id: Some(4),
            parent_is_remote: false,
            operation,
            start_time: 1_000_000_000,
            end_time: 1_250_000_000,
            incomplete: false,
            agent: None,
            conversation_id: None,
            provider: None,
            request: None,
            response: None,
            usage: None,
            server: None,
            system_instructions: vec![],
            input_messages: vec![],
            output_messages: vec![],
            tool_definitions: vec![],
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
            events: vec![],
            links: vec![],
            attributes: vec![],
        }
    }

    fn attr<'a>(span: &'a OtelSpan, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| &a.value)
    }

    fn chat_record() -> AgentSpan {
        let mut r = record(Operation::Chat);
        r.provider = Some("azure".into());
        r.request = Some(ModelRequest {
            model: Some("gpt-4".into()),
            temperature: None,
            top_p: Some(1.0),
            top_k: Some(40.0),
            max_tokens: Some(200),
            frequency_penalty: None,
            presence_penalty: None,
            stop_sequences: vec![],
            seed: None,
            choice_count: Some(1),
            stream: Some(false),
            output_type: None,
            dimension_count: None,
            encoding_formats: vec![],
        });
        r.response = Some(ModelResponse {
            model: Some("gpt-4-0613".into()),
            id: Some("chatcmpl-1".into()),
            finish_reasons: vec!["stop".into()],
            time_to_first_chunk: None,
        });
        r.usage = Some(Usage {
            input_tokens: Some(52),
            output_tokens: Some(47),
            cache_read_input_tokens: Some(10),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: Some(5),
            cost: None,
        });
        r.input_messages = vec![Message {
            role: "user".into(),
            name: Some("user_proxy".into()),
            parts: vec![MessagePart::Text("Tell me a joke".into())],
            finish_reason: None,
        }];
        r
    }

    #[test]
    fn chat_follows_the_inference_span_definition() {
        let span = map_span(&chat_record(), None, &MapperConfig::default()).unwrap();
        assert_eq!(span.name, "chat gpt-4");
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(
            attr(&span, "gen_ai.operation.name"),
            Some(&Value::Str("chat".into()))
        );
        assert_eq!(
            attr(&span, "gen_ai.provider.name"),
            Some(&Value::Str("azure.ai.openai".into()))
        );
        assert_eq!(
            attr(&span, "gen_ai.request.top_k"),
            Some(&Value::Float(40.0))
        );
        assert_eq!(
            attr(&span, "gen_ai.request.max_tokens"),
            Some(&Value::Int(200))
        );
        assert_eq!(
            attr(&span, "gen_ai.response.finish_reasons"),
            Some(&Value::StrArray(vec!["stop".into()]))
        );
        assert_eq!(
            attr(&span, "gen_ai.usage.input_tokens"),
            Some(&Value::Int(52))
        );
        assert_eq!(
            attr(&span, "gen_ai.usage.cache_read.input_tokens"),
            Some(&Value::Int(10))
        );
        assert_eq!(
            attr(&span, "gen_ai.usage.reasoning.output_tokens"),
            Some(&Value::Int(5))
        );
        // choice.count only when != 1, stream only when true.
        assert_eq!(attr(&span, "gen_ai.request.choice.count"), None);
        assert_eq!(attr(&span, "gen_ai.request.stream"), None);
        assert_eq!(span.status, SpanStatus::Unset);
    }

    #[test]
    fn content_is_recorded_only_when_capture_is_on() {
        let off = map_span(&chat_record(), None, &MapperConfig::default()).unwrap();
        assert_eq!(attr(&off, "gen_ai.input.messages"), None);
        let on = MapperConfig {
            capture_content: true,
            ..MapperConfig::default()
        };
        let span = map_span(&chat_record(), None, &on).unwrap();
        let Some(Value::Json(text)) = attr(&span, "gen_ai.input.messages") else {
            panic!("messages missing: {:?}", span.attributes);
        };
        let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(parsed[0]["name"], "user_proxy");
        assert_eq!(parsed[0]["parts"][0]["content"], "Tell me a joke");
    }

    #[test]
    fn errors_set_error_type_and_status() {
        let mut r = chat_record();
        r.error = Some(ErrorInfo {
            type_: "RateLimitError".into(),
            message: Some("slow down".into()),
        });
        let span = map_span(&r, None, &MapperConfig::default()).unwrap();
        assert_eq!(
            attr(&span, "error.type"),
            Some(&Value::Str("RateLimitError".into()))
        );
        assert_eq!(span.status, SpanStatus::Error("slow down".into()));
    }

    #[test]
    fn remote_agents_are_client_spans_with_server_address() {
        let mut r = record(Operation::InvokeAgent);
        r.agent = Some(AgentInfo {
            name: Some("remote_helper".into()),
            id: None,
            description: None,
            version: None,
        });
        let local = map_span(&r, None, &MapperConfig::default()).unwrap();
        assert_eq!(
            (local.name.as_str(), local.kind),
            ("invoke_agent remote_helper", SpanKind::Internal)
        );
        r.server = Some(ServerEndpoint {
            address: "agents.example".into(),
            port: Some(8443),
        });
        let remote = map_span(&r, None, &MapperConfig::default()).unwrap();
        assert_eq!(remote.kind, SpanKind::Client);
        assert_eq!(
            attr(&remote, "server.address"),
            Some(&Value::Str("agents.example".into()))
        );
        assert_eq!(attr(&remote, "server.port"), Some(&Value::Int(8443)));
        assert_eq!(
            attr(&remote, "agentrace.agent.remote"),
            Some(&Value::Boolean(true))
        );
    }

    #[test]
    fn an_agent_invoked_for_a_remote_caller_is_a_server_span() {
        let mut r = record(Operation::InvokeAgent);
        r.parent_span_id = Some(7);
        r.parent_is_remote = true;
        let served = map_span(&r, None, &MapperConfig::default()).unwrap();
        assert_eq!(served.kind, SpanKind::Server);
        // Calling a remote agent from there is still a client call.
        r.server = Some(ServerEndpoint {
            address: "agents.example".into(),
            port: None,
        });
        assert_eq!(
            map_span(&r, None, &MapperConfig::default()).unwrap().kind,
            SpanKind::Client
        );
        // Other operations under a remote parent keep their kinds.
        let mut tool = record(Operation::ExecuteTool);
        tool.parent_is_remote = true;
        assert_eq!(
            map_span(&tool, None, &MapperConfig::default())
                .unwrap()
                .kind,
            SpanKind::Internal
        );
    }

    #[test]
    fn tool_arguments_and_results_follow_capture() {
        let mut r = record(Operation::ExecuteTool);
        r.tool = Some(ToolCall {
            name: "get_weather".into(),
            call_id: Some("call_1".into()),
            type_: Some("function".into()),
            description: None,
            arguments: Some(r#"{"city":"Paris"}"#.into()),
            result: Some(r#""sunny""#.into()),
        });
        let off = map_span(&r, None, &MapperConfig::default()).unwrap();
        assert_eq!(off.name, "execute_tool get_weather");
        assert_eq!(off.kind, SpanKind::Internal);
        assert_eq!(
            attr(&off, "gen_ai.tool.call.id"),
            Some(&Value::Str("call_1".into()))
        );
        assert_eq!(attr(&off, "gen_ai.tool.call.arguments"), None);
        let on = MapperConfig {
            capture_content: true,
            ..MapperConfig::default()
        };
        let span = map_span(&r, None, &on).unwrap();
        assert_eq!(
            attr(&span, "gen_ai.tool.call.arguments"),
            Some(&Value::Json(r#"{"city":"Paris"}"#.into()))
        );
    }

    #[test]
    fn vendor_concepts_use_the_agentrace_namespace_or_ag2_names() {
        let mut r = record(Operation::SpeakerSelection);
        r.speaker_selection = Some(SpeakerSelectionInfo {
            candidates: vec!["planner".into(), "coder".into()],
            selected: Some("planner".into()),
            method: Some("auto".into()),
        });
        let semconv = map_span(&r, None, &MapperConfig::default()).unwrap();
        assert_eq!(semconv.name, "speaker_selection");
        assert_eq!(
            attr(&semconv, "gen_ai.operation.name"),
            Some(&Value::Str("agentrace.speaker_selection".into()))
        );
        assert_eq!(
            attr(&semconv, "agentrace.speaker_selection.candidates"),
            Some(&Value::StrArray(vec!["planner".into(), "coder".into()]))
        );
        let ag2 = MapperConfig {
            compat: Compat::Ag2,
            ..MapperConfig::default()
        };
        let span = map_span(&r, None, &ag2).unwrap();
        assert_eq!(
            attr(&span, "ag2.span.type"),
            Some(&Value::Str("speaker_selection".into()))
        );
        assert_eq!(
            attr(&span, "ag2.speaker_selection.candidates"),
            Some(&Value::Json(r#"["planner","coder"]"#.into()))
        );
        assert_eq!(
            attr(&span, "ag2.speaker_selection.selected"),
            Some(&Value::Str("planner".into()))
        );

        let mut h = record(Operation::HumanInput);
        h.agent = Some(AgentInfo {
            name: Some("user_proxy".into()),
            id: None,
            description: None,
            version: None,
        });
        h.human_input = Some(HumanInputInfo {
            prompt: Some("Your reply?".into()),
            response: Some("yes".into()),
            input_mode: Some("ALWAYS".into()),
        });
        assert_eq!(
            map_span(&h, None, &MapperConfig::default()).unwrap().name,
            "human_input user_proxy"
        );
        let span = map_span(&h, None, &ag2).unwrap();
        assert_eq!(span.name, "await_human_input user_proxy");
        // The human's words are content: absent unless captured.
        assert_eq!(attr(&span, "ag2.human_input.response"), None);

        let mut m = record(Operation::MultiConversation);
        m.multi_conversation = Some(MultiConversationInfo {
            mode: Some("sequential".into()),
            recipients: vec!["a".into(), "b".into()],
        });
        let span = map_span(&m, None, &ag2).unwrap();
        // AG2's names: `agent.initiate_chats` when sequential, `initiate_chats` in parallel.
        assert_eq!(span.name, "agent.initiate_chats");
        assert_eq!(attr(&span, "ag2.chats.count"), Some(&Value::Int(2)));
        m.multi_conversation.as_mut().unwrap().mode = Some("parallel".into());
        assert_eq!(map_span(&m, None, &ag2).unwrap().name, "initiate_chats");
        assert_eq!(
            map_span(&m, None, &MapperConfig::default()).unwrap().name,
            "multi_conversation"
        );

        // AG2 puts the models on the conversation span too; the spec only on model calls.
        let mut c = chat_record();
        c.operation = Operation::Conversation;
        let span = map_span(&c, None, &ag2).unwrap();
        assert_eq!(
            attr(&span, "gen_ai.request.model"),
            Some(&Value::Str("gpt-4".into()))
        );
        let span = map_span(&c, None, &MapperConfig::default()).unwrap();
        assert_eq!(attr(&span, "gen_ai.request.model"), None);
    }

    #[test]
    fn invalid_records_are_rejected_alone() {
        let good = chat_record();
        let mut backwards = chat_record();
        backwards.span_id = 9;
        backwards.end_time = 0;
        let mut zero = chat_record();
        zero.span_id = 0;
        let batch = map_batch(&[good, backwards, zero], &MapperConfig::default());
        assert_eq!(batch.spans.len(), 1);
        assert_eq!(batch.rejected.len(), 2);
        assert!(
            batch.rejected[0].reason.contains("before start"),
            "{:?}",
            batch.rejected
        );
        assert!(batch.rejected[1].reason.contains("span id is zero"));
        assert_eq!(batch.schema_url, "https://opentelemetry.io/schemas/1.41.0");
    }

    #[test]
    fn model_calls_emit_duration_and_token_metrics() {
        let batch = map_batch(&[chat_record()], &MapperConfig::default());
        let names: Vec<_> = batch.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "gen_ai.client.operation.duration",
                "gen_ai.client.token.usage",
                "gen_ai.client.token.usage"
            ]
        );
        assert!((batch.metrics[0].value - 0.25).abs() < 1e-9);
        assert_eq!(batch.metrics[0].unit, "s");
        assert_eq!(batch.metrics[1].value, 52.0);
        assert!(
            batch.metrics[2]
                .attributes
                .iter()
                .any(|a| a.key == "gen_ai.token.type" && a.value == Value::Str("output".into()))
        );
        // Agent turns inside the process are not client operations: no metrics.
        let batch = map_batch(&[record(Operation::InvokeAgent)], &MapperConfig::default());
        assert!(batch.metrics.is_empty());
    }
}
