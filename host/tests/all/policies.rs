//! Redaction policies in the pipeline: no raw personal data of the corpus in the exported
//! bytes, stable keyed hashes, chains in order, and fail-closed exports when a policy fails.

use agentrace::{
    BuiltinPolicy, ExportTarget, OtlpEncoding, Policy, ReceivedTraces, StatsSnapshot, Tracer,
    TracerBuilder, events,
};

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::{WAIT, ag2_example, componentize_py, repo};

/// Builds `policies/python-redact` into a component with componentize-py, once per source and
/// WIT version.
fn python_redact() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            componentize_py(
                "sender-policy-plugin",
                &repo().join("policies/python-redact"),
                "python_redact",
            )
        })
        .clone()
}

/// The redact policy in each language, with the same configuration.
fn redact_policies(config: &[(&str, &str)]) -> Vec<(&'static str, Policy)> {
    let configure = |mut policy: Policy| {
        for (key, value) in config {
            policy = policy.with_config(*key, *value);
        }
        policy
    };
    vec![
        ("rust", configure(Policy::builtin(BuiltinPolicy::Redact))),
        ("python", configure(Policy::file(python_redact()))),
    ]
}

/// Synthetic personal data and secrets, one of each kind the detectors know.
const CORPUS: &[&str] = &[
    "jane.doe@example.com",
    "r.smith+ops@corp.example.org",
    "+1 415-555-0132",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "378282246310005",
    "203.0.113.42",
    "2001:db8:85a3::8a2e:370:7334",
    "Bearer mF_9.B5f-4.1JqM",
    "sk-proj-Abc123Def456Ghi789Jkl012Mno345",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    // A fine-grained GitHub token with no `gh` in it: alone in an attribute value, `redact`'s
    // pre-check once let it through.
    "github_pat_11ABCDEFG0123456789_zzzzzzzzzzzz",
    "xoxb-1234567890-abcdefghij",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    // A card number in full-width digits, as Japanese input writes it.
    "４１１１ １１１１ １１１１ １１１１",
    // Internationalised e-mail addresses (letters and marks of other scripts in every part)
    // and one written with the full-width at sign of East Asian input.
    "jöhn.müller@exämple.de",
    "用户@例子.广告",
    "राम@डाटामेल.भारत",
    "jane＠example.com",
    // A card number that the tool's arguments also give as a JSON number (CARD_NUMBER).
    "4012888888881881",
];

/// A card number given as a JSON number in a tool's arguments.
const CARD_NUMBER: u64 = 4_012_888_888_881_881;

