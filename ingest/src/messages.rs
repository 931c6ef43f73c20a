//! Content as producers record it, read into the record's messages: the GenAI parts format
//! (`{"role", "parts": [{"type": "text", "content"}, ...]}`, what AG2 classic, OpenLLMetry and
//! the Vercel AI SDK write), OpenAI's chat format (`{"role", "content", "tool_calls"}`, what
//! AG2 1.x writes and what OpenInference's raw request holds), and tool definitions in either
//! shape. The mapper writes them back in the conventions' form, when capture is on.

use serde_json::Value as Json;

use crate::bindings::agentrace::plugin::types::{
    Media, Message, MessagePart, ToolCallRequest, ToolCallResponse, ToolDefinition,
};

/// The text of `value[key]`, if it is a string.
fn text(value: &Json, key: &str) -> Option<String> {
    value.get(key).and_then(Json::as_str).map(str::to_string)
}

/// JSON as the WIT's `json` text: a string stays a JSON string.
fn json_text(value: &Json) -> String {
    value.to_string()
}

/// Arguments as JSON text: a producer that wrote them as a string of JSON gets them parsed, so
/// that they come out as the object they are.
fn arguments(value: &Json) -> String {
    match value {
        Json::String(text) => match serde_json::from_str::<Json>(text) {
            Ok(parsed @ Json::Object(_)) | Ok(parsed @ Json::Array(_)) => parsed.to_string(),
            _ => value.to_string(),
        },
        other => other.to_string(),
    }
}

/// Media of a part, its content under `content_key`.
fn media(part: &Json, content_key: &str) -> Media {
    Media {
        modality: text(part, "modality"),
        mime_type: text(part, "mime_type"),
        content: text(part, content_key).unwrap_or_default(),
    }
}

/// One part in the GenAI parts format.
pub fn part(value: &Json) -> MessagePart {
    let content = || {
        text(value, "content")
            .or_else(|| text(value, "text"))
            .unwrap_or_default()
    };
    match value.get("type").and_then(Json::as_str).unwrap_or_default() {
        "text" => MessagePart::Text(content()),
        "reasoning" | "thinking" => MessagePart::Reasoning(content()),
        "tool_call" => MessagePart::ToolCall(ToolCallRequest {
            id: text(value, "id"),
            name: text(value, "name").unwrap_or_default(),
            arguments: value.get("arguments").map(arguments),
        }),
        "tool_call_response" => MessagePart::ToolCallResponse(ToolCallResponse {
            id: text(value, "id"),
            response: value
                .get("response")
                .or_else(|| value.get("result"))
                .map(json_text)
                .unwrap_or_else(|| "null".to_string()),
        }),
        "blob" => MessagePart::Blob(media(value, "content")),
        "uri" => MessagePart::Uri(media(value, "uri")),
        "file" => MessagePart::File(media(value, "file_id")),
        _ => MessagePart::Other(json_text(value)),
    }
}

