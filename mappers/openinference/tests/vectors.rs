//! The OpenInference mapper over every conformance vector's records (`tests/conformance/`):
//! the same tree as the GenAI mapper (names, OpenTelemetry kinds, parents, status), the span
//! kind the module table promises for each operation, no content without capture, the
//! `OPENINFERENCE_HIDE_*` settings, and every attribute key and value checked against
//! OpenInference's own constants (`shared/openinference/semconv-constants.json`, when the
//! reference copy is beside the checkout).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use agentrace_mapping::bindings::agentrace::plugin::types::{
    AgentSpan, MappedBatch, OtelSpan, Value,
};
use agentrace_openinference::mapping::{map_batch, openinference_kind};
use agentrace_openinference::settings::Settings;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One conformance vector: its file's name, its config, its records, and the GenAI mapper's
/// batch for them.
type Vector = (
    String,
    BTreeMap<String, String>,
    Vec<AgentSpan>,
    MappedBatch,
);

/// Every vector.
fn vectors() -> Vec<Vector> {
    let dir = workspace().join("tests/conformance/vectors");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let vector: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let config = serde_json::from_value(vector["config"].clone()).unwrap();
        let records = serde_json::from_value(vector["records"].clone()).unwrap();
        let expected = serde_json::from_value(vector["expected"].clone()).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        found.push((name, config, records, expected));
    }
    assert!(found.len() >= 7, "vectors missing in {}", dir.display());
    found
}

fn settings(config: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> Settings {
    Settings::from_lookup(|key| {
        extra
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
            .or_else(|| config.get(key).cloned())
    })
    .unwrap()
}

fn get<'a>(span: &'a OtelSpan, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| &a.value)
}