/// Events carrying the corpus in every place content can hide: messages, system instructions,
/// tool arguments and results, human input, code output, summaries, runtime attributes, span
/// events, and an error message.
fn corpus_events() -> String {
    let all = CORPUS.join(" / ");
    let text = |t: &str| serde_json::json!([{"type": "text", "content": t}]);
    let mut lines = Vec::new();
    let mut push = |v: serde_json::Value| lines.push(v.to_string());
    let trace = "0af7651916cd43dd8448eb211c80319c";
    push(
        serde_json::json!({"type": "start", "span_id": "0000000000000001", "trace_id": trace,
        "operation": "conversation", "time": 1, "fields": {"agent": {"name": "user"},
        "input_messages": [{"role": "user", "parts": text(&all)}],
        "attributes": {"app.customer": CORPUS[0], "app.notes": CORPUS}}}),
    );
    push(
        serde_json::json!({"type": "start", "span_id": "0000000000000002",
        "parent_span_id": "0000000000000001", "operation": "chat", "time": 2,
        "fields": {"provider": "openai", "request": {"model": "gpt-4o"},
        "system_instructions": text(&format!("Escalate to {}", CORPUS[1])),
        "input_messages": [{"role": "user", "parts": text(&all)}]}}),
    );
    push(
        serde_json::json!({"type": "event", "span_id": "0000000000000002", "name": "chunk",
        "time": 3, "attributes": {"chunk.text": all}}),
    );
    push(
        serde_json::json!({"type": "end", "span_id": "0000000000000002", "time": 4,
        "fields": {"output_messages": [{"role": "assistant", "parts": [
            {"type": "text", "content": all},
            {"type": "tool_call", "id": "c1", "name": "pay", "arguments": {"card": CORPUS[4], "iban": CORPUS[14], "nested": {"contact": CORPUS}}}]}],
        "error": {"type": "ProviderError", "message": format!("rejected for {}", CORPUS[0])}}}),
    );
    push(
        serde_json::json!({"type": "start", "span_id": "0000000000000003",
        "parent_span_id": "0000000000000001", "operation": "execute_tool", "time": 5,
        "fields": {"tool": {"name": "pay", "arguments": {"card": CORPUS[5], "card_number": CARD_NUMBER, "all": CORPUS}}}}),
    );
    push(
        serde_json::json!({"type": "end", "span_id": "0000000000000003", "time": 6,
        "fields": {"tool": {"result": all}}}),
    );
    push(
        serde_json::json!({"type": "start", "span_id": "0000000000000004",
        "parent_span_id": "0000000000000001", "operation": "human_input", "time": 7,
        "fields": {"agent": {"name": "user"}, "human_input": {"prompt": all, "response": all}}}),
    );
    push(serde_json::json!({"type": "end", "span_id": "0000000000000004", "time": 8}));
    push(
        serde_json::json!({"type": "start", "span_id": "0000000000000005",
        "parent_span_id": "0000000000000001", "operation": "code_execution", "time": 9,
        "fields": {"code_execution": {"code": format!("print('{all}')"), "output": all, "exit_code": 0}}}),
    );
    push(serde_json::json!({"type": "end", "span_id": "0000000000000005", "time": 10}));
    push(
        serde_json::json!({"type": "end", "span_id": "0000000000000001", "time": 11,
        "fields": {"conversation": {"summary": all}, "output_messages": [{"role": "assistant", "parts": text(&all)}]}}),
    );
    lines.join("\n")
}

/// Builds a tracer `configure` sets up, writing OTLP/JSON to a file, hands it to `feed`, shuts
/// it down; returns the bytes and the counters.
fn to_file(
    configure: impl FnOnce(TracerBuilder) -> TracerBuilder,
    feed: impl FnOnce(&Tracer),
) -> (String, StatsSnapshot) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let tracer = configure(
        Tracer::builder()
            .with_block_when_full(true)
            .with_export(ExportTarget::JsonFile(path.clone())),
    )
    .build()
    .unwrap();
    feed(&tracer);
    tracer.shutdown(WAIT).unwrap();
    (std::fs::read_to_string(&path).unwrap(), tracer.stats())
}

/// Replays `lines` with content capture on, writing OTLP/JSON to a file; returns the bytes.
fn export(
    lines: &str,
    configure: impl FnOnce(TracerBuilder) -> TracerBuilder,
) -> (String, StatsSnapshot) {
    to_file(
        |builder| configure(builder.with_capture_content(true)),
        |tracer| {
            for line in lines.lines() {
                tracer.report(events::decode_line(line).unwrap().unwrap());
            }
        },
    )
}

fn leaks<'a>(output: &str, corpus: &[&'a str]) -> Vec<&'a str> {
    corpus
        .iter()
        .copied()
        .filter(|value| output.contains(value))
        .collect()
}