/// An OpenAI chat message's content: a string, a list of content parts, or none.
fn openai_content(content: Option<&Json>) -> Vec<MessagePart> {
    match content {
        Some(Json::String(text)) if !text.is_empty() => vec![MessagePart::Text(text.clone())],
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| match item.get("type").and_then(Json::as_str) {
                Some("text") | Some("input_text") | Some("output_text") => {
                    MessagePart::Text(text(item, "text").unwrap_or_default())
                }
                Some("image_url") => MessagePart::Uri(Media {
                    modality: Some("image".to_string()),
                    mime_type: None,
                    content: item
                        .get("image_url")
                        .and_then(|u| text(u, "url"))
                        .unwrap_or_default(),
                }),
                _ => part(item),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One message in OpenAI's chat format.
fn openai_message(value: &Json) -> Message {
    let role = text(value, "role").unwrap_or_else(|| "user".to_string());
    let mut parts = Vec::new();
    if role == "tool" {
        let content = value.get("content").cloned().unwrap_or(Json::Null);
        parts.push(MessagePart::ToolCallResponse(ToolCallResponse {
            id: text(value, "tool_call_id"),
            response: json_text(&content),
        }));
    } else {
        parts.extend(openai_content(value.get("content")));
    }
    for call in value
        .get("tool_calls")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let function = call.get("function").unwrap_or(call);
        parts.push(MessagePart::ToolCall(ToolCallRequest {
            id: text(call, "id"),
            name: text(function, "name").unwrap_or_default(),
            arguments: function.get("arguments").map(arguments),
        }));
    }
    Message {
        role,
        name: text(value, "name"),
        parts,
        finish_reason: text(value, "finish_reason"),
    }
}

/// One message in either format.
pub fn message(value: &Json) -> Message {
    match value.get("parts").and_then(Json::as_array) {
        Some(parts) => Message {
            role: text(value, "role").unwrap_or_else(|| "user".to_string()),
            name: text(value, "name"),
            parts: parts.iter().map(part).collect(),
            finish_reason: text(value, "finish_reason"),
        },
        None => openai_message(value),
    }
}

/// Messages from a JSON array (either format); a single message object counts as one. Text
/// that is not JSON is one user message holding it.
pub fn messages(value: &Json) -> Vec<Message> {
    match value {
        Json::Array(items) => items.iter().map(message).collect(),
        Json::Object(_) => vec![message(value)],
        Json::String(text) if !text.is_empty() => vec![Message {
            role: "user".to_string(),
            name: None,
            parts: vec![MessagePart::Text(text.clone())],
            finish_reason: None,
        }],
        _ => Vec::new(),
    }
}

/// System instructions: a list of parts, or text.
pub fn instructions(value: &Json) -> Vec<MessagePart> {
    match value {
        Json::Array(items) => items.iter().map(part).collect(),
        Json::String(text) if !text.is_empty() => vec![MessagePart::Text(text.clone())],
        _ => Vec::new(),
    }
}

/// Tool definitions: the conventions' flat form (`parameters`, or the AI SDK's
/// `inputSchema`), or OpenAI's `{"type": "function", "function": {...}}`.
pub fn tool_definitions(value: &Json) -> Vec<ToolDefinition> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|tool| {
            let function = tool.get("function").unwrap_or(tool);
            ToolDefinition {
                type_: text(tool, "type").unwrap_or_else(|| "function".to_string()),
                name: text(function, "name").unwrap_or_default(),
                description: text(function, "description"),
                parameters: function
                    .get("parameters")
                    .or_else(|| function.get("inputSchema"))
                    .or_else(|| function.get("input_schema"))
                    .map(json_text),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_messages_become_parts() {
        let read = messages(&json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
        ]));
        assert_eq!(
            read[0].parts,
            [MessagePart::Text("Weather in Paris?".into())]
        );
        assert_eq!(
            read[1].parts,
            [MessagePart::ToolCall(ToolCallRequest {
                id: Some("call_1".into()),
                name: "get_weather".into(),
                arguments: Some(r#"{"city":"Paris"}"#.into()),
            })]
        );
        assert_eq!(
            read[2].parts,
            [MessagePart::ToolCallResponse(ToolCallResponse {
                id: Some("call_1".into()),
                response: r#""sunny""#.into(),
            })]
        );
    }

    #[test]
    fn parts_and_tool_definitions_in_every_shape() {
        let read = messages(&json!([{"role": "assistant", "parts": [
            {"type": "text", "content": "hi"}, {"type": "thinking", "content": "hm"}]}]));
        assert_eq!(
            read[0].parts,
            [
                MessagePart::Text("hi".into()),
                MessagePart::Reasoning("hm".into())
            ]
        );
        let tools = tool_definitions(&json!([
            {"type": "function", "name": "a", "inputSchema": {"type": "object"}},
            {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}}
        ]));
        assert_eq!(tools[0].parameters.as_deref(), Some(r#"{"type":"object"}"#));
        assert_eq!(tools[1].name, "b");
    }
}
