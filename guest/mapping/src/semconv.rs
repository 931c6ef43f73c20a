//! Names from the OpenTelemetry GenAI semantic conventions v1.41 (`shared/semconv-v1.41/`), and
//! the `agentrace.*` / `ag2.*` names for the agent concepts the spec lacks. Every name the mapper
//! writes comes from here, so a spec upgrade is a change to this file.

/// The semantic conventions release the mapper follows.
pub const SEMCONV_VERSION: &str = "1.41.0";
/// The schema URL of that release, set on the instrumentation scope of every exported span.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.41.0";

/// `gen_ai.operation.name` values defined by the spec.
pub mod op {
    /// Chat completion.
    pub const CHAT: &str = "chat";
    /// Legacy text completion.
    pub const TEXT_COMPLETION: &str = "text_completion";
    /// Multimodal generation.
    pub const GENERATE_CONTENT: &str = "generate_content";
    /// Embeddings.
    pub const EMBEDDINGS: &str = "embeddings";
    /// Retrieval.
    pub const RETRIEVAL: &str = "retrieval";
    /// Agent creation.
    pub const CREATE_AGENT: &str = "create_agent";
    /// Agent invocation.
    pub const INVOKE_AGENT: &str = "invoke_agent";
    /// Tool execution.
    pub const EXECUTE_TOOL: &str = "execute_tool";
    /// Workflow invocation.
    pub const INVOKE_WORKFLOW: &str = "invoke_workflow";
}

/// Attribute keys defined by the spec (GenAI registry, `server.*`, `error.type`).
pub mod attr {
    #![allow(missing_docs, reason = "each constant is the attribute key it names")]
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
    pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
    pub const AGENT_NAME: &str = "gen_ai.agent.name";
    pub const AGENT_ID: &str = "gen_ai.agent.id";
    pub const AGENT_DESCRIPTION: &str = "gen_ai.agent.description";
    pub const AGENT_VERSION: &str = "gen_ai.agent.version";
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
    pub const REQUEST_TOP_P: &str = "gen_ai.request.top_p";
    pub const REQUEST_TOP_K: &str = "gen_ai.request.top_k";
    pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    pub const REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
    pub const REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
    pub const REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
    pub const REQUEST_SEED: &str = "gen_ai.request.seed";
    pub const REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
    pub const REQUEST_STREAM: &str = "gen_ai.request.stream";
    pub const REQUEST_ENCODING_FORMATS: &str = "gen_ai.request.encoding_formats";
    pub const EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
    pub const OUTPUT_TYPE: &str = "gen_ai.output.type";
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    pub const RESPONSE_ID: &str = "gen_ai.response.id";
    pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    pub const RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
    pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    pub const USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
    pub const USAGE_CACHE_CREATION_INPUT_TOKENS: &str = "gen_ai.usage.cache_creation.input_tokens";
    pub const USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
    pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
    pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    pub const SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
    pub const TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
    pub const TOOL_NAME: &str = "gen_ai.tool.name";
    pub const TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
    pub const TOOL_TYPE: &str = "gen_ai.tool.type";
    pub const TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
    pub const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    pub const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
    pub const DATA_SOURCE_ID: &str = "gen_ai.data_source.id";
    pub const RETRIEVAL_QUERY_TEXT: &str = "gen_ai.retrieval.query.text";
    pub const RETRIEVAL_DOCUMENTS: &str = "gen_ai.retrieval.documents";
    pub const WORKFLOW_NAME: &str = "gen_ai.workflow.name";
    pub const TOKEN_TYPE: &str = "gen_ai.token.type";
    pub const SERVER_ADDRESS: &str = "server.address";
    pub const SERVER_PORT: &str = "server.port";
    pub const ERROR_TYPE: &str = "error.type";
    pub const EXCEPTION_TYPE: &str = "exception.type";
    pub const EXCEPTION_MESSAGE: &str = "exception.message";
    pub const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
    pub const EVALUATION_NAME: &str = "gen_ai.evaluation.name";
    pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";
    pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
    pub const OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str = "openai.response.system_fingerprint";
    pub const OPENAI_API_TYPE: &str = "openai.api.type";
    pub const AWS_BEDROCK_GUARDRAIL_ID: &str = "aws.bedrock.guardrail.id";
    pub const AWS_BEDROCK_KNOWLEDGE_BASE_ID: &str = "aws.bedrock.knowledge_base.id";
}