#[test]
fn redact_leaves_no_raw_value_of_the_corpus_in_the_exported_bytes() {
    // Without the policy every value reaches the output: the corpus is where it should be.
    let (raw, _) = export(&corpus_events(), |b| b);
    assert_eq!(leaks(&raw, CORPUS), CORPUS);

    for action in ["mask", "hash"] {
        for (language, policy) in redact_policies(&[("action", action), ("hash-key", "test-key")]) {
            let (redacted, stats) = export(&corpus_events(), |b| b.with_policy(policy));
            assert_eq!(
                leaks(&redacted, CORPUS),
                Vec::<&str>::new(),
                "{language} {action}"
            );
            assert_eq!(stats.spans_exported, 5);
            assert_eq!(
                stats.policy_failures, 0,
                "{language} {action}: {:?}",
                stats.recent_errors
            );
            assert!(redacted.contains("agentrace.redaction.count"));
            // The content is still valid JSON in the parts format after redaction.
            let exported: serde_json::Value =
                serde_json::from_str(redacted.lines().next().unwrap()).unwrap();
            let spans = exported["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .unwrap();
            for span in spans {
                for attribute in span["attributes"].as_array().unwrap() {
                    if attribute["key"] == "gen_ai.input.messages" {
                        let text = attribute["value"]["stringValue"].as_str().unwrap();
                        let messages: serde_json::Value = serde_json::from_str(text).unwrap();
                        assert!(messages[0]["parts"][0]["content"].is_string());
                    }
                }
            }
        }
    }
}

#[test]
fn redact_on_the_ag2_example_removes_its_personal_data() {
    let example_pii = [
        "jane.doe@example.com",
        "DE89 3704 0044 0532 0130 00",
        "+1 415-555-0132",
    ];
    let (raw, _) = export(&ag2_example(), |b| b);
    assert_eq!(leaks(&raw, &example_pii), example_pii);
    for (language, policy) in redact_policies(&[]) {
        let (redacted, stats) = export(&ag2_example(), |b| b.with_policy(policy));
        assert_eq!(
            leaks(&redacted, &example_pii),
            Vec::<&str>::new(),
            "{language}"
        );
        assert_eq!(stats.spans_exported, 33, "{language}");
        // The dated model name looks like a phone number to the pattern; it is a date.
        assert!(
            redacted.contains(r#""gpt-4o-mini-2024-07-18""#),
            "{language}: the response model was redacted"
        );
    }
}

#[test]
fn redact_keeps_dates_and_ids_that_look_like_phone_numbers() {
    let text = "Released 2024-07-18 10:22:33 UTC (18.07.2024); o1-2024-12-17 was earlier.";
    let events = [
        serde_json::json!({"type": "start", "span_id": "0000000000000001",
            "trace_id": "0af7651916cd43dd8448eb211c80319c", "operation": "chat", "time": 1,
            "fields": {"provider": "openai", "request": {"model": "o1-2024-12-17"},
            "input_messages": [{"role": "user", "parts": [{"type": "text", "content": text}]}]}}),
        serde_json::json!({"type": "end", "span_id": "0000000000000001", "time": 2,
            "fields": {"response": {"model": "gpt-4o-mini-2024-07-18"}}}),
        serde_json::json!({"type": "start", "span_id": "0000000000000002",
            "parent_span_id": "0000000000000001", "operation": "execute_tool", "time": 3,
            "fields": {"tool": {"name": "lookup", "call_id": "2c1100f9-4086-4820-aaf7-8ec1ac63bfc6"}}}),
        serde_json::json!({"type": "end", "span_id": "0000000000000002", "time": 4}),
    ]
    .map(|event| event.to_string())
    .join("\n");
    for (language, policy) in redact_policies(&[]) {
        let (out, stats) = export(&events, |b| b.with_policy(policy));
        assert_eq!(stats.spans_exported, 2, "{language}");
        for kept in [
            "o1-2024-12-17",
            "gpt-4o-mini-2024-07-18",
            text,
            "2c1100f9-4086-4820-aaf7-8ec1ac63bfc6",
        ] {
            assert!(out.contains(kept), "{language}: {kept} not kept in {out}");
        }
        assert!(!out.contains("agentrace.redaction"), "{language}: {out}");
    }
}

#[test]
fn keyed_hashes_are_stable_per_key_and_equal_across_languages() {
    let hashed = |key: &str| -> Vec<String> {
        redact_policies(&[("action", "hash"), ("hash-key", key)])
            .into_iter()
            .map(|(_, policy)| {
                let (out, _) = export(&corpus_events(), |b| b.with_policy(policy));
                let start = out.find("[email:").expect("a hashed e-mail");
                out[start..start + 40].to_string()
            })
            .collect()
    };
    let first = hashed("k1");
    // The Rust and the Python policy compute the same HMAC for the same key.
    assert_eq!(first[0], first[1]);
    assert_eq!(first, hashed("k1"));
    assert_ne!(first, hashed("k2"));
}

#[test]
fn both_redact_policies_refuse_bad_configuration_with_the_same_reason() {
    for (language, policy) in redact_policies(&[("detectors", "email,ssn")]) {
        let message = Tracer::builder()
            .with_policy(policy)
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("config `detectors`: unknown detector `ssn`"),
            "{language}: {message}"
        );
    }
    for (language, policy) in redact_policies(&[("action", "hash")]) {
        let message = Tracer::builder()
            .with_policy(policy)
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("needs a `hash-key`"),
            "{language}: {message}"
        );
    }
}

