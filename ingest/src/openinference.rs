//! OpenInference (Arize's convention, `openinference-instrumentation-*`): recognised by
//! `openinference.span.kind`. Nothing of it is on the GenAI conventions
//! (tests/fixtures/otlp-in/README.md): span kinds instead of operations, `llm.*` attributes,
//! messages flattened into indexed keys (`llm.input_messages.0.message.role`), tools as
//! OpenAI JSON (`llm.tools.0.tool.json_schema`), request parameters as one JSON object
//! (`llm.invocation_parameters`), and the raw request and response in `input.value` and
//! `output.value`. Keys from the copy of the convention in `../shared/openinference/`.
//!
//! Kinds read: `LLM` (a chat), `TOOL`, `AGENT`, `EMBEDDING`, `RETRIEVER`, `GUARDRAIL`. Others
//! (`CHAIN`, `RERANKER`, `EVALUATOR`, `PROMPT`, `UNKNOWN`) pass on as they came.

use serde_json::{Map, Value as Json};

use crate::attrs::Attrs;
use crate::bindings::agentrace::plugin::types::{
    AgentInfo, AgentSpan, Attribute, GuardrailInfo, Message, ModelRequest, ModelResponse,
    Operation, OtelSpan, ProviderDetails, RetrievalInfo, ToolCall, Usage, Value,
};
use crate::messages;
use crate::record::{blank, finish, no_details, read_error, some_details};

/// The attribute that marks an OpenInference span.
const KIND: &str = "openinference.span.kind";

/// Whether `span` is OpenInference's.
pub fn recognises(span: &OtelSpan) -> bool {
    span.attributes.iter().any(|a| a.key == KIND)
}

/// Builds a JSON tree from flattened keys (`0.message.role` → `[{"message": {"role": ...}}]`):
/// a level whose keys are all numbers becomes an array in their order.
fn unflatten(entries: Vec<(String, Json)>) -> Json {
    let mut root = Json::Object(Map::new());
    for (path, value) in entries {
        let mut node = &mut root;
        let segments: Vec<&str> = path.split('.').collect();
        for (i, segment) in segments.iter().enumerate() {
            let Json::Object(map) = node else { break };
            if i + 1 == segments.len() {
                map.insert((*segment).to_string(), value);
                break;
            }
            node = map
                .entry((*segment).to_string())
                .or_insert_with(|| Json::Object(Map::new()));
        }
    }
    arrays(root)
}

/// Objects keyed only by numbers, as arrays in index order.
fn arrays(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let numbered: Option<Vec<(usize, Json)>> = map
                .iter()
                .map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v.clone())))
                .collect();
            match numbered {
                Some(mut items) if !items.is_empty() => {
                    items.sort_by_key(|(i, _)| *i);
                    Json::Array(items.into_iter().map(|(_, v)| arrays(v)).collect())
                }
                _ => Json::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect()),
            }
        }
        other => other,
    }
}

/// An attribute value as JSON.
fn json_of(value: Value) -> Json {
    match value {
        Value::Str(s) => Json::String(s),
        Value::Json(s) => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        Value::Int(i) => Json::from(i),
        Value::Float(f) => Json::from(f),
        Value::Boolean(b) => Json::Bool(b),
        Value::StrArray(v) => Json::from(v),
        Value::IntArray(v) => Json::from(v),
        Value::FloatArray(v) => Json::from(v),
        Value::BoolArray(v) => Json::from(v),
    }
}

/// The flattened attributes under `prefix`, as a tree.
fn flattened(attrs: &mut Attrs, prefix: &str) -> Json {
    let entries = attrs
        .take_prefixed(prefix)
        .into_iter()
        .map(|Attribute { key, value }| (key[prefix.len()..].to_string(), json_of(value)))
        .collect();
    unflatten(entries)
}