/// The events GenAI semconv v1.41 defines (`model/events.yaml`), and the span event OpenTelemetry
/// records exceptions with.
pub mod event {
    #![allow(missing_docs, reason = "each constant is the event name it names")]
    pub const INFERENCE_DETAILS: &str = "gen_ai.client.inference.operation.details";
    pub const EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
    pub const CLIENT_EXCEPTION: &str = "gen_ai.client.operation.exception";
    /// The span event of the general exception conventions.
    pub const EXCEPTION: &str = "exception";
    /// The severity the spec asks for on `gen_ai.client.operation.exception`: WARN.
    pub const SEVERITY_WARN: u8 = 13;
}

/// The agentrace vendor namespace: agent concepts GenAI semconv v1.41 has no span for.
/// Documented in `docs/mapping.md`.
pub mod vendor {
    #![allow(missing_docs, reason = "each constant is the attribute key it names")]
    pub const INCOMPLETE: &str = "agentrace.span.incomplete";
    /// The span event a runtime reports for each chunk of a streamed response, when it arrived.
    /// Mappers turn these into the streaming metrics and leave them off the span.
    pub const CHUNK_EVENT: &str = "agentrace.chunk";
    pub const USAGE_COST: &str = "agentrace.usage.cost";
    pub const AGENT_REMOTE: &str = "agentrace.agent.remote";
    pub const CONVERSATION_RECIPIENT: &str = "agentrace.conversation.recipient";
    pub const CONVERSATION_METHOD: &str = "agentrace.conversation.method";
    pub const CONVERSATION_MAX_TURNS: &str = "agentrace.conversation.max_turns";
    pub const CONVERSATION_TURNS: &str = "agentrace.conversation.turns";
    pub const CONVERSATION_SUMMARY: &str = "agentrace.conversation.summary";
    pub const CHATS_MODE: &str = "agentrace.multi_conversation.mode";
    pub const CHATS_RECIPIENTS: &str = "agentrace.multi_conversation.recipients";
    pub const CHATS_COUNT: &str = "agentrace.multi_conversation.count";
    pub const SPEAKER_CANDIDATES: &str = "agentrace.speaker_selection.candidates";
    pub const SPEAKER_SELECTED: &str = "agentrace.speaker_selection.selected";
    pub const SPEAKER_METHOD: &str = "agentrace.speaker_selection.method";
    pub const HUMAN_INPUT_PROMPT: &str = "agentrace.human_input.prompt";
    pub const HUMAN_INPUT_RESPONSE: &str = "agentrace.human_input.response";
    pub const HUMAN_INPUT_MODE: &str = "agentrace.human_input.mode";
    pub const CODE_LANGUAGE: &str = "agentrace.code_execution.language";
    pub const CODE_EXECUTOR: &str = "agentrace.code_execution.executor";
    pub const CODE_EXIT_CODE: &str = "agentrace.code_execution.exit_code";
    pub const CODE_SOURCE: &str = "agentrace.code_execution.code";
    pub const CODE_OUTPUT: &str = "agentrace.code_execution.output";
    pub const HANDOFF_SOURCE: &str = "agentrace.handoff.source";
    pub const HANDOFF_TARGET: &str = "agentrace.handoff.target";
    pub const HANDOFF_REASON: &str = "agentrace.handoff.reason";
    pub const GUARDRAIL_NAME: &str = "agentrace.guardrail.name";
    pub const GUARDRAIL_TRIGGERED: &str = "agentrace.guardrail.triggered";
    pub const GUARDRAIL_ACTION: &str = "agentrace.guardrail.action";
    /// Provider details of a provider whose namespace the spec does not define.
    pub const PROVIDER_REQUEST_SERVICE_TIER: &str = "agentrace.provider.request.service_tier";
    pub const PROVIDER_RESPONSE_SERVICE_TIER: &str = "agentrace.provider.response.service_tier";
    pub const PROVIDER_SYSTEM_FINGERPRINT: &str = "agentrace.provider.response.system_fingerprint";
    pub const PROVIDER_API_TYPE: &str = "agentrace.provider.api.type";
    pub const PROVIDER_GUARDRAIL_ID: &str = "agentrace.provider.guardrail.id";
    pub const PROVIDER_KNOWLEDGE_BASE_ID: &str = "agentrace.provider.knowledge_base.id";
}

