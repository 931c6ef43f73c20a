//! What a runtime reports about a span, in Rust and in its JSON form.
//!
//! [`SpanFields`] is carried by every lifecycle call (start, update, end). The host merges them
//! field by field, later values winning, so a runtime can report what it knows when it knows it
//! (a tool's arguments at start, its result at end). Message parts use the GenAI parts format
//! itself (`{"type": "text", "content": ...}`), so the JSON form reads like the spec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// Field-by-field merge: `later` wins wherever it says something.
pub trait Merge {
    /// Merges `later` into `self`.
    fn merge(&mut self, later: Self);
}

impl<T: Merge> Merge for Option<T> {
    fn merge(&mut self, later: Self) {
        match (self.as_mut(), later) {
            (Some(current), Some(later)) => current.merge(later),
            (None, Some(later)) => *self = Some(later),
            (_, None) => {}
        }
    }
}

/// Implements [`Merge`] for a struct: `leaf` fields are replaced when the later value is set,
/// `nested` fields merge recursively.
macro_rules! merge_struct {
    ($ty:ty { leaf: [$($leaf:ident),* $(,)?] $(, nested: [$($nested:ident),* $(,)?])? }) => {
        impl Merge for $ty {
            fn merge(&mut self, later: Self) {
                $(if later.$leaf.is_some() { self.$leaf = later.$leaf; })*
                $($(self.$nested.merge(later.$nested);)*)?
            }
        }
    };
}

/// Who an operation is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentInfo {
    /// `gen_ai.agent.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `gen_ai.agent.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `gen_ai.agent.description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `gen_ai.agent.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
merge_struct!(AgentInfo {
    leaf: [name, id, description, version]
});

impl AgentInfo {
    /// An agent known by name only.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

/// A remote endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEndpoint {
    /// Host, IP or socket path.
    pub address: String,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}
impl Merge for ServerEndpoint {
    fn merge(&mut self, later: Self) {
        *self = later;
    }
}

/// Model request parameters; see the WIT `model-request` for each field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    missing_docs,
    reason = "fields mirror the WIT record, documented there"
)]
pub struct ModelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_formats: Option<Vec<String>>,
}
merge_struct!(ModelRequest {
    leaf: [
        model,
        temperature,
        top_p,
        top_k,
        max_tokens,
        frequency_penalty,
        presence_penalty,
        stop_sequences,
        seed,
        choice_count,
        stream,
        output_type,
        dimension_count,
        encoding_formats
    ]
});

/// Model response metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    missing_docs,
    reason = "fields mirror the WIT record, documented there"
)]
pub struct ModelResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reasons: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_chunk: Option<f64>,
}
merge_struct!(ModelResponse {
    leaf: [model, id, finish_reasons, time_to_first_chunk]
});

/// Token usage; `input_tokens` includes cached tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    missing_docs,
    reason = "fields mirror the WIT record, documented there"
)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_output_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}
merge_struct!(Usage {
    leaf: [
        input_tokens,
        output_tokens,
        cache_read_input_tokens,
        cache_creation_input_tokens,
        reasoning_output_tokens,
        cost
    ]
});

/// One message part, in the GenAI parts format: `{"type": "text", "content": "..."}`,
/// `tool_call` (`id`, `name`, `arguments`), `tool_call_response` (`id`, `response`),
/// `reasoning`, `blob` / `uri` / `file` (`modality`, `mime_type`, and `content` / `uri` /
/// `file_id`). Any other object with a `type` passes through as is.
#[derive(Debug, Clone, PartialEq)]
pub struct Part(pub Json);

impl Serialize for Part {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = Json::deserialize(d)?;
        let part = match &value {
            Json::String(text) => serde_json::json!({"type": "text", "content": text}),
            Json::Object(object) => match object.get("type").and_then(Json::as_str) {
                Some(_) => value.clone(),
                None => return Err(D::Error::custom("a message part needs a `type`")),
            },
            _ => return Err(D::Error::custom("a message part is an object or a string")),
        };
        let kind = part["type"].as_str().unwrap_or_default();
        let need = |field: &str| -> Result<(), D::Error> {
            match part.get(field) {
                Some(_) => Ok(()),
                None => Err(D::Error::custom(format!("`{kind}` part needs `{field}`"))),
            }
        };
        match kind {
            "text" | "reasoning" | "blob" => need("content")?,
            "tool_call" => need("name")?,
            "tool_call_response" => need("response")?,
            "uri" => need("uri")?,
            "file" => need("file_id")?,
            _ => {}
        }
        Ok(Part(part))
    }
}

