//! What a runtime reports about a span, in Rust and in its JSON form.
//!
//! [`SpanFields`] is carried by every lifecycle call (start, update, end). The host merges them
//! field by field, later values winning, so a runtime can report what it knows when it knows it
//! (a tool's arguments at start, its result at end). Message parts use the GenAI parts format
//! itself (`{"type": "text", "content": ...}`), so the JSON form reads like the spec.
//!
//! Each record is declared once (`record!`, `span_fields!`): the Rust struct and its JSON
//! form, the merge, and the conversion to the WIT record the mapper receives come from the same
//! field list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::assembly::FinishedSpan;
use crate::component::bindings::agent::lifecycle;
use crate::component::bindings::types as wit;
use crate::convert::{FromWit, ToWit};
use crate::ids::{SpanId, TraceId};

/// Field-by-field merge: `later` wins wherever it says something.
pub trait Merge {
    /// Merges `later` into `self`.
    fn merge(&mut self, later: Self);
}

impl<T: Merge> Merge for Box<T> {
    fn merge(&mut self, later: Self) {
        (**self).merge(*later);
    }
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

/// Values that merge by replacement: a later value replaces the earlier one whole.
macro_rules! merge_by_replacing {
    ($($ty:ty),*) => {
        $(impl Merge for $ty {
            fn merge(&mut self, later: Self) {
                *self = later;
            }
        })*
    };
}
merge_by_replacing!(String, i64, f64, bool, Json, ServerEndpoint, ErrorInfo);

impl<T> Merge for Vec<T> {
    /// A later list replaces the earlier one (messages, stop sequences...): lists are reported
    /// whole, not in pieces.
    fn merge(&mut self, later: Self) {
        *self = later;
    }
}

impl Merge for Attributes {
    /// Later attributes are added; a key given again takes the later value.
    fn merge(&mut self, later: Self) {
        self.extend(later);
    }
}

/// Declares a record of optional fields once: the struct with its JSON form (every field
/// optional, omitted when unset, unknown fields refused), its field-by-field [`Merge`], and its
/// conversions to and from the WIT record of the same name (`wit::$name`, whose fields have the
/// same names; each field converts by [`ToWit`] and [`FromWit`], chosen by the WIT field's type).
/// Adding a field is one line here and one in `wit/types.wit`.
macro_rules! record {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl Merge for $name {
            fn merge(&mut self, later: Self) {
                $( self.$field.merge(later.$field); )*
            }
        }

        impl ToWit<wit::$name> for $name {
            fn to_wit(&self) -> wit::$name {
                wit::$name { $( $field: self.$field.to_wit(), )* }
            }
        }

        impl FromWit<wit::$name> for $name {
            fn from_wit(value: wit::$name) -> Self {
                // Destructured whole: a field on one side only does not compile.
                let wit::$name { $( $field, )* } = value;
                $name { $( $field: FromWit::from_wit($field), )* }
            }
        }
    };
}

record!(
    /// Who an operation is about.
    AgentInfo {
        /// The agent's human-readable name (`gen_ai.agent.name`).
        name: String,
        /// A unique id of the agent (`gen_ai.agent.id`).
        id: String,
        /// A free-text description (`gen_ai.agent.description`).
        description: String,
        /// The agent's version (`gen_ai.agent.version`).
        version: String,
    }
);
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

record!(
    /// The parameters of a model request, as the runtime sent them.
    ModelRequest {
        /// The model asked for (`gen_ai.request.model`).
        model: String,
        /// Sampling temperature.
        temperature: f64,
        /// Nucleus sampling.
        top_p: f64,
        /// Top-k sampling (a double in the spec).
        top_k: f64,
        /// Maximum number of tokens to generate.
        max_tokens: i64,
        /// Frequency penalty.
        frequency_penalty: f64,
        /// Presence penalty.
        presence_penalty: f64,
        /// Stop sequences.
        stop_sequences: Vec<String>,
        /// Seed, when the request carries one.
        seed: i64,
        /// Number of candidate completions asked for.
        choice_count: i64,
        /// Whether the request streamed its response.
        stream: bool,
        /// Requested output modality (`text`, `json`, `image`, `speech`).
        output_type: String,
        /// Embeddings only: requested dimension count.
        dimension_count: i64,
        /// Embeddings only: requested encoding formats.
        encoding_formats: Vec<String>,
    }
);

