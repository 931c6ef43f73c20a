//! The worked examples of `examples-llm-calls.md` as data vectors (`tests/vectors/llm-calls/`):
//! each gives lifecycle events and the exact spans expected. Every attribute must match and no
//! other attribute may appear.

use std::collections::BTreeMap;

use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, Value};
use serde_json::Value as Json;

use crate::common::{repo, run_lines};

/// Content attributes hold JSON text; compare them as JSON.
const JSON_KEYS: [&str; 6] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
];

fn as_json(key: &str, value: &Value) -> Json {
    match value {
        Value::String(s) if JSON_KEYS.contains(&key) => {
            serde_json::from_str(s.as_str()).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
        }
        Value::String(s) => Json::from(s.as_str()),
        Value::I64(i) => Json::from(*i),
        Value::F64(f) => Json::from(*f),
        Value::Bool(b) => Json::from(*b),
        Value::Array(Array::String(v)) => v.iter().map(|s| Json::from(s.as_str())).collect(),
        Value::Array(Array::I64(v)) => v.iter().map(|i| Json::from(*i)).collect(),
        other => panic!("{key}: unexpected value {other:?}"),
    }
}

#[test]
fn every_llm_call_vector_maps_exactly() {
    let dir = repo().join("tests/vectors/llm-calls");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 8, "vectors in {}", dir.display());
    for file in files {
        let vector: Json = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let lines: String = vector["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.to_string() + "\n")
            .collect();
        let config: BTreeMap<String, String> =
            serde_json::from_value(vector["config"].clone()).unwrap();
        let run = run_lines(&lines, |mut b| {
            for (k, v) in &config {
                b = b.with_config(k, v);
            }
            b
        });
        let name = file.file_name().unwrap().to_string_lossy();
        let expected = vector["expected_spans"].as_array().unwrap();
        assert_eq!(run.spans.len(), expected.len(), "{name}");
        for want in expected {
            let id = want["span_id"].as_str().unwrap();
            let span = run
                .spans
                .iter()
                .find(|s| s.span_context.span_id().to_string() == id)
                .unwrap_or_else(|| panic!("{name}: span {id} missing"));
            assert_eq!(span.name, want["name"].as_str().unwrap(), "{name}");
            let kind = match want["kind"].as_str().unwrap() {
                "client" => SpanKind::Client,
                _ => SpanKind::Internal,
            };
            assert_eq!(span.span_kind, kind, "{name}");
            let got: BTreeMap<String, Json> = span
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), as_json(kv.key.as_str(), &kv.value)))
                .collect();
            let want: BTreeMap<String, Json> =
                serde_json::from_value(want["attributes"].clone()).unwrap();
            assert_eq!(got, want, "{name}: span {id}");
        }
    }
}
