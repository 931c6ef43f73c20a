//! The OpenInference attribute keys and values this mapper writes, as the specification names
//! them (`shared/openinference/spec/semantic_conventions.md`, and the constants of
//! `openinference-semantic-conventions` 0.1.32 summarised in
//! `shared/openinference/semconv-constants.json`, which a test checks these against).

/// `openinference.span.kind`: required on every span.
pub const SPAN_KIND: &str = "openinference.span.kind";

/// The span kind values.
pub mod kind {
    /// A call to a language model.
    pub const LLM: &str = "LLM";
    /// A call for embeddings.
    pub const EMBEDDING: &str = "EMBEDDING";
    /// A retrieval from a data source.
    pub const RETRIEVER: &str = "RETRIEVER";
    /// A tool or function call.
    pub const TOOL: &str = "TOOL";
    /// An agent's reasoning block around model and tool calls.
    pub const AGENT: &str = "AGENT";
    /// A step linking other steps: workflows, conversations, agent coordination.
    pub const CHAIN: &str = "CHAIN";
    /// A check of input or output.
    pub const GUARDRAIL: &str = "GUARDRAIL";
}

/// `input.value`.
pub const INPUT_VALUE: &str = "input.value";
/// `input.mime_type`.
pub const INPUT_MIME_TYPE: &str = "input.mime_type";
/// `output.value`.
pub const OUTPUT_VALUE: &str = "output.value";
/// `output.mime_type`.
pub const OUTPUT_MIME_TYPE: &str = "output.mime_type";
/// `session.id`.
pub const SESSION_ID: &str = "session.id";
/// `metadata`: a JSON object.
pub const METADATA: &str = "metadata";
/// `agent.name`.
pub const AGENT_NAME: &str = "agent.name";

/// `llm.model_name`.
pub const LLM_MODEL_NAME: &str = "llm.model_name";
/// `llm.request.model_name`: only when it differs from the answering model.
pub const LLM_REQUEST_MODEL_NAME: &str = "llm.request.model_name";
/// `llm.response.model_name`: only when it differs from the requested model.
pub const LLM_RESPONSE_MODEL_NAME: &str = "llm.response.model_name";
/// `llm.provider`.
pub const LLM_PROVIDER: &str = "llm.provider";
/// `llm.system`.
pub const LLM_SYSTEM: &str = "llm.system";
/// `llm.invocation_parameters`: a JSON object.
pub const LLM_INVOCATION_PARAMETERS: &str = "llm.invocation_parameters";
/// `llm.input_messages` (flattened).
pub const LLM_INPUT_MESSAGES: &str = "llm.input_messages";
/// `llm.output_messages` (flattened).
pub const LLM_OUTPUT_MESSAGES: &str = "llm.output_messages";
/// `llm.tools` (flattened).
pub const LLM_TOOLS: &str = "llm.tools";
/// `llm.prompts` (flattened; the legacy completions API).
pub const LLM_PROMPTS: &str = "llm.prompts";
/// `llm.choices` (flattened; the legacy completions API).
pub const LLM_CHOICES: &str = "llm.choices";
/// `llm.token_count.prompt`.
pub const TOKENS_PROMPT: &str = "llm.token_count.prompt";
/// `llm.token_count.completion`.
pub const TOKENS_COMPLETION: &str = "llm.token_count.completion";
/// `llm.token_count.total`.
pub const TOKENS_TOTAL: &str = "llm.token_count.total";
/// `llm.token_count.prompt_details.cache_read`.
pub const TOKENS_CACHE_READ: &str = "llm.token_count.prompt_details.cache_read";
/// `llm.token_count.prompt_details.cache_write`.
pub const TOKENS_CACHE_WRITE: &str = "llm.token_count.prompt_details.cache_write";
/// `llm.token_count.completion_details.reasoning`.
pub const TOKENS_REASONING: &str = "llm.token_count.completion_details.reasoning";

/// Token usage of spans that are not model calls (agent turns, conversations), under
/// agentrace's namespace: Phoenix reads both `llm.token_count.*` and `gen_ai.usage.*` as token
/// counts and sums them over a trace, so either name would count the model calls' tokens again.
pub const AGENTRACE_INPUT_TOKENS: &str = "agentrace.usage.input_tokens";
/// See [`AGENTRACE_INPUT_TOKENS`].
pub const AGENTRACE_OUTPUT_TOKENS: &str = "agentrace.usage.output_tokens";

/// `embedding.model_name`.
pub const EMBEDDING_MODEL_NAME: &str = "embedding.model_name";
/// `embedding.invocation_parameters`.
pub const EMBEDDING_INVOCATION_PARAMETERS: &str = "embedding.invocation_parameters";

/// `tool.name`.
pub const TOOL_NAME: &str = "tool.name";
/// `tool.description`.
pub const TOOL_DESCRIPTION: &str = "tool.description";
/// `tool.id`: the call id the result answers.
pub const TOOL_ID: &str = "tool.id";

/// `retrieval.documents` (flattened).
pub const RETRIEVAL_DOCUMENTS: &str = "retrieval.documents";

/// The mime types of `input.value` and `output.value`.
pub mod mime {
    /// Plain text.
    pub const TEXT: &str = "text/plain";
    /// JSON.
    pub const JSON: &str = "application/json";
}

/// What a hidden value is replaced with (the specification's "Redacted Content").
pub const REDACTED: &str = "__REDACTED__";
