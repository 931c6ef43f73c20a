//! AG2's own OpenTelemetry: classic AG2 (`autogen` 0.14, `autogen.opentelemetry`) and AG2 1.x
//! (`TelemetryMiddleware`), both under the scope `opentelemetry.instrumentation.ag2`. Every span
//! carries `ag2.span.type`; the GenAI attributes follow the conventions with these deviations,
//! corrected here (tests/fixtures/otlp-in/README.md):
//! - finish reasons as a JSON string (`'["tool_calls"]'`), read as a list;
//! - `gen_ai.usage.cost`, not in the conventions, read as the record's cost;
//! - AG2 1.x's messages in OpenAI's chat format, read into parts;
//! - its own concepts as `ag2.*` attributes: speaker selection (`ag2.speaker_selection.*`),
//!   human input (`ag2.human_input.*`), code execution (`ag2.code_execution.*`), several chats
//!   (`ag2.chats.*`), conversations (`gen_ai.conversation.turns`, `max_turns`, `resumed`) and
//!   remote agents (`gen_ai.agent.remote`, `server.address`);
//! - content recorded whatever the capture setting: the record carries it, and the mapper
//!   records it only when agentrace's capture is on.

use crate::attrs::Attrs;
use crate::bindings::agentrace::plugin::types::{
    AgentSpan, CodeExecutionInfo, ConversationInfo, HumanInputInfo, MultiConversationInfo,
    Operation, OtelSpan, ProviderDetails, SpeakerSelectionInfo,
};
use crate::record::{blank, finish, no_details, operation_of, read_error, read_genai};

/// AG2's instrumentation scope, classic and 1.x alike.
pub const SCOPE: &str = "opentelemetry.instrumentation.ag2";

/// The operation of an AG2 span: from `ag2.span.type`, else from `gen_ai.operation.name`.
fn operation(attrs: &mut Attrs) -> Option<Operation> {
    let by_type = match attrs.str("ag2.span.type").as_deref() {
        Some("conversation") => Some(Operation::Conversation),
        Some("multi_conversation") => Some(Operation::MultiConversation),
        Some("agent") => Some(Operation::InvokeAgent),
        Some("tool") => Some(Operation::ExecuteTool),
        Some("handoff") => Some(Operation::Handoff),
        Some("speaker_selection") => Some(Operation::SpeakerSelection),
        Some("human_input") => Some(Operation::HumanInput),
        Some("code_execution") => Some(Operation::CodeExecution),
        // `llm` is a chat unless the operation name says otherwise.
        _ => None,
    };
    let by_name = attrs
        .str("gen_ai.operation.name")
        .and_then(|name| operation_of(&name));
    by_type.or(by_name)
}

/// The record for an AG2 span, or `None` when it is none of AG2's operations.
pub fn record(span: &mut OtelSpan) -> Option<(AgentSpan, Option<ProviderDetails>)> {
    let mut attrs = Attrs::new(std::mem::take(&mut span.attributes));
    let operation = operation(&mut attrs)?;
    let mut record = blank(span, operation);
    let mut details = no_details();
    // Read before the generic GenAI attributes take the cost's neighbours.
    let cost = attrs.float("gen_ai.usage.cost");
    let turns = attrs.int("gen_ai.conversation.turns");
    let max_turns = attrs.int("gen_ai.conversation.max_turns");
    let _resumed = attrs.bool("gen_ai.conversation.resumed");
    let remote = attrs.bool("gen_ai.agent.remote");
    read_genai(&mut record, &mut details, &mut attrs);
    if let Some(cost) = cost {
        let usage = record
            .usage
            .get_or_insert(crate::bindings::agentrace::plugin::types::Usage {
                input_tokens: None,
                output_tokens: None,
                cache_read_input_tokens: None,
                cache_creation_input_tokens: None,
                reasoning_output_tokens: None,
                cost: None,
            });
        usage.cost = Some(cost);
    }
    match operation {
        Operation::Conversation => {
            record.conversation = Some(ConversationInfo {
                recipient: None,
                method: None,
                max_turns,
                turns,
                summary: None,
            });
        }
        Operation::MultiConversation => {
            record.multi_conversation = Some(MultiConversationInfo {
                mode: attrs.str("ag2.chats.mode"),
                recipients: attrs.strings("ag2.chats.recipients"),
            });
            // The count is the recipients'; ids and summaries stay as AG2's attributes.
            let _count = attrs.int("ag2.chats.count");
        }
        Operation::SpeakerSelection => {
            record.speaker_selection = Some(SpeakerSelectionInfo {
                candidates: attrs.strings("ag2.speaker_selection.candidates"),
                selected: attrs.str("ag2.speaker_selection.selected"),
                method: attrs.str("ag2.speaker_selection.method"),
            });
        }
        Operation::HumanInput => {
            record.human_input = Some(HumanInputInfo {
                prompt: attrs.str_or_empty("ag2.human_input.prompt"),
                response: attrs.str_or_empty("ag2.human_input.response"),
                input_mode: attrs.str("ag2.human_input.mode"),
            });
        }
        Operation::CodeExecution => {
            record.code_execution = Some(CodeExecutionInfo {
                language: attrs.str("ag2.code_execution.language"),
                executor: attrs.str("ag2.code_execution.executor"),
                exit_code: attrs.int("ag2.code_execution.exit_code"),
                code: attrs.str("ag2.code_execution.code"),
                output: attrs.str_or_empty("ag2.code_execution.output"),
            });
        }
        Operation::InvokeAgent if remote == Some(true) && record.server.is_none() => {
            // A remote agent without an address keeps the flag as AG2's attribute.
            record
                .attributes
                .push(crate::bindings::agentrace::plugin::types::Attribute {
                    key: "ag2.agent.remote".to_string(),
                    value: crate::bindings::agentrace::plugin::types::Value::Boolean(true),
                });
        }
        _ => {}
    }
    record.error = read_error(span, &mut attrs);
    let remote_flag = std::mem::take(&mut record.attributes);
    finish(&mut record, attrs, "ag2");
    record.attributes.extend(remote_flag);
    Some((record, crate::record::some_details(details)))
}
