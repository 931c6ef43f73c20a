//! `agentrace replay --mapper openinference` into a real Arize Phoenix: the AG2 example and the
//! every-operation source (`tests/conformance/sources/operations.jsonl`) exported over
//! OTLP/HTTP protobuf, read back through Phoenix's REST API. Phoenix must see the span kinds
//! the mapper promises, the models, token counts, messages and tool calls, and exactly the
//! tree the same replay writes to a file.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value as Json;

use crate::common::repo;
use crate::phoenix::Phoenix;

/// Replays `file` with the OpenInference mapper and content on, with `export` set up.
fn replay(file: &str, export: &[(&str, &str)], output: Option<&std::path::Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentrace"));
    command
        .current_dir(repo())
        .args([
            "replay",
            file,
            "--mapper",
            "openinference",
            "--capture-content",
        ])
        .args(["--no-tree"])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .envs(export.iter().copied());
    if let Some(path) = output {
        command.arg("--output").arg(path);
    }
    let result = command.output().expect("the binary runs");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    result
}

/// (span id, parent id, name) of every span the same replay writes as OTLP/JSON, by span id.
fn tree_from_file(file: &str) -> BTreeMap<String, (Option<String>, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spans.jsonl");
    replay(file, &[], Some(&path));
    let mut tree = BTreeMap::new();
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        let Ok(line) = serde_json::from_str::<Json>(line) else {
            continue;
        };
        let Some(resources) = line.get("resourceSpans").and_then(Json::as_array) else {
            continue;
        };
        for scope in resources
            .iter()
            .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        {
            for span in scope["spans"].as_array().unwrap() {
                let parent = span["parentSpanId"]
                    .as_str()
                    .filter(|p| !p.is_empty())
                    .map(str::to_string);
                tree.insert(
                    span["spanId"].as_str().unwrap().to_string(),
                    (parent, span["name"].as_str().unwrap().to_string()),
                );
            }
        }
    }
    tree
}

/// The OpenInference kind a span of this name must have (span names are the GenAI mapper's).
fn expected_kind(name: &str) -> &'static str {
    let operation = name.split(' ').next().unwrap();
    match operation {
        "chat" | "text_completion" | "generate_content" => "LLM",
        "embeddings" => "EMBEDDING",
        "retrieval" => "RETRIEVER",
        "execute_tool" | "code_execution" => "TOOL",
        "invoke_agent" | "create_agent" => "AGENT",
        "guardrail" => "GUARDRAIL",
        _ => "CHAIN",
    }
}

fn int(span: &Json, key: &str) -> Option<i64> {
    span["attributes"][key].as_i64()
}

fn string<'a>(span: &'a Json, key: &str) -> Option<&'a str> {
    span["attributes"][key].as_str()
}

/// Checks what Phoenix made of one replayed file, in its own project.
fn check_in_phoenix(
    phoenix: &Phoenix,
    reader: &ureq::Agent,
    file: &str,
    project: &str,
) -> Vec<Json> {
    let expected = tree_from_file(file);
    let resource = format!("openinference.project.name={project}");
    let endpoint = phoenix.http_endpoint();
    replay(
        file,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_RESOURCE_ATTRIBUTES", resource.as_str()),
        ],
        None,
    );
    let spans = phoenix.spans(reader, project, expected.len());
    assert_eq!(
        spans.len(),
        expected.len(),
        "{file}: Phoenix holds {} of {} spans\n{}",
        spans.len(),
        expected.len(),
        phoenix.log()
    );
    let mut seen = BTreeMap::new();
    for span in &spans {
        let id = span["context"]["span_id"].as_str().unwrap().to_string();
        let parent = span["parent_id"].as_str().map(str::to_string);
        let name = span["name"].as_str().unwrap().to_string();
        assert_eq!(
            span["span_kind"].as_str(),
            Some(expected_kind(&name)),
            "{file}: {name}"
        );
        seen.insert(id, (parent, name));
    }
    assert_eq!(seen, expected, "{file}: Phoenix's tree is the replay's");
    spans
}

#[test]
fn replayed_traces_appear_in_phoenix_with_kinds_models_tokens_messages_and_tools() {
    let phoenix = Phoenix::start(None);
    let reader = ureq::Agent::new_with_defaults();

    let ag2 = check_in_phoenix(
        &phoenix,
        &reader,
        "examples/ag2-group-chat.jsonl",
        "ag2-example",
    );
    let kind_count = |spans: &[Json], kind: &str| {
        spans
            .iter()
            .filter(|s| s["span_kind"].as_str() == Some(kind))
            .count()
    };
    for kind in ["LLM", "TOOL", "AGENT", "CHAIN"] {
        assert!(
            kind_count(&ag2, kind) > 0,
            "no {kind} span from the AG2 example"
        );
    }
    let mut tool_calls = 0;
    for llm in ag2.iter().filter(|s| s["span_kind"] == "LLM") {
        let name = llm["name"].as_str().unwrap();
        assert!(string(llm, "llm.model_name").is_some(), "{name}");
        assert!(string(llm, "llm.provider").is_some(), "{name}");
        assert!(
            string(llm, "llm.input_messages.0.message.role").is_some(),
            "{name}: input messages"
        );
        if llm["status_code"] != "ERROR" {
            let (prompt, completion) = (
                int(llm, "llm.token_count.prompt").expect("prompt tokens"),
                int(llm, "llm.token_count.completion").expect("completion tokens"),
            );
            assert_eq!(int(llm, "llm.token_count.total"), Some(prompt + completion));
            assert!(
                string(llm, "llm.output_messages.0.message.role").is_some(),
                "{name}: output messages"
            );
        }
        let attributes = llm["attributes"].as_object().unwrap();
        tool_calls += attributes
            .keys()
            .filter(|k| k.ends_with(".tool_call.function.name"))
            .count();
    }
    assert!(tool_calls > 0, "the model's tool call reached Phoenix");
    let weather = ag2
        .iter()
        .find(|s| string(s, "tool.name") == Some("get_weather"))
        .expect("the tool span");
    assert_eq!(string(weather, "input.value"), Some(r#"{"city":"Paris"}"#));
    assert!(string(weather, "output.value").unwrap().contains("sunny"));
    // Phoenix reads token counts from `llm.token_count.*` and from `gen_ai.usage.*` on any
    // span, and sums them over the trace; the example's model calls used 1 049 + 79 tokens
    // (the totals `replay` prints), and no other span may add to them.
    let prompt: i64 = ag2
        .iter()
        .filter_map(|s| int(s, "llm.token_count.prompt"))
        .sum();
    let completion: i64 = ag2
        .iter()
        .filter_map(|s| int(s, "llm.token_count.completion"))
        .sum();
    assert_eq!((prompt, completion), (1049, 79));

    let operations = check_in_phoenix(
        &phoenix,
        &reader,
        "tests/conformance/sources/operations.jsonl",
        "operations",
    );
    // With the AG2 example's TOOL spans, every kind the mapper writes.
    for kind in [
        "LLM",
        "EMBEDDING",
        "RETRIEVER",
        "AGENT",
        "CHAIN",
        "GUARDRAIL",
    ] {
        assert!(
            kind_count(&operations, kind) > 0,
            "no {kind} span from the operations"
        );
    }
}