impl Part {
    /// A text part.
    pub fn text(content: impl Into<String>) -> Self {
        Part(serde_json::json!({"type": "text", "content": content.into()}))
    }
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// `system`, `user`, `assistant`, `tool`.
    pub role: String,
    /// The speaker's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The content. A plain string is accepted as one text part.
    #[serde(default, deserialize_with = "parts_or_string")]
    pub parts: Vec<Part>,
    /// Output messages: why generation stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

fn parts_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Part>, D::Error> {
    use serde::de::Error as _;
    match Json::deserialize(d)? {
        Json::String(text) => Ok(vec![Part::text(text)]),
        Json::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                Part::deserialize(item).map_err(|e| D::Error::custom(format!("part {i}: {e}")))
            })
            .collect(),
        _ => Err(D::Error::custom("`parts` is a list of parts or a string")),
    }
}

impl Message {
    /// A message with one text part.
    pub fn text(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            name: None,
            parts: vec![Part::text(content)],
            finish_reason: None,
        }
    }
}

/// A tool offered to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolDefinition {
    /// `function`, or another type.
    #[serde(rename = "type", default = "function")]
    pub kind: String,
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
}

fn function() -> String {
    "function".to_string()
}

/// One tool execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// `function`, `extension`, `datastore`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Arguments, any JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Json>,
    /// Result, any JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
}
merge_struct!(ToolCall {
    leaf: [name, call_id, kind, description, arguments, result]
});

/// Generates a struct of optional leaf fields mirroring a WIT record, with its merge.
macro_rules! leaf_record {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(missing_docs, reason = "fields mirror the WIT record, documented there")]
        pub struct $name {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
        merge_struct!($name { leaf: [$($field),*] });
    };
}

leaf_record!(
    /// A retrieval's source, query and results.
    RetrievalInfo { data_source_id: String, query_text: String, documents: Json }
);
leaf_record!(
    /// How a conversation was started and how it went.
    ConversationInfo {
        recipient: String, method: String, max_turns: i64, turns: i64, summary: String
    }
);
leaf_record!(
    /// Several conversations run as one job.
    MultiConversationInfo { mode: String, recipients: Vec<String> }
);
leaf_record!(
    /// A speaker selection.
    SpeakerSelectionInfo { candidates: Vec<String>, selected: String, method: String }
);
leaf_record!(
    /// A request for human input.
    HumanInputInfo { prompt: String, response: String, input_mode: String }
);
leaf_record!(
    /// A code execution.
    CodeExecutionInfo {
        language: String, executor: String, exit_code: i64, code: String, output: String
    }
);
leaf_record!(
    /// A handoff between agents.
    HandoffInfo { source: String, target: String, reason: String }
);
leaf_record!(
    /// A guardrail's verdict.
    GuardrailInfo { name: String, triggered: bool, action: String }
);

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorInfo {
    /// Low-cardinality class (`error.type`), e.g. an exception class name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
impl Merge for ErrorInfo {
    fn merge(&mut self, later: Self) {
        *self = later;
    }
}

/// A typed attribute value. In JSON: strings, integers, floats, booleans and homogeneous arrays
/// of those map to the matching OpenTelemetry type; objects and mixed arrays become JSON text.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// String.
    Str(String),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// String array.
    StrArray(Vec<String>),
    /// Integer array.
    IntArray(Vec<i64>),
    /// Float array.
    FloatArray(Vec<f64>),
    /// Boolean array.
    BoolArray(Vec<bool>),
    /// Structured value as JSON text.
    Json(String),
}

impl From<Json> for AttrValue {
    fn from(value: Json) -> Self {
        match value {
            Json::String(s) => AttrValue::Str(s),
            Json::Bool(b) => AttrValue::Bool(b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => AttrValue::Int(i),
                None => AttrValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::Array(items) => array_value(items),
            other => AttrValue::Json(other.to_string()),
        }
    }
}

fn array_value(items: Vec<Json>) -> AttrValue {
    if let Some(v) = items
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect()
    {
        return AttrValue::StrArray(v);
    }
    if let Some(v) = items.iter().map(Json::as_bool).collect() {
        return AttrValue::BoolArray(v);
    }
    if let Some(v) = items.iter().map(Json::as_i64).collect() {
        return AttrValue::IntArray(v);
    }
    if let Some(v) = items.iter().map(Json::as_f64).collect() {
        return AttrValue::FloatArray(v);
    }
    AttrValue::Json(Json::Array(items).to_string())
}

impl From<&AttrValue> for Json {
    fn from(value: &AttrValue) -> Self {
        match value {
            AttrValue::Str(s) => Json::from(s.as_str()),
            AttrValue::Int(i) => Json::from(*i),
            AttrValue::Float(f) => Json::from(*f),
            AttrValue::Bool(b) => Json::from(*b),
            AttrValue::StrArray(v) => Json::from(v.clone()),
            AttrValue::IntArray(v) => Json::from(v.clone()),
            AttrValue::FloatArray(v) => Json::from(v.clone()),
            AttrValue::BoolArray(v) => Json::from(v.clone()),
            AttrValue::Json(text) => {
                serde_json::from_str(text).unwrap_or(Json::from(text.as_str()))
            }
        }
    }
}

impl Serialize for AttrValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(AttrValue::from(Json::deserialize(d)?))
    }
}

/// Attributes by key.
pub type Attributes = BTreeMap<String, AttrValue>;