/// The hostile test component written to a file, to load as a policy (the directory keeps it).
fn hostile_policy_file() -> (tempfile::TempDir, PathBuf) {
    let hostile = std::fs::read(env!("AGENTRACE_HOSTILE_MAPPER")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.wasm");
    std::fs::write(&path, hostile).unwrap();
    (dir, path)
}

#[test]
fn a_failing_policy_fails_closed() {
    let (_dir, path) = hostile_policy_file();
    for behavior in [
        "error", "panic", "loop", "memory", "huge", "fewer", "stranger",
    ] {
        let (output, stats) = export(&corpus_events(), |b| {
            b.with_limits(
                agentrace::Limits::default()
                    .with_call_deadline(std::time::Duration::from_millis(200))
                    .with_max_memory_bytes(32 << 20),
            )
            .with_policy(Policy::file(&path).with_config("behavior", behavior))
        });
        assert_eq!(
            leaks(&output, CORPUS),
            Vec::<&str>::new(),
            "{behavior} leaked"
        );
        assert_eq!(stats.spans_exported, 5, "{behavior}: {stats:?}");
        assert_eq!(stats.spans_failed_closed, 5, "{behavior}: {stats:?}");
        assert!(stats.policy_failures >= 1, "{behavior}");
        assert!(
            output.contains(r#""key":"agentrace.policy.failed","value":{"stringValue":"hostile"}"#)
        );
        assert!(
            stats
                .recent_errors
                .iter()
                .any(|e| e.contains("policy `hostile`"))
        );
        // Output that breaks the verdict contract is named and counted as such.
        let (counter, reason) = match behavior {
            "huge" => (stats.component_oversized, "6 verdicts for 5 spans"),
            "fewer" => (stats.component_invalid_output, "4 verdicts for 5 spans"),
            "stranger" => (stats.component_invalid_output, "was replaced by span"),
            _ => continue,
        };
        assert!(counter >= 1, "{behavior}: {stats:?}");
        assert!(
            stats.recent_errors.iter().any(|e| e.contains(reason)),
            "{behavior}: {:?}",
            stats.recent_errors
        );
    }
    // A policy that passes everything through is not a failure: content goes out as it came.
    let (output, stats) = export(&corpus_events(), |b| {
        b.with_policy(Policy::file(&path).with_config("behavior", "pass"))
    });
    assert_eq!(stats.policy_failures, 0);
    assert_eq!(leaks(&output, CORPUS), CORPUS);
}

/// Personal data a sender put on its resource and its scope, and on one span, as OTLP/JSON.
const SENDER_WITH_PERSONAL_DATA: &str = r#"{"resourceSpans": [{
  "resource": {"attributes": [
    {"key": "service.name", "value": {"stringValue": "support-bot"}},
    {"key": "enduser.email", "value": {"stringValue": "jane.doe@example.com"}},
    {"key": "deployment.note", "value": {"stringValue": "on call: +1 415-555-0132"}}]},
  "scopeSpans": [{
    "scope": {"name": "producer.agents", "version": "1.0",
              "attributes": [{"key": "owner", "value": {"stringValue": "r.smith+ops@corp.example.org"}}]},
    "spans": [
      {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "00000000000000a1",
       "name": "invoke_agent support", "startTimeUnixNano": "1000", "endTimeUnixNano": "5000",
       "attributes": [{"key": "app.card", "value": {"stringValue": "4111 1111 1111 1111"}}]}
    ]}]}]}"#;

/// The personal data in [`SENDER_WITH_PERSONAL_DATA`].
const SENDER_CORPUS: &[&str] = &[
    "jane.doe@example.com",
    "+1 415-555-0132",
    "r.smith+ops@corp.example.org",
    "4111 1111 1111 1111",
];