/// OpenInference's messages (`[{"message": {...}}]`) in OpenAI's chat format, then read.
fn messages_of(tree: &Json) -> Vec<Message> {
    tree.as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("message"))
        .map(|message| {
            let mut openai = Map::new();
            for key in ["role", "name", "tool_call_id", "content"] {
                if let Some(value) = message.get(key) {
                    openai.insert(key.to_string(), value.clone());
                }
            }
            if let Some(contents) = message.get("contents").and_then(Json::as_array) {
                let parts: Vec<Json> = contents
                    .iter()
                    .filter_map(|c| c.get("message_content"))
                    .map(|c| match c.get("type").and_then(Json::as_str) {
                        Some("image") => serde_json::json!({"type": "image_url",
                            "image_url": {"url": c.pointer("/image/image/url")}}),
                        _ => serde_json::json!({"type": "text",
                            "text": c.get("text").cloned().unwrap_or_default()}),
                    })
                    .collect();
                openai.insert("content".to_string(), Json::Array(parts));
            }
            if let Some(calls) = message.get("tool_calls").and_then(Json::as_array) {
                let calls: Vec<Json> = calls
                    .iter()
                    .filter_map(|c| c.get("tool_call"))
                    .map(|c| {
                        serde_json::json!({"id": c.get("id"), "type": "function",
                            "function": c.get("function").cloned().unwrap_or_default()})
                    })
                    .collect();
                openai.insert("tool_calls".to_string(), Json::Array(calls));
            }
            messages::message(&Json::Object(openai))
        })
        .collect()
}

/// A number from the invocation parameters.
fn number(parameters: &Json, keys: &[&str]) -> Option<f64> {
    keys.iter()
        .find_map(|k| parameters.get(*k).and_then(Json::as_f64))
}

/// The record for an LLM span.
fn llm(span: &OtelSpan, attrs: &mut Attrs, record: &mut AgentSpan) {
    let parameters = attrs
        .json("llm.invocation_parameters")
        .unwrap_or(Json::Null);
    let output = attrs.json("output.value").unwrap_or(Json::Null);
    attrs.take("input.value");
    attrs.take("input.mime_type");
    attrs.take("output.mime_type");
    let stop = match parameters.get("stop") {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(list)) => list
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    record.request = Some(ModelRequest {
        model: attrs.str("llm.model_name").or_else(|| {
            parameters
                .get("model")
                .and_then(Json::as_str)
                .map(str::to_string)
        }),
        temperature: number(&parameters, &["temperature"]),
        top_p: number(&parameters, &["top_p"]),
        top_k: number(&parameters, &["top_k"]),
        max_tokens: number(&parameters, &["max_tokens", "max_completion_tokens"]).map(|n| n as i64),
        frequency_penalty: number(&parameters, &["frequency_penalty"]),
        presence_penalty: number(&parameters, &["presence_penalty"]),
        stop_sequences: stop,
        seed: number(&parameters, &["seed"]).map(|n| n as i64),
        choice_count: number(&parameters, &["n"]).map(|n| n as i64),
        stream: parameters.get("stream").and_then(Json::as_bool),
        output_type: None,
        dimension_count: None,
        encoding_formats: Vec::new(),
    });
    let provider = attrs.str("llm.provider");
    let system = attrs.str("llm.system");
    record.provider = system.or(provider);
    let mut finish_reasons: Vec<String> = attrs.strings("llm.finish_reason");
    if finish_reasons.is_empty() {
        finish_reasons = output
            .get("choices")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("finish_reason").and_then(Json::as_str))
            .map(str::to_string)
            .collect();
    }
    record.response = Some(ModelResponse {
        model: output
            .get("model")
            .and_then(Json::as_str)
            .map(str::to_string),
        id: output.get("id").and_then(Json::as_str).map(str::to_string),
        finish_reasons,
        time_to_first_chunk: None,
    });
    let total = attrs.int("llm.token_count.total");
    let usage = Usage {
        input_tokens: attrs.int("llm.token_count.prompt"),
        output_tokens: attrs.int("llm.token_count.completion"),
        cache_read_input_tokens: attrs.int("llm.token_count.prompt_details.cache_read"),
        cache_creation_input_tokens: attrs.int("llm.token_count.prompt_details.cache_write"),
        reasoning_output_tokens: attrs.int("llm.token_count.completion_details.reasoning"),
        cost: attrs.float("llm.cost.total"),
    };
    if usage.input_tokens.is_some() || usage.output_tokens.is_some() || total.is_some() {
        record.usage = Some(usage);
    }
    record.input_messages = messages_of(&flattened(attrs, "llm.input_messages."));
    record.output_messages = messages_of(&flattened(attrs, "llm.output_messages."));
    // Instructions travel as the first system message, as in OpenAI's request.
    let tools = flattened(attrs, "llm.tools.");
    let schemas: Vec<Json> = tools
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/tool/json_schema").cloned())
        .collect();
    record.tool_definitions = messages::tool_definitions(&Json::Array(schemas));
    let _ = span;
}