/// A link to another span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInfo {
    /// The linked span's trace, 32 hex digits.
    pub trace_id: String,
    /// The linked span, 16 hex digits.
    pub span_id: String,
    /// Attributes of the link.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// Everything a runtime may report about a span at start, update or end. Every field is
/// optional; see `docs/events.md` for the JSON form and the WIT `agent-span` for meanings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    missing_docs,
    reason = "fields mirror the WIT agent-span record, documented there"
)]
pub struct SpanFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ModelRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ModelResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_instructions: Option<Vec<Part>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_messages: Option<Vec<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_messages: Option<Vec<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_definitions: Option<Vec<ToolDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<RetrievalInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_conversation: Option<MultiConversationInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_selection: Option<SpeakerSelectionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_input: Option<HumanInputInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_execution: Option<CodeExecutionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<HandoffInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrail: Option<GuardrailInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<LinkInfo>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// Replaces each named `Option` field of `$target` by `$later`'s when that one is set.
macro_rules! merge_leaves {
    ($target:ident, $later:ident; $($field:ident),* $(,)?) => {
        $(if $later.$field.is_some() { $target.$field = $later.$field; })*
    };
}

impl Merge for SpanFields {
    fn merge(&mut self, later: Self) {
        merge_leaves!(self, later; conversation_id, provider, system_instructions, input_messages,
            output_messages, tool_definitions, workflow_name, links);
        self.agent.merge(later.agent);
        self.request.merge(later.request);
        self.response.merge(later.response);
        self.usage.merge(later.usage);
        self.server.merge(later.server);
        self.tool.merge(later.tool);
        self.retrieval.merge(later.retrieval);
        self.conversation.merge(later.conversation);
        self.multi_conversation.merge(later.multi_conversation);
        self.speaker_selection.merge(later.speaker_selection);
        self.human_input.merge(later.human_input);
        self.code_execution.merge(later.code_execution);
        self.handoff.merge(later.handoff);
        self.guardrail.merge(later.guardrail);
        self.error.merge(later.error);
        self.attributes.extend(later.attributes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_fields_win_and_nested_records_merge_field_by_field() {
        let mut fields: SpanFields = serde_json::from_value(serde_json::json!({
            "tool": {"name": "get_weather", "arguments": {"city": "Paris"}},
            "request": {"model": "gpt-4o", "temperature": 0.2},
            "attributes": {"a": 1, "b": "x"}
        }))
        .unwrap();
        let end: SpanFields = serde_json::from_value(serde_json::json!({
            "tool": {"result": "sunny"},
            "request": {"temperature": 0.5},
            "attributes": {"b": "y"}
        }))
        .unwrap();
        fields.merge(end);
        let tool = fields.tool.unwrap();
        assert_eq!(tool.name.as_deref(), Some("get_weather"));
        assert_eq!(tool.result, Some(Json::from("sunny")));
        let request = fields.request.unwrap();
        assert_eq!(request.model.as_deref(), Some("gpt-4o"));
        assert_eq!(request.temperature, Some(0.5));
        assert_eq!(fields.attributes["a"], AttrValue::Int(1));
        assert_eq!(fields.attributes["b"], AttrValue::Str("y".into()));
    }

    #[test]
    fn unknown_fields_and_bad_parts_are_errors_that_name_them() {
        let err = serde_json::from_value::<SpanFields>(serde_json::json!({"modle": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("modle"), "{err}");
        let err = serde_json::from_value::<Message>(serde_json::json!({
            "role": "user", "parts": [{"type": "tool_call"}]
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("`tool_call` part needs `name`"), "{err}");
    }

    #[test]
    fn attribute_values_take_the_narrowest_otel_type() {
        let attrs: Attributes = serde_json::from_value(serde_json::json!({
            "s": "x", "i": 3, "f": 1.5, "b": true, "sa": ["a", "b"], "ia": [1, 2],
            "fa": [1.5, 2], "mixed": [1, "a"], "obj": {"k": 1}
        }))
        .unwrap();
        assert_eq!(attrs["i"], AttrValue::Int(3));
        assert_eq!(attrs["f"], AttrValue::Float(1.5));
        assert_eq!(
            attrs["sa"],
            AttrValue::StrArray(vec!["a".into(), "b".into()])
        );
        assert_eq!(attrs["ia"], AttrValue::IntArray(vec![1, 2]));
        assert_eq!(attrs["fa"], AttrValue::FloatArray(vec![1.5, 2.0]));
        assert_eq!(attrs["mixed"], AttrValue::Json(r#"[1,"a"]"#.into()));
        assert_eq!(attrs["obj"], AttrValue::Json(r#"{"k":1}"#.into()));
    }

    #[test]
    fn a_plain_string_content_is_one_text_part() {
        let m: Message =
            serde_json::from_value(serde_json::json!({"role": "user", "parts": "hi"})).unwrap();
        assert_eq!(m.parts, vec![Part::text("hi")]);
    }
}