fn text(span: &OtelSpan, key: &str) -> Option<String> {
    match get(span, key)? {
        Value::Str(s) => Some(s.clone()),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

/// Keys that carry content: present only with capture on.
fn is_content(key: &str) -> bool {
    key.starts_with("input.")
        || key.starts_with("output.value")
        || key.starts_with("llm.input_messages.")
        || key.starts_with("llm.output_messages.")
        || key.starts_with("llm.prompts.")
        || key.starts_with("llm.choices.")
        || key.starts_with("retrieval.documents.")
}

#[test]
fn every_vector_keeps_the_genai_tree_and_gets_its_span_kinds() {
    for (name, config, records, genai) in vectors() {
        let batch = map_batch(&records, &settings(&config, &[]));
        assert_eq!(batch.rejected, genai.rejected, "{name}");
        assert_eq!(batch.spans.len(), genai.spans.len(), "{name}");
        assert_eq!(
            batch.metrics, genai.metrics,
            "{name}: the same GenAI metrics"
        );
        let records: BTreeMap<u64, &AgentSpan> = records.iter().map(|r| (r.span_id, r)).collect();
        for (span, theirs) in batch.spans.iter().zip(&genai.spans) {
            let what = format!("{name}: {}", span.name);
            assert_eq!(
                (span.span_id, span.parent_span_id, &span.name, span.kind),
                (
                    theirs.span_id,
                    theirs.parent_span_id,
                    &theirs.name,
                    theirs.kind
                ),
                "{what}"
            );
            assert_eq!(span.status, theirs.status, "{what}");
            assert_eq!(span.events, theirs.events, "{what}");
            let record = records[&span.span_id];
            assert_eq!(
                text(span, "openinference.span.kind").as_deref(),
                Some(openinference_kind(record.operation)),
                "{what}"
            );
        }
    }
}

#[test]
fn content_appears_only_with_capture_and_obeys_the_hide_settings() {
    let mut captured_somewhere = BTreeSet::new();
    for (name, config, records, _) in vectors() {
        let capture = config.get("capture-content").is_some_and(|v| v == "true");
        let batch = map_batch(&records, &settings(&config, &[]));
        for span in &batch.spans {
            for attribute in &span.attributes {
                if is_content(&attribute.key) {
                    // The chosen speaker's name is an agent name, not content.
                    let speaker = attribute.key.starts_with("output.")
                        && get(span, "agentrace.speaker_selection.selected").is_some();
                    assert!(
                        capture || speaker,
                        "{name}: {} has {} without capture",
                        span.name,
                        attribute.key
                    );
                    captured_somewhere.insert(attribute.key.split('.').next().unwrap().to_string());
                }
                if let Some(rest) = attribute.key.strip_prefix("llm.tools.") {
                    let Value::Str(schema) = &attribute.value else {
                        panic!("{rest}")
                    };
                    let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
                    assert_eq!(
                        schema["function"].get("parameters").is_some(),
                        capture && schema["function"].get("parameters").is_some(),
                        "{name}: a tool schema without capture"
                    );
                }
            }
        }
        if !capture {
            continue;
        }
        // Everything hidden that OpenInference lets an operator hide.
        let hidden = map_batch(
            &records,
            &settings(
                &config,
                &[
                    ("hide-inputs", "true"),
                    ("hide-outputs", "true"),
                    ("hide-llm-invocation-parameters", "true"),
                ],
            ),
        );
        for span in &hidden.spans {
            for attribute in &span.attributes {
                let key = attribute.key.as_str();
                assert!(
                    !key.starts_with("llm.input_messages.")
                        && !key.starts_with("llm.output_messages.")
                        && !key.starts_with("llm.tools.")
                        && !key.starts_with("llm.prompts.")
                        && !key.starts_with("llm.choices.")
                        && !key.starts_with("retrieval.documents.")
                        && key != "llm.invocation_parameters",
                    "{name}: {key} under hide-inputs/outputs"
                );
                if key == "input.value" || key == "output.value" {
                    let speaker = get(span, "agentrace.speaker_selection.selected").is_some();
                    assert!(
                        attribute.value == Value::Str("__REDACTED__".into())
                            || speaker && key == "output.value",
                        "{name}: {key} = {:?}",
                        attribute.value
                    );
                }
            }
        }
        // Text hidden, structure kept.
        let texts_hidden = map_batch(
            &records,
            &settings(
                &config,
                &[("hide-input-text", "true"), ("hide-output-text", "true")],
            ),
        );
        let message_texts = texts_hidden
            .spans
            .iter()
            .flat_map(|s| &s.attributes)
            .filter(|a| {
                (a.key.starts_with("llm.input_messages.")
                    || a.key.starts_with("llm.output_messages."))
                    && (a.key.ends_with(".message.content")
                        || a.key.ends_with(".message_content.text"))
            });
        let mut count = 0;
        for attribute in message_texts {
            assert_eq!(attribute.value, Value::Str("__REDACTED__".into()), "{name}");
            count += 1;
        }
        assert!(count > 0, "{name}: no message text to hide");
    }
    assert!(
        ["input", "output", "llm", "retrieval"]
            .iter()
            .all(|k| captured_somewhere.contains(*k)),
        "the vectors exercise every content key: {captured_somewhere:?}"
    );
}

#[test]
fn model_calls_carry_model_tokens_and_flattened_messages() {
    let (_, config, records, _) = vectors()
        .into_iter()
        .find(|(name, ..)| name == "ag2-group-chat-content-on")
        .unwrap();
    let batch = map_batch(&records, &settings(&config, &[]));
    let chats: Vec<&OtelSpan> = batch
        .spans
        .iter()
        .filter(|s| text(s, "openinference.span.kind").as_deref() == Some("LLM"))
        .collect();
    assert!(chats.len() >= 5);
    let mut tool_calls = 0;
    for chat in &chats {
        let record = records.iter().find(|r| r.span_id == chat.span_id).unwrap();
        let answered = record.response.as_ref().and_then(|r| r.model.clone());
        let requested = record.request.as_ref().and_then(|r| r.model.clone());
        assert_eq!(text(chat, "llm.model_name"), answered.or(requested));
        let provider = text(chat, "llm.provider").unwrap();
        assert_eq!(Some(&provider), record.provider.as_ref());
        assert_eq!(text(chat, "llm.system"), Some(provider));
        assert!(text(chat, "llm.input_messages.0.message.role").is_some());
        if chat.status == agentrace_mapping::bindings::agentrace::plugin::types::SpanStatus::Unset {
            let (Some(Value::Int(prompt)), Some(Value::Int(completion)), Some(Value::Int(total))) = (
                get(chat, "llm.token_count.prompt"),
                get(chat, "llm.token_count.completion"),
                get(chat, "llm.token_count.total"),
            ) else {
                panic!("{}: token counts", chat.name)
            };
            assert_eq!(prompt + completion, *total);
            assert!(text(chat, "llm.output_messages.0.message.role").is_some());
        }
        tool_calls += chat
            .attributes
            .iter()
            .filter(|a| a.key.ends_with(".tool_call.function.name"))
            .count();
    }
    assert!(tool_calls > 0, "the AG2 example's tool call is flattened");
    // Only model calls count tokens, so Phoenix's sums are not doubled.
    for span in &batch.spans {
        let kind = text(span, "openinference.span.kind").unwrap();
        if !["LLM", "EMBEDDING"].contains(&kind.as_str()) {
            assert!(
                get(span, "llm.token_count.prompt").is_none(),
                "{}",
                span.name
            );
        }
    }
    let tools: Vec<&OtelSpan> = batch
        .spans
        .iter()
        .filter(|s| text(s, "openinference.span.kind").as_deref() == Some("TOOL"))
        .collect();
    assert!(
        tools
            .iter()
            .any(|t| text(t, "tool.name").as_deref() == Some("get_weather")
                && text(t, "input.mime_type").as_deref() == Some("application/json"))
    );
}

/// OpenInference's constants, when the reference copy is beside the checkout.
fn constants() -> Option<serde_json::Value> {
    let path = std::env::var_os("AGENTRACE_OPENINFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/openinference"))
        .join("semconv-constants.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).unwrap()),
        Err(_) if std::env::var_os("AGENTRACE_REQUIRE_SEMCONV").is_some() => {
            panic!(
                "{} is missing (AGENTRACE_REQUIRE_SEMCONV is set)",
                path.display()
            )
        }
        Err(_) => {
            eprintln!(
                "SKIPPED vectors::every_key_and_value_is_openinference: {} not found; set \
                 AGENTRACE_OPENINFERENCE_DIR to the reference copy's folder",
                path.display()
            );
            None
        }
    }
}

fn members(constants: &serde_json::Value, class: &str) -> BTreeSet<String> {
    constants[class]["members"]
        .as_object()
        .unwrap_or_else(|| panic!("{class} missing"))
        .values()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Whether `rest` (what follows `prefix.N.` in a flattened key) is made of OpenInference's
/// object attributes: `message.role`, `message.contents.0.message_content.text`,
/// `message_content.image.image.url`...
fn valid_suffix(rest: &str, leaves: &BTreeSet<String>) -> bool {
    if leaves.contains(rest) {
        return true;
    }
    leaves.iter().any(|leaf| {
        let Some(tail) = rest
            .strip_prefix(leaf.as_str())
            .and_then(|t| t.strip_prefix('.'))
        else {
            return false;
        };
        if let Some((index, after)) = tail.split_once('.')
            && index.parse::<usize>().is_ok()
        {
            return valid_suffix(after, leaves);
        }
        valid_suffix(tail, leaves)
    })
}

#[test]
fn every_key_and_value_is_openinference() {
    let Some(constants) = constants() else { return };
    let span_keys = members(&constants, "SpanAttributes");
    let mut leaves = BTreeSet::new();
    for class in [
        "MessageAttributes",
        "MessageContentAttributes",
        "ImageAttributes",
        "DocumentAttributes",
        "ToolCallAttributes",
        "ToolAttributes",
        "PromptAttributes",
        "ChoiceAttributes",
    ] {
        leaves.extend(members(&constants, class));
    }
    let kinds = members(&constants, "OpenInferenceSpanKindValues");
    let mimes = members(&constants, "OpenInferenceMimeTypeValues");
    let providers = members(&constants, "OpenInferenceLLMProviderValues");
    let systems = members(&constants, "OpenInferenceLLMSystemValues");
    let mut checked = 0;
    for (name, config, records, _) in vectors() {
        for span in map_batch(&records, &settings(&config, &[])).spans {
            for attribute in &span.attributes {
                let key = attribute.key.as_str();
                // The agentrace detail and the GenAI attributes OpenInference has no name for.
                if [
                    "agentrace.",
                    "gen_ai.",
                    "ag2.",
                    "server.",
                    "error.",
                    "test.",
                ]
                .iter()
                .any(|ns| key.starts_with(ns))
                    || records
                        .iter()
                        .any(|r| r.attributes.iter().any(|a| a.key == key))
                {
                    continue;
                }
                let known = span_keys.contains(key)
                    || span_keys.iter().any(|prefix| {
                        key.strip_prefix(prefix.as_str())
                            .and_then(|t| t.strip_prefix('.'))
                            .and_then(|t| t.split_once('.'))
                            .is_some_and(|(index, rest)| {
                                index.parse::<usize>().is_ok() && valid_suffix(rest, &leaves)
                            })
                    });
                assert!(
                    known,
                    "{name}: {} writes {key}, not an OpenInference key",
                    span.name
                );
                let value = match &attribute.value {
                    Value::Str(s) => s.as_str(),
                    _ => "",
                };
                match key {
                    "openinference.span.kind" => assert!(kinds.contains(value), "{value}"),
                    "input.mime_type" | "output.mime_type" => {
                        assert!(mimes.contains(value), "{value}")
                    }
                    "llm.provider" => assert!(providers.contains(value), "{name}: {value}"),
                    "llm.system" => assert!(systems.contains(value), "{name}: {value}"),
                    _ => {}
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} attributes checked");
}