/// The record for an OpenInference span, or `None` for a kind it does not read.
pub fn record(span: &mut OtelSpan) -> Option<(AgentSpan, Option<ProviderDetails>)> {
    let mut attrs = Attrs::new(std::mem::take(&mut span.attributes));
    let operation = match attrs.peek_str(KIND)?.to_ascii_uppercase().as_str() {
        "LLM" => Operation::Chat,
        "TOOL" => Operation::ExecuteTool,
        "AGENT" => Operation::InvokeAgent,
        "EMBEDDING" => Operation::Embeddings,
        "RETRIEVER" => Operation::Retrieval,
        "GUARDRAIL" => Operation::Guardrail,
        _ => return None,
    };
    attrs.take(KIND);
    let mut record = blank(span, operation);
    record.conversation_id = attrs.str("session.id");
    if let Some(name) = attrs.str("agent.name") {
        record.agent = Some(AgentInfo {
            name: Some(name),
            id: None,
            description: None,
            version: None,
        });
    }
    match operation {
        Operation::Chat => llm(span, &mut attrs, &mut record),
        Operation::ExecuteTool => {
            let parameters = attrs.json("tool.parameters");
            let input = attrs.json("input.value");
            let output = attrs.json("output.value");
            attrs.take("input.mime_type");
            attrs.take("output.mime_type");
            record.tool = Some(ToolCall {
                name: attrs.str("tool.name").unwrap_or_else(|| span.name.clone()),
                call_id: attrs.str("tool_call.id").or_else(|| attrs.str("tool.id")),
                type_: Some("function".to_string()),
                description: attrs.str("tool.description"),
                arguments: input.or(parameters).map(|a| a.to_string()),
                result: output.map(|r| r.to_string()),
            });
        }
        Operation::InvokeAgent => {
            if let Some(input) = attrs.json("input.value") {
                record.input_messages = messages::messages(&input);
            }
            if let Some(output) = attrs.json("output.value") {
                record.output_messages = messages::messages(&output)
                    .into_iter()
                    .map(|mut m| {
                        m.role = "assistant".to_string();
                        m
                    })
                    .collect();
            }
            attrs.take("input.mime_type");
            attrs.take("output.mime_type");
            if record.agent.is_none() {
                record.agent = Some(AgentInfo {
                    name: Some(span.name.clone()),
                    id: None,
                    description: None,
                    version: None,
                });
            }
        }
        Operation::Embeddings => {
            record.request = Some(ModelRequest {
                model: attrs.str("embedding.model_name"),
                temperature: None,
                top_p: None,
                top_k: None,
                max_tokens: None,
                frequency_penalty: None,
                presence_penalty: None,
                stop_sequences: Vec::new(),
                seed: None,
                choice_count: None,
                stream: None,
                output_type: None,
                dimension_count: None,
                encoding_formats: Vec::new(),
            });
        }
        Operation::Retrieval => {
            let documents = flattened(&mut attrs, "retrieval.documents.");
            record.retrieval = Some(RetrievalInfo {
                data_source_id: None,
                query_text: attrs.str("input.value"),
                documents: (!documents.as_object().is_some_and(Map::is_empty))
                    .then(|| documents.to_string()),
            });
        }
        Operation::Guardrail => {
            record.guardrail = Some(GuardrailInfo {
                name: Some(span.name.clone()),
                triggered: None,
                action: None,
            });
        }
        _ => {}
    }
    record.error = read_error(span, &mut attrs);
    finish(&mut record, attrs, "openinference");
    Some((record, some_details(no_details())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattened_keys_become_a_tree_with_arrays() {
        let tree = unflatten(vec![
            ("1.message.role".into(), json!("user")),
            ("0.message.role".into(), json!("system")),
            (
                "0.message.tool_calls.0.tool_call.function.name".into(),
                json!("f"),
            ),
        ]);
        assert_eq!(
            tree,
            json!([
                {"message": {"role": "system", "tool_calls": [{"tool_call": {"function": {"name": "f"}}}]}},
                {"message": {"role": "user"}}
            ])
        );
    }
}
