//! Messages, tools and documents flattened into indexed attributes, as OpenInference defines
//! them: `llm.input_messages.N.message.role`, `.message.content` for a message of one text,
//! `.message.contents.K.message_content.*` for several parts or media,
//! `.message.tool_calls.K.tool_call.*` for the tool calls a model asked for,
//! `.message.tool_call_id` for a tool's answer; `llm.tools.N.tool.json_schema`;
//! `retrieval.documents.N.document.*`.

use agentrace_mapping::attrs::Attrs;
use agentrace_mapping::bindings::agentrace::plugin::types::{
    Media, Message, MessagePart, ToolDefinition, Value,
};
use agentrace_mapping::content::json_or_string;
use serde_json::{Map, json};

use crate::keys::{LLM_TOOLS, REDACTED, RETRIEVAL_DOCUMENTS};

/// What may be written of one side's messages.
#[derive(Debug, Clone, Copy)]
pub struct MessageFilter {
    /// Replace text by `__REDACTED__`.
    pub hide_text: bool,
    /// Leave images out.
    pub hide_images: bool,
    /// Longest base64 image kept, in characters.
    pub image_max_length: usize,
}

/// The text of a tool's answer: a JSON string's content, any other JSON as its text.
fn response_text(response: &str) -> String {
    match json_or_string(response) {
        serde_json::Value::String(text) => text,
        _ => response.to_string(),
    }
}

/// A message whose whole content is one text part: written as `message.content`.
fn single_text(message: &Message) -> Option<&String> {
    match message.parts.as_slice() {
        [MessagePart::Text(text)] => Some(text),
        _ => None,
    }
}

/// The URL an image part is written as: the URI itself, or a `data:` URL of the base64 content
/// (redacted beyond `max_length`, as OpenInference's `OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH`
/// says). `None` for media that are not images.
fn image_url(media: &Media, inline: bool, max_length: usize) -> Option<String> {
    let is_image = media.modality.as_deref() == Some("image")
        || media
            .mime_type
            .as_deref()
            .is_some_and(|m| m.starts_with("image/"));
    if !is_image {
        return None;
    }
    if !inline {
        return Some(media.content.clone());
    }
    let mime = media.mime_type.as_deref().unwrap_or("image/png");
    let url = format!("data:{mime};base64,{}", media.content);
    Some(if url.chars().count() > max_length {
        REDACTED.to_string()
    } else {
        url
    })
}

/// Writes `messages` under `prefix` (`llm.input_messages` or `llm.output_messages`), starting at
/// index `first`; returns the next free index.
pub fn flatten(
    prefix: &str,
    first: usize,
    messages: &[Message],
    filter: MessageFilter,
    a: &mut Attrs,
) -> usize {
    let text = |t: &str| {
        if filter.hide_text {
            REDACTED.to_string()
        } else {
            t.to_string()
        }
    };
    for (offset, message) in messages.iter().enumerate() {
        let at = format!("{prefix}.{}.message", first + offset);
        a.str(&format!("{at}.role"), &message.role);
        a.opt_str(&format!("{at}.name"), message.name.as_ref());
        if let Some(only) = single_text(message) {
            a.str(&format!("{at}.content"), &text(only));
            continue;
        }
        let (mut content, mut call) = (0, 0);
        for part in &message.parts {
            let item = format!("{at}.contents.{content}.message_content");
            match part {
                MessagePart::Text(t) | MessagePart::Reasoning(t) => {
                    let kind = if matches!(part, MessagePart::Text(_)) {
                        "text"
                    } else {
                        "reasoning"
                    };
                    a.str(&format!("{item}.type"), kind);
                    a.str(&format!("{item}.text"), &text(t));
                    content += 1;
                }
                MessagePart::ToolCall(request) => {
                    let call_at = format!("{at}.tool_calls.{call}.tool_call");
                    a.opt_str(&format!("{call_at}.id"), request.id.as_ref());
                    a.str(&format!("{call_at}.function.name"), &request.name);
                    if let Some(arguments) = &request.arguments {
                        a.str(&format!("{call_at}.function.arguments"), &text(arguments));
                    }
                    call += 1;
                }
                MessagePart::ToolCallResponse(response) => {
                    a.opt_str(&format!("{at}.tool_call_id"), response.id.as_ref());
                    a.str(
                        &format!("{at}.content"),
                        &text(&response_text(&response.response)),
                    );
                }
                MessagePart::Blob(media) | MessagePart::Uri(media) | MessagePart::File(media) => {
                    if filter.hide_images {
                        continue;
                    }
                    let inline = matches!(part, MessagePart::Blob(_));
                    if let Some(url) = image_url(media, inline, filter.image_max_length) {
                        a.str(&format!("{item}.type"), "image");
                        a.str(&format!("{item}.image.image.url"), &url);
                        content += 1;
                    }
                }
                MessagePart::Other(raw) => {
                    a.str(&format!("{item}.type"), "text");
                    a.str(&format!("{item}.text"), &text(raw));
                    content += 1;
                }
            }
        }
    }
    first + messages.len()
}

/// System instructions as the first input message, role `system`.
pub fn system_message(parts: &[MessagePart]) -> Option<Message> {
    (!parts.is_empty()).then(|| Message {
        role: "system".to_string(),
        name: None,
        parts: parts.to_vec(),
        finish_reason: None,
    })
}

/// The text of a message's text parts, joined by newlines; `None` when it has none.
pub fn plain_text(message: &Message) -> Option<String> {
    let texts: Vec<&str> = message
        .parts
        .iter()
        .filter_map(|part| match part {
            MessagePart::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// `llm.tools.N.tool.json_schema`: each tool in the OpenAI function-tool form OpenInference's
/// examples use. Without `full`, only the type and name (descriptions and parameter schemas
/// are content).
pub fn tools(definitions: &[ToolDefinition], full: bool, a: &mut Attrs) {
    for (index, tool) in definitions.iter().enumerate() {
        let mut function = Map::new();
        function.insert("name".into(), tool.name.as_str().into());
        if full {
            if let Some(description) = &tool.description {
                function.insert("description".into(), description.as_str().into());
            }
            if let Some(parameters) = &tool.parameters {
                function.insert("parameters".into(), json_or_string(parameters));
            }
        }
        let schema = json!({"type": tool.type_, "function": function});
        a.str(
            &format!("{LLM_TOOLS}.{index}.tool.json_schema"),
            &schema.to_string(),
        );
    }
}

/// `retrieval.documents.N.document.*` from the record's JSON array of documents (`id`,
/// `score`, and `content` when the runtime gave it). Entries that are not objects are skipped.
pub fn documents(raw: &str, a: &mut Attrs) {
    let serde_json::Value::Array(items) = json_or_string(raw) else {
        return;
    };
    let objects = items.iter().filter_map(|item| item.as_object());
    for (index, document) in objects.enumerate() {
        let at = format!("{RETRIEVAL_DOCUMENTS}.{index}.document");
        match document.get("id") {
            Some(serde_json::Value::String(id)) => a.str(&format!("{at}.id"), id),
            Some(serde_json::Value::Number(n)) => match n.as_i64() {
                Some(id) => a.push(&format!("{at}.id"), Value::Int(id)),
                None => a.str(&format!("{at}.id"), &n.to_string()),
            },
            _ => {}
        }
        if let Some(score) = document.get("score").and_then(|s| s.as_f64()) {
            a.push(&format!("{at}.score"), Value::Float(score));
        }
        if let Some(content) = document.get("content").and_then(|c| c.as_str()) {
            a.str(&format!("{at}.content"), content);
        }
    }
}
