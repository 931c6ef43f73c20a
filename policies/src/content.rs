//! Which attributes carry content: what users say to agents and models, what they answer, and
//! what tools and code receive and return.

/// Attribute keys that hold content, in the GenAI conventions and agentrace's namespaces.
pub const CONTENT_KEYS: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.query.text",
    "gen_ai.retrieval.documents",
    "agentrace.human_input.prompt",
    "agentrace.human_input.response",
    "agentrace.code_execution.code",
    "agentrace.code_execution.output",
    "agentrace.conversation.summary",
    "ag2.human_input.prompt",
    "ag2.human_input.response",
    "ag2.code_execution.output",
];

/// Whether `key` is a content attribute.
pub fn is_content(key: &str) -> bool {
    CONTENT_KEYS.contains(&key)
}