record!(
    /// What the model said about its response.
    ModelResponse {
        /// The model that answered (`gen_ai.response.model`).
        model: String,
        /// The provider's id of the completion (`gen_ai.response.id`).
        id: String,
        /// Why generation stopped, one per choice.
        finish_reasons: Vec<String>,
        /// Seconds from the request to the first chunk of a streamed response.
        time_to_first_chunk: f64,
    }
);

record!(
    /// Token usage; `input_tokens` includes cached tokens.
    Usage {
        /// Tokens in the prompt, cached ones included.
        input_tokens: i64,
        /// Tokens generated.
        output_tokens: i64,
        /// Input tokens served from the provider's cache.
        cache_read_input_tokens: i64,
        /// Input tokens written to the provider's cache.
        cache_creation_input_tokens: i64,
        /// Output tokens spent on reasoning.
        reasoning_output_tokens: i64,
        /// The call's cost, in the runtime's currency (AG2 reports it).
        cost: f64,
    }
);

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
impl Merge for ToolCall {
    fn merge(&mut self, later: Self) {
        self.name.merge(later.name);
        self.call_id.merge(later.call_id);
        self.kind.merge(later.kind);
        self.description.merge(later.description);
        self.arguments.merge(later.arguments);
        self.result.merge(later.result);
    }
}

record!(
    /// A retrieval's source, query and results.
    RetrievalInfo {
        /// The data source (`gen_ai.data_source.id`).
        data_source_id: String,
        /// The query text.
        query_text: String,
        /// The documents retrieved, any JSON.
        documents: Json,
    }
);
record!(
    /// How a conversation was started and how it went.
    ConversationInfo {
        /// The agent the conversation was started with.
        recipient: String,
        /// How it was started (`initiate_chat`, `run_chat`, `resume`...).
        method: String,
        /// The turn limit it was started with.
        max_turns: i64,
        /// The turns it took.
        turns: i64,
        /// Its summary (content).
        summary: String,
    }
);
record!(
    /// Several conversations run as one job.
    MultiConversationInfo {
        /// `sequential` or `parallel`.
        mode: String,
        /// The agents the conversations were started with, in order.
        recipients: Vec<String>,
    }
);
record!(
    /// A speaker selection.
    SpeakerSelectionInfo {
        /// The agents that could speak next.
        candidates: Vec<String>,
        /// The one chosen.
        selected: String,
        /// How (`auto`, `round_robin`, `random`, `manual`, a function).
        method: String,
    }
);
record!(
    /// A request for human input.
    HumanInputInfo {
        /// What the human was asked (content).
        prompt: String,
        /// What the human answered (content).
        response: String,
        /// `ALWAYS`, `TERMINATE`, `NEVER`, or the runtime's own mode.
        input_mode: String,
    }
);
record!(
    /// A code execution.
    CodeExecutionInfo {
        /// The code's language.
        language: String,
        /// What ran it (`local`, `docker`, `jupyter`...).
        executor: String,
        /// Its exit code.
        exit_code: i64,
        /// The code (content).
        code: String,
        /// What it printed (content).
        output: String,
    }
);
record!(
    /// A handoff between agents.
    HandoffInfo {
        /// The agent handing off.
        source: String,
        /// The agent taking over.
        target: String,
        /// Why.
        reason: String,
    }
);
record!(
    /// A guardrail's verdict.
    GuardrailInfo {
        /// The guardrail's name.
        name: String,
        /// Whether it fired.
        triggered: bool,
        /// What it did (`block`, `warn`, `rewrite`...).
        action: String,
    }
);