/// AG2's own names (autogen 0.14 `autogen.opentelemetry`), for the `ag2` compatibility option.
pub mod ag2 {
    #![allow(missing_docs, reason = "each constant is the attribute key it names")]
    pub const SPAN_TYPE: &str = "ag2.span.type";
    pub const AGENT_REMOTE: &str = "gen_ai.agent.remote";
    pub const USAGE_COST: &str = "gen_ai.usage.cost";
    pub const CONVERSATION_MAX_TURNS: &str = "gen_ai.conversation.max_turns";
    pub const CONVERSATION_TURNS: &str = "gen_ai.conversation.turns";
    pub const CONVERSATION_RESUMED: &str = "gen_ai.conversation.resumed";
    pub const CHATS_COUNT: &str = "ag2.chats.count";
    pub const CHATS_MODE: &str = "ag2.chats.mode";
    pub const CHATS_RECIPIENTS: &str = "ag2.chats.recipients";
    /// The span name AG2 gives a sequential (synchronous) `initiate_chats`; the parallel one
    /// is plain `initiate_chats`.
    pub const SEQUENTIAL_CHATS_SPAN: &str = "agent.initiate_chats";
    pub const SPEAKER_CANDIDATES: &str = "ag2.speaker_selection.candidates";
    pub const SPEAKER_SELECTED: &str = "ag2.speaker_selection.selected";
    pub const HUMAN_INPUT_PROMPT: &str = "ag2.human_input.prompt";
    pub const HUMAN_INPUT_RESPONSE: &str = "ag2.human_input.response";
    pub const CODE_EXIT_CODE: &str = "ag2.code_execution.exit_code";
    pub const CODE_OUTPUT: &str = "ag2.code_execution.output";
}

/// Metric instruments the spec defines, with its units and bucket boundaries.
pub mod metric {
    /// `gen_ai.client.token.usage`.
    pub const TOKEN_USAGE: &str = "gen_ai.client.token.usage";
    /// Its description.
    pub const TOKEN_USAGE_DESCRIPTION: &str = "Number of input and output tokens used.";
    /// Its unit.
    pub const TOKEN_USAGE_UNIT: &str = "{token}";
    /// Its explicit bucket boundaries.
    pub const TOKEN_USAGE_BOUNDARIES: [f64; 14] = [
        1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
        4194304.0, 16777216.0, 67108864.0,
    ];
    /// `gen_ai.client.operation.duration`.
    pub const OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
    /// Its description.
    pub const OPERATION_DURATION_DESCRIPTION: &str = "GenAI operation duration.";
    /// Its unit.
    pub const OPERATION_DURATION_UNIT: &str = "s";
    /// Its explicit bucket boundaries.
    pub const OPERATION_DURATION_BOUNDARIES: [f64; 14] = [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ];
    /// `gen_ai.client.operation.time_to_first_chunk` (streaming calls only; unit `s`, the
    /// duration's boundaries).
    pub const TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.operation.time_to_first_chunk";
    /// Its description.
    pub const TIME_TO_FIRST_CHUNK_DESCRIPTION: &str = "Time to receive the first chunk, measured from when the client issues the generation request to when the first chunk is received in the response stream.";
    /// `gen_ai.client.operation.time_per_output_chunk` (streaming calls only, one point per
    /// chunk after the first; unit `s`, the duration's boundaries).
    pub const TIME_PER_OUTPUT_CHUNK: &str = "gen_ai.client.operation.time_per_output_chunk";
    /// Its description.
    pub const TIME_PER_OUTPUT_CHUNK_DESCRIPTION: &str = "Time per output chunk, recorded for each chunk received after the first one, measured as the time elapsed from the end of the previous chunk to the end of the current chunk.";
}
