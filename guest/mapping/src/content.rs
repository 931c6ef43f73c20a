//! Content attributes as JSON in the GenAI parts format (`shared/semconv-v1.41/schemas/`):
//! `gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.system_instructions` and
//! `gen_ai.tool.definitions`.
//!
//! Tool arguments, tool results and `other` parts arrive as JSON text. Valid JSON is embedded as
//! structure; anything else is embedded as a JSON string, so the output is always valid JSON.

use serde_json::{Map, Value, json};

use crate::bindings::agentrace::plugin::types::{Media, Message, MessagePart, ToolDefinition};

/// Parses JSON text, or keeps it as a JSON string when it is not valid JSON.
pub fn json_or_string(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn media_part(kind: &str, field: &str, media: &Media) -> Value {
    let mut part = Map::new();
    part.insert("type".into(), kind.into());
    if let Some(modality) = &media.modality {
        part.insert("modality".into(), modality.as_str().into());
    }
    if let Some(mime) = &media.mime_type {
        part.insert("mime_type".into(), mime.as_str().into());
    }
    part.insert(field.into(), media.content.as_str().into());
    Value::Object(part)
}

/// One part as the schema's JSON object.
pub fn part_json(part: &MessagePart) -> Value {
    match part {
        MessagePart::Text(text) => json!({"type": "text", "content": text}),
        MessagePart::Reasoning(text) => json!({"type": "reasoning", "content": text}),
        MessagePart::ToolCall(call) => {
            let mut part = Map::new();
            part.insert("type".into(), "tool_call".into());
            if let Some(id) = &call.id {
                part.insert("id".into(), id.as_str().into());
            }
            part.insert("name".into(), call.name.as_str().into());
            if let Some(arguments) = &call.arguments {
                part.insert("arguments".into(), json_or_string(arguments));
            }
            Value::Object(part)
        }
        MessagePart::ToolCallResponse(response) => {
            let mut part = Map::new();
            part.insert("type".into(), "tool_call_response".into());
            if let Some(id) = &response.id {
                part.insert("id".into(), id.as_str().into());
            }
            part.insert("response".into(), json_or_string(&response.response));
            Value::Object(part)
        }
        MessagePart::Blob(media) => media_part("blob", "content", media),
        MessagePart::Uri(media) => media_part("uri", "uri", media),
        MessagePart::File(media) => media_part("file", "file_id", media),
        MessagePart::Other(text) => match json_or_string(text) {
            object @ Value::Object(_) => object,
            // Not an object with a type: keep the value without breaking the schema's
            // requirement that every part has a `type`.
            other => json!({"type": "other", "content": other}),
        },
    }
}

fn message_json(message: &Message, is_output: bool) -> Value {
    let mut object = Map::new();
    object.insert("role".into(), message.role.as_str().into());
    if let Some(name) = &message.name {
        object.insert("name".into(), name.as_str().into());
    }
    object.insert(
        "parts".into(),
        Value::Array(message.parts.iter().map(part_json).collect()),
    );
    if is_output {
        // The output schema requires a finish reason on every message.
        let reason = message.finish_reason.as_deref().unwrap_or("stop");
        object.insert("finish_reason".into(), reason.into());
    } else if let Some(reason) = &message.finish_reason {
        object.insert("finish_reason".into(), reason.as_str().into());
    }
    Value::Object(object)
}

/// `gen_ai.input.messages` as JSON text.
pub fn input_messages(messages: &[Message]) -> String {
    Value::Array(messages.iter().map(|m| message_json(m, false)).collect()).to_string()
}

/// `gen_ai.output.messages` as JSON text. Messages without a finish reason get `stop`, which
/// the output schema requires.
pub fn output_messages(messages: &[Message]) -> String {
    Value::Array(messages.iter().map(|m| message_json(m, true)).collect()).to_string()
}

/// `gen_ai.system_instructions` as JSON text.
pub fn system_instructions(parts: &[MessagePart]) -> String {
    Value::Array(parts.iter().map(part_json).collect()).to_string()
}

/// `gen_ai.tool.definitions` as JSON text. Without `full`, only the required `type` and `name`
/// are written, as the spec recommends by default (descriptions and parameter schemas can be
/// large).
pub fn tool_definitions(tools: &[ToolDefinition], full: bool) -> String {
    let items = tools.iter().map(|tool| {
        let mut object = Map::new();
        object.insert("type".into(), tool.type_.as_str().into());
        object.insert("name".into(), tool.name.as_str().into());
        if full {
            if let Some(description) = &tool.description {
                object.insert("description".into(), description.as_str().into());
            }
            if let Some(parameters) = &tool.parameters {
                object.insert("parameters".into(), json_or_string(parameters));
            }
        }
        Value::Object(object)
    });
    Value::Array(items.collect()).to_string()
}

/// A list of names as a JSON array, the way AG2 records candidates and recipients.
pub fn name_list(names: &[String]) -> String {
    Value::Array(names.iter().map(|n| n.as_str().into()).collect()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::agentrace::plugin::types::{ToolCallRequest, ToolCallResponse};

    #[test]
    fn keeps_speaker_name_and_embeds_valid_json_arguments() {
        let message = Message {
            role: "assistant".into(),
            name: Some("planner".into()),
            parts: vec![MessagePart::ToolCall(ToolCallRequest {
                id: Some("call_1".into()),
                name: "get_weather".into(),
                arguments: Some(r#"{"city":"Paris"}"#.into()),
            })],
            finish_reason: None,
        };
        let out: Value = serde_json::from_str(&input_messages(&[message])).unwrap();
        assert_eq!(out[0]["name"], "planner");
        assert_eq!(out[0]["parts"][0]["arguments"]["city"], "Paris");
        assert!(out[0].get("finish_reason").is_none());
    }

    #[test]
    fn invalid_json_becomes_a_string_and_output_gets_a_finish_reason() {
        let message = Message {
            role: "tool".into(),
            name: None,
            parts: vec![MessagePart::ToolCallResponse(ToolCallResponse {
                id: None,
                response: "rainy, 57°F".into(),
            })],
            finish_reason: None,
        };
        let out: Value = serde_json::from_str(&output_messages(&[message])).unwrap();
        assert_eq!(out[0]["parts"][0]["response"], "rainy, 57°F");
        assert_eq!(out[0]["finish_reason"], "stop");
    }

    #[test]
    fn other_parts_always_carry_a_type() {
        assert_eq!(
            part_json(&MessagePart::Other(
                r#"{"type":"server_tool_call","name":"x"}"#.into()
            ))["type"],
            "server_tool_call"
        );
        assert_eq!(
            part_json(&MessagePart::Other("[1,2]".into()))["type"],
            "other"
        );
    }
}