record!(
    /// Provider-specific details of a call, written under the provider's namespace
    /// (`openai.*`, `aws.bedrock.*`) by the shipped mappers. Reaches mappers that export the
    /// WIT's `extended-mapper` (0.2.2) beside the `agent-span` record.
    ProviderDetails {
        /// The service tier the request asked for (OpenAI's `service_tier`).
        request_service_tier: String,
        /// The service tier that served the response.
        response_service_tier: String,
        /// The backend configuration's fingerprint (OpenAI's `system_fingerprint`).
        system_fingerprint: String,
        /// Which of the provider's APIs was called (`chat_completions`, `responses`).
        api_type: String,
        /// The provider's guardrail applied (an AWS Bedrock guardrail id).
        guardrail_id: String,
        /// The provider's knowledge base queried (an AWS Bedrock knowledge base id).
        knowledge_base_id: String,
    }
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
    /// The linked span's trace (32 hex digits in JSON).
    pub trace_id: TraceId,
    /// The linked span (16 hex digits in JSON).
    pub span_id: SpanId,
    /// Attributes of the link.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// Declares `SpanFields` once: the struct with its JSON form, its merge, `to_agent_span`, which
/// makes the WIT `agent-span` of a finished span from its identity and these fields (each
/// converted by [`ToWit`] into the `agent-span` field of the same name), and the conversion from
/// the WIT `lifecycle.span-fields` an agent component reports, destructured whole so that a
/// field on one side only does not compile. Adding a field is one line here, one in
/// `agent-span` and one in `span-fields` (`wit/`).
macro_rules! span_fields {
    ( $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)? ) => {
        /// Everything a runtime may report about a span at start, update or end. Every field is
        /// optional; `docs/events.md` gives the JSON form, the WIT `agent-span` the meanings.
        ///
        /// Records (`agent`, `request`, `tool`...) sit in boxes of their own, so that the
        /// struct stays small (344 bytes instead of 1.7 KB): every event carries one from
        /// the runtime's thread to the worker, and what that costs the runtime grows with its
        /// size (BENCHMARKS.md, "Records boxed").
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct SpanFields {
            $(
                $(#[$field_meta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Provider-specific details of a call: not part of the WIT `agent-span` (which
            /// cannot grow within 0.2), handed to mappers beside it
            /// (the WIT `provider-details`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub provider_details: Option<Box<ProviderDetails>>,
            /// Further attributes, passed through by the default mapper.
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub attributes: Attributes,
        }

        impl Merge for SpanFields {
            fn merge(&mut self, later: Self) {
                $( self.$field.merge(later.$field); )*
                self.provider_details.merge(later.provider_details);
                Merge::merge(&mut self.attributes, later.attributes);
            }
        }

        /// The WIT record handed to the mapper for a finished span.
        pub(crate) fn to_agent_span(span: &FinishedSpan) -> wit::AgentSpan {
            let fields = &span.fields;
            wit::AgentSpan {
                trace_id: span.trace_id.halves(),
                span_id: span.span_id.0,
                parent_span_id: span.parent_span_id.map(|p| p.0),
                parent_is_remote: span.parent_is_remote,
                operation: span.operation.to_wit(),
                start_time: span.start_time,
                end_time: span.end_time,
                incomplete: span.incomplete,
                events: span.events.to_wit(),
                attributes: fields.attributes.to_wit(),
                $( $field: fields.$field.to_wit(), )*
            }
        }

        impl FromWit<lifecycle::SpanFields> for SpanFields {
            fn from_wit(value: lifecycle::SpanFields) -> Self {
                let lifecycle::SpanFields { $( $field, )* provider_details, attributes } = value;
                SpanFields {
                    $( $field: FromWit::from_wit($field), )*
                    provider_details: FromWit::from_wit(provider_details),
                    attributes: FromWit::from_wit(attributes),
                }
            }
        }
    };
}

/// The WIT `provider-details` of a finished span, handed to mappers beside its `agent-span`.
pub(crate) fn provider_details_of(span: &FinishedSpan) -> Option<wit::ProviderDetails> {
    span.fields.provider_details.to_wit()
}

span_fields! {
    /// Who the operation is about.
    agent: Box<AgentInfo>,
    /// The conversation (or session) it belongs to (`gen_ai.conversation.id`).
    conversation_id: String,
    /// The model provider (`openai`, `anthropic`, ...; normalised by the mapper).
    provider: String,
    /// What was asked of the model.
    request: Box<ModelRequest>,
    /// What the model said about its answer.
    response: Box<ModelResponse>,
    /// Tokens used.
    usage: Box<Usage>,
    /// Where a remote call went.
    server: Box<ServerEndpoint>,
    /// System instructions given to the model (content).
    system_instructions: Vec<Part>,
    /// Messages sent to the model or the agent (content).
    input_messages: Vec<Message>,
    /// Messages the model or the agent answered with (content).
    output_messages: Vec<Message>,
    /// Tools offered to the model.
    tool_definitions: Vec<ToolDefinition>,
    /// A tool execution.
    tool: Box<ToolCall>,
    /// The workflow's name (`invoke_workflow`).
    workflow_name: String,
    /// A retrieval.
    retrieval: Box<RetrievalInfo>,
    /// A conversation between agents.
    conversation: Box<ConversationInfo>,
    /// Several conversations as one job.
    multi_conversation: Box<MultiConversationInfo>,
    /// A speaker selection.
    speaker_selection: Box<SpeakerSelectionInfo>,
    /// A request for human input.
    human_input: Box<HumanInputInfo>,
    /// A code execution.
    code_execution: Box<CodeExecutionInfo>,
    /// A handoff between agents.
    handoff: Box<HandoffInfo>,
    /// A guardrail's verdict.
    guardrail: Box<GuardrailInfo>,
    /// Why the operation failed.
    error: Box<ErrorInfo>,
    /// Links to other spans.
    links: Vec<LinkInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_fields_hold_their_records_in_boxes_of_their_own() {
        // Every start, update and end hands a `SpanFields` box from the runtime's thread to the
        // worker's core and back: what an event costs the runtime grows with the box's size
        // (BENCHMARKS.md, "Records boxed"). The smallest record written inline
        // (`ServerEndpoint`, 32 bytes instead of an 8-byte box) takes it over the bound.
        let size = std::mem::size_of::<SpanFields>();
        assert!(
            size < 344 + 24,
            "SpanFields is {size} bytes: is a record written inline instead of boxed? (a new \
             string or list field adds 24 bytes: raise the bound then)"
        );
    }

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
    fn links_carry_typed_ids_and_a_malformed_one_is_refused_not_dropped() {
        let fields: SpanFields = serde_json::from_value(serde_json::json!({
            "links": [{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}]
        }))
        .unwrap();
        let link = &fields.links.as_ref().unwrap()[0];
        assert_eq!(link.span_id, SpanId(0x00f0_67aa_0ba9_02b7));
        assert_eq!(
            serde_json::to_value(&fields).unwrap()["links"][0]["trace_id"],
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let err = serde_json::from_value::<SpanFields>(serde_json::json!({
            "links": [{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "xyz"}]
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("span id"), "{err}");
    }

    #[test]
    fn every_declared_field_reaches_the_wit_record() {
        // One value in each field of a declared record: the generated conversion carries each
        // to the WIT field of the same name.
        let request: ModelRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "temperature": 0.5, "top_p": 0.9, "top_k": 3.0, "max_tokens": 7,
            "frequency_penalty": 0.1, "presence_penalty": 0.2, "stop_sequences": ["x"],
            "seed": 11, "choice_count": 2, "stream": true, "output_type": "json",
            "dimension_count": 64, "encoding_formats": ["float"]
        }))
        .unwrap();
        let wit: wit::ModelRequest = request.to_wit();
        assert_eq!(
            serde_json::to_value(&wit).unwrap(),
            serde_json::to_value(&request).unwrap()
        );
    }

    #[test]
    fn a_plain_string_content_is_one_text_part() {
        let m: Message =
            serde_json::from_value(serde_json::json!({"role": "user", "parts": "hi"})).unwrap();
        assert_eq!(m.parts, vec![Part::text("hi")]);
    }
}
