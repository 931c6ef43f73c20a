//! pydantic-ai's own instrumentation (scope `pydantic-ai`, data format version 5: the default
//! of pydantic-ai 2.68.0, captured in `tests/fixtures/otlp-in/pydantic-ai-2.68.0.jsonl`). Its
//! spans are on the GenAI conventions, read by [`crate::genai`], with these departures:
//! - on the agent span, content outside the conventions' attributes, recorded by default:
//!   `pydantic_ai.all_messages` (the whole conversation, in the conventions' message format) and
//!   `final_result` (the answer). They become the record's input messages (the conversation
//!   before the answer) and output message, so that agentrace's capture setting governs them;
//! - on the agent span, `model_name` (read as `gen_ai.request.model`) and `agent_name` (the
//!   same as `gen_ai.agent.name`);
//! - on chat spans, `model_request_parameters`: the tool definitions with their JSON schemas
//!   (which `gen_ai.tool.definitions` carries too, and the mapper records under the capture
//!   setting) and pydantic-ai's output settings. It is left out, since its schemas would
//!   otherwise leave whatever the capture setting says;
//! - `gen_ai.system` beside `gen_ai.provider.name` (deprecated; read as the provider);
//! - `gen_ai.agent.call.id` and `gen_ai.aggregated_usage.*`, which the conventions lack: moved
//!   to `pydantic_ai.*`;
//! - `logfire.msg` and `logfire.json_schema`, Logfire's display hints: passed on.

use crate::attrs::Attrs;
use crate::bindings::agentrace::plugin::types::{
    AgentSpan, Message, MessagePart, OtelSpan, ProviderDetails,
};
use crate::bindings::exports::agentrace::plugin::ingest::Scope;
use crate::record::no_request;
use crate::{genai, messages};

/// pydantic-ai's instrumentation scope.
pub const SCOPE: &str = "pydantic-ai";

/// Where `gen_ai.*` attributes the conventions lack go.
const VENDOR: &str = "pydantic_ai";

/// The record for one of pydantic-ai's spans, or `None` when it is not on the conventions (it
/// passes on as it came).
pub fn record(scope: &Scope, span: &mut OtelSpan) -> Option<(AgentSpan, Option<ProviderDetails>)> {
    if !genai::recognises(span) {
        return None;
    }
    let mut attrs = Attrs::new(std::mem::take(&mut span.attributes));
    let conversation = attrs.json("pydantic_ai.all_messages");
    let answer = attrs.str("final_result");
    let model = attrs.str("model_name");
    attrs.take("agent_name");
    attrs.take("model_request_parameters");
    let (mut record, details) = genai::read(scope, span, attrs, Some(VENDOR))?;
    if let Some(model) = model {
        let request = record.request.get_or_insert_with(no_request);
        request.model.get_or_insert(model);
    }
    if let Some(conversation) = conversation {
        let mut conversation = messages::messages(&conversation);
        if record.output_messages.is_empty()
            && conversation.last().is_some_and(|m| m.role == "assistant")
        {
            record.output_messages = conversation.pop().into_iter().collect();
        }
        if record.input_messages.is_empty() {
            record.input_messages = conversation;
        }
    }
    if let Some(answer) = answer
        && record.output_messages.is_empty()
    {
        record.output_messages = vec![Message {
            role: "assistant".to_string(),
            name: None,
            parts: vec![MessagePart::Text(answer)],
            finish_reason: None,
        }];
    }
    Some((record, details))
}
