//! Provider-specific details a runtime reports (`provider_details` in the event form) become the
//! spec's `openai.*` and `aws.bedrock.*` attributes through both shipped mappers, and a mapper
//! built before 0.2.2 (the template exports only `mapper`) maps the same records unharmed.

use std::collections::BTreeMap;

use agentrace::{BuiltinMapper, DryRunMapper, Grants, Limits};
use opentelemetry::Value;

use crate::common::{attr, repo, run_lines};

/// An OpenAI chat on Azure with every OpenAI detail, and a Bedrock retrieval with its
/// knowledge base, reported across start and end as a runtime would.
const LINES: &str = r#"{"type": "start", "span_id": "00000000000000c1", "operation": "chat", "time": 1764000000000000000, "trace_id": "0af7651916cd43dd8448eb211c80319c", "fields": {"provider": "azure", "request": {"model": "gpt-4o"}, "provider_details": {"request_service_tier": "flex", "api_type": "chat_completions"}}}
{"type": "end", "span_id": "00000000000000c1", "time": 1764000001000000000, "fields": {"provider_details": {"response_service_tier": "default", "system_fingerprint": "fp_44709d6fcb"}}}
{"type": "start", "span_id": "00000000000000c2", "operation": "retrieval", "time": 1764000002000000000, "trace_id": "0af7651916cd43dd8448eb211c80319c", "fields": {"provider": "bedrock", "retrieval": {"data_source_id": "kb-7"}, "provider_details": {"knowledge_base_id": "kb-7", "guardrail_id": "gr-3", "api_type": "retrieve"}}}
{"type": "end", "span_id": "00000000000000c2", "time": 1764000003000000000}"#;

fn string(value: Option<&Value>) -> Option<String> {
    value.map(|v| v.as_str().into_owned())
}

#[test]
fn both_shipped_mappers_write_the_providers_own_attributes() {
    for mapper in [BuiltinMapper::GenAi, BuiltinMapper::OpenInference] {
        let run = run_lines(LINES, |b| b.with_builtin_mapper(mapper));
        assert_eq!(run.spans.len(), 2, "{mapper:?}");
        let chat = run
            .spans
            .iter()
            .find(|s| s.name.starts_with("chat"))
            .unwrap();
        for (key, value) in [
            ("openai.request.service_tier", "flex"),
            ("openai.response.service_tier", "default"),
            ("openai.response.system_fingerprint", "fp_44709d6fcb"),
            ("openai.api.type", "chat_completions"),
        ] {
            assert_eq!(
                string(attr(chat, key)).as_deref(),
                Some(value),
                "{mapper:?}: {key}"
            );
        }
        let retrieval = run
            .spans
            .iter()
            .find(|s| s.name.starts_with("retrieval"))
            .unwrap();
        for (key, value) in [
            ("aws.bedrock.knowledge_base.id", "kb-7"),
            ("aws.bedrock.guardrail.id", "gr-3"),
            // Bedrock's namespace has no API type: kept under agentrace's.
            ("agentrace.provider.api.type", "retrieve"),
        ] {
            assert_eq!(
                string(attr(retrieval, key)).as_deref(),
                Some(value),
                "{mapper:?}: {key}"
            );
        }
    }
}

#[test]
fn a_mapper_without_the_extended_export_maps_records_that_have_details() {
    // The AG2 example's records, each with a provider detail.
    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("tests/conformance/vectors/ag2-group-chat-content-off.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let records: Vec<agentrace::AgentRecord> = vector["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            let mut record = record.clone();
            record["provider_details"] = serde_json::json!({"system_fingerprint": "fp_1"});
            serde_json::from_value(record).expect("the JSON form of a record with details")
        })
        .collect();
    let count = records.len();
    let mut template = DryRunMapper::from_bytes(
        &std::fs::read(env!("AGENTRACE_MAPPER_TEMPLATE")).unwrap(),
        BTreeMap::new(),
        Limits::default(),
        Grants::default(),
    )
    .unwrap();
    let mapped = template
        .map(&records)
        .expect("the 0.2.1-style mapper maps them");
    assert_eq!(mapped.span_count(), count);

    let mut genai = DryRunMapper::builtin(BuiltinMapper::GenAi, BTreeMap::new()).unwrap();
    let mapped = serde_json::to_value(genai.map(&records).unwrap()).unwrap();
    let chats: Vec<&serde_json::Value> = mapped["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("chat "))
        .collect();
    assert!(!chats.is_empty());
    let mut openai = 0;
    for chat in chats {
        let attributes = chat["attributes"].to_string();
        // OpenAI's key for OpenAI's calls, agentrace's for the other providers (Anthropic).
        let key = if attributes.contains(r#""Str":"openai""#) {
            openai += 1;
            "openai.response.system_fingerprint"
        } else {
            "agentrace.provider.response.system_fingerprint"
        };
        assert!(attributes.contains(key), "{key} in {attributes}");
    }
    assert!(openai > 0, "the example has OpenAI calls");
}