/// Receives [`SENDER_WITH_PERSONAL_DATA`] twice through a tracer `configure` sets up, writing
/// OTLP/JSON to a file; returns the bytes.
fn export_received(
    configure: impl FnOnce(TracerBuilder) -> TracerBuilder,
) -> (String, StatsSnapshot) {
    to_file(configure, |tracer| {
        // Twice: the second time, the worker has the policies' answers for this resource and
        // scope.
        for _ in 0..2 {
            let traces =
                ReceivedTraces::decode(SENDER_WITH_PERSONAL_DATA.as_bytes(), OtlpEncoding::Json)
                    .unwrap();
            tracer.receive(traces).unwrap();
            tracer.flush(WAIT).unwrap();
        }
    })
}

#[test]
fn redact_removes_personal_data_from_received_resources_and_scopes() {
    // Without a policy, the sender's resource and scope leave as it wrote them.
    let (raw, _) = export_received(|b| b);
    assert_eq!(leaks(&raw, SENDER_CORPUS), SENDER_CORPUS);

    for (language, policy) in redact_policies(&[("allowed-keys", "gen_ai.operation.name")]) {
        let (redacted, stats) = export_received(|b| b.with_policy(policy));
        assert_eq!(
            leaks(&redacted, SENDER_CORPUS),
            Vec::<&str>::new(),
            "{language}: {redacted}"
        );
        assert_eq!(
            stats.policy_failures, 0,
            "{language}: {:?}",
            stats.recent_errors
        );
        let exported: serde_json::Value =
            serde_json::from_str(redacted.lines().next().unwrap()).unwrap();
        let resource = &exported["resourceSpans"][0]["resource"]["attributes"];
        let value = |key: &str| {
            resource
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == key)
                .map(|a| a["value"]["stringValue"].clone())
        };
        // The allowed keys name span attributes: the resource's own stay, redacted.
        assert_eq!(
            value("service.name"),
            Some("support-bot".into()),
            "{language}"
        );
        assert_eq!(
            value("enduser.email"),
            Some("[REDACTED:email]".into()),
            "{language}"
        );
        assert_eq!(
            value("deployment.note"),
            Some("on call: [REDACTED:phone]".into()),
            "{language}"
        );
        let scope = &exported["resourceSpans"][0]["scopeSpans"][0]["scope"];
        assert_eq!(scope["name"], "producer.agents", "{language}");
        assert_eq!(scope["version"], "1.0", "{language}");
        assert_eq!(
            scope["attributes"][0]["value"]["stringValue"], "[REDACTED:email]",
            "{language}"
        );
    }
}

#[test]
fn a_policy_failing_on_a_received_resource_fails_closed() {
    let (_dir, path) = hostile_policy_file();
    for behavior in ["error", "panic", "loop", "huge"] {
        let (output, stats) = export_received(|b| {
            b.with_limits(
                agentrace::Limits::default()
                    .with_call_deadline(std::time::Duration::from_millis(200)),
            )
            .with_policy(Policy::file(&path).with_config("behavior", behavior))
        });
        assert_eq!(
            leaks(&output, SENDER_CORPUS),
            Vec::<&str>::new(),
            "{behavior} leaked: {output}"
        );
        // Both requests: a failed answer is not kept, the second request fails closed again.
        let requests: Vec<&str> = output
            .lines()
            .filter(|line| line.contains("resourceSpans"))
            .collect();
        assert_eq!(requests.len(), 2, "{behavior}");
        for line in requests {
            let exported: serde_json::Value = serde_json::from_str(line).unwrap();
            let resource = &exported["resourceSpans"][0]["resource"]["attributes"];
            assert_eq!(
                resource,
                &serde_json::json!([{"key": "service.name", "value": {"stringValue": "support-bot"}}]),
                "{behavior}: the resource keeps its service name alone"
            );
            let scope = &exported["resourceSpans"][0]["scopeSpans"][0]["scope"];
            assert!(
                scope["attributes"].as_array().is_none_or(Vec::is_empty),
                "{behavior}: {scope}"
            );
        }
        assert_eq!(stats.spans_exported, 2, "{behavior}: {stats:?}");
        // The resource, the scope and the span of each request: each a failure, counted.
        assert!(stats.policy_failures >= 6, "{behavior}: {stats:?}");
        assert!(
            stats
                .recent_errors
                .iter()
                .any(|e| e.contains("a received resource exported with `service.name` alone")),
            "{behavior}: {:?}",
            stats.recent_errors
        );
    }
}

#[test]
fn chains_run_in_order_and_shape_is_kept() {
    let (output, stats) = export(&corpus_events(), |b| {
        b.with_policy(Policy::builtin(BuiltinPolicy::Truncate).with_config("max-bytes", "300"))
            .with_policy(Policy::builtin(BuiltinPolicy::DropContent))
    });
    assert_eq!(stats.policy_failures, 0);
    assert!(!output.contains(r#""key":"gen_ai.input.messages""#));
    assert!(
        output.contains(
            r#""key":"agentrace.dropped.gen_ai.input.messages.bytes","value":{"intValue":"300"}"#
        ),
        "{output}"
    );
    assert!(output.contains("agentrace.dropped.gen_ai.input.messages.roles"));
    assert!(output.contains("agentrace.truncated.keys"));

    let (output, _) = export(&corpus_events(), |b| {
        b.with_policy(Policy::builtin(BuiltinPolicy::Redact))
            .with_policy(Policy::builtin(BuiltinPolicy::Truncate).with_config("max-bytes", "256"))
    });
    let exported: serde_json::Value = serde_json::from_str(output.lines().next().unwrap()).unwrap();
    let mut checked = 0;
    for span in exported["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap()
    {
        for attribute in span["attributes"].as_array().unwrap() {
            if let Some(text) = attribute["value"]["stringValue"].as_str()
                && attribute["key"].as_str().unwrap().starts_with("gen_ai.")
                && (text.starts_with('[') || text.starts_with('{'))
            {
                assert!(text.len() <= 256, "{}: {}", attribute["key"], text.len());
                serde_json::from_str::<serde_json::Value>(text).unwrap();
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "{checked}");
}

#[test]
fn policy_mistakes_fail_at_build_with_the_reason() {
    let err = |policy: Policy| {
        Tracer::builder()
            .with_policy(policy)
            .build()
            .unwrap_err()
            .to_string()
    };
    // A misspelt built-in name is refused before any tracer is built.
    let message = Policy::from_source("redactt").unwrap_err().to_string();
    assert_eq!(
        message,
        "no built-in policy `redactt`: choose one of redact, drop-content, truncate, sample, \
         cost, propagate"
    );
    let message = err(Policy::builtin(BuiltinPolicy::Redact).with_config("action", "hash"));
    assert!(message.contains("needs a `hash-key`"), "{message}");
    let message = err(Policy::builtin(BuiltinPolicy::Truncate).with_config("max-bytes", "lots"));
    assert!(
        message.contains("config `max-bytes`: expected a number of bytes, got `lots`"),
        "{message}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mapper = dir.path().join("mapper.wasm");
    std::fs::write(&mapper, agentrace::default_mapper_component()).unwrap();
    let message = err(Policy::file(&mapper));
    assert!(
        message.contains("this role needs an export `agentrace:plugin/policy@0.2.5`"),
        "{message}"
    );
}

#[test]
fn the_policy_template_does_what_its_documentation_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.wasm");
    std::fs::write(
        &path,
        std::fs::read(env!("AGENTRACE_POLICY_TEMPLATE")).unwrap(),
    )
    .unwrap();
    let (output, stats) = export(&ag2_example(), |b| {
        b.with_policy(
            Policy::file(&path)
                .with_config("environment", "staging")
                .with_config("drop-operations", "agentrace.speaker_selection"),
        )
    });
    assert_eq!(stats.spans_dropped_by_policy, 4);
    assert_eq!(stats.spans_exported, 29);
    assert_eq!(stats.spans_accounted(), stats.spans_started);
    assert_eq!(
        output
            .matches(r#""key":"deployment.environment.name""#)
            .count(),
        29
    );
    assert!(!output.contains(r#""name":"speaker_selection""#));
}
