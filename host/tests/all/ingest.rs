//! The ingest world (issue 15, item 2) with the hostile test component as the ingest
//! component: what each verdict does to received spans, and that a failing or lying component
//! loses no span (every one passes on as it came, marked `agentrace.ingest.failed`, counted).

use std::collections::BTreeMap;
use std::time::Duration;

use agentrace::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use agentrace::{ExportTarget, Limits, OtlpEncoding, ReceivedTraces, StatsSnapshot, Tracer};
use opentelemetry::Value;

use crate::common::WAIT;

/// The hostile component (a mapper, a policy and an ingest component in one).
fn hostile_bytes() -> Vec<u8> {
    std::fs::read(env!("AGENTRACE_HOSTILE_MAPPER")).expect("the hostile component was built")
}

/// Three spans of one trace (a root and two children) and one of another, from a producer
/// with its own resource and scope, as OTLP/JSON.
const REQUEST: &[u8] = br#"{"resourceSpans": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "producer"}}]},
  "scopeSpans": [{
    "scope": {"name": "producer.agents", "version": "3.2.1"},
    "spans": [
      {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "00000000000000a1",
       "name": "invoke_agent planner", "startTimeUnixNano": "1000", "endTimeUnixNano": "5000",
       "attributes": [{"key": "app.note", "value": {"stringValue": "kept"}}]},
      {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "00000000000000a2",
       "parentSpanId": "00000000000000a1", "name": "gpt-4o",
       "startTimeUnixNano": "2000", "endTimeUnixNano": "3000"},
      {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "00000000000000a3",
       "parentSpanId": "00000000000000a1", "name": "gpt-4o-mini",
       "startTimeUnixNano": "3000", "endTimeUnixNano": "4000"},
      {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00000000000000b1",
       "name": "other trace", "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"}
    ]}]}]}"#;

/// Receives [`REQUEST`] through a tracer whose ingest component is the hostile one with
/// `behavior`; returns what was exported and the counters.
fn ingest_with(behavior: &str) -> (Vec<SpanData>, StatsSnapshot) {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_ingest_bytes(hostile_bytes())
        .with_config("behavior", behavior)
        .with_limits(Limits::default().with_call_deadline(Duration::from_millis(300)))
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .build()
        .unwrap();
    receive(&tracer);
    tracer.shutdown(WAIT).unwrap();
    (spans.get_finished_spans().unwrap(), tracer.stats())
}

fn receive(tracer: &Tracer) {
    let traces = ReceivedTraces::decode(REQUEST, OtlpEncoding::Json).unwrap();
    assert_eq!(traces.span_count(), 4);
    tracer.receive(traces).unwrap();
}

/// The value of `key` on `span`, as text.
fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        })
}

/// (span id, name, ingest-failure mark) of every exported span, sorted by id.
fn summary(spans: &[SpanData]) -> Vec<(String, String, Option<String>)> {
    let mut rows: Vec<_> = spans
        .iter()
        .map(|s| {
            (
                s.span_context.span_id().to_string(),
                s.name.to_string(),
                attribute(s, "agentrace.ingest.failed"),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_failing_ingest_component_loses_no_span() {
    for (behavior, why) in [
        ("loop", "deadline exceeded"),
        ("panic", "trapped"),
        ("memory", "trapped"),
        ("error", "refuses these spans"),
        ("huge", "5 verdicts for 4 spans"),
        ("fewer", "3 verdicts for 4 spans"),
    ] {
        let (exported, stats) = ingest_with(behavior);
        let rows = summary(&exported);
        assert_eq!(rows.len(), 4, "{behavior}: {rows:?}");
        for (id, name, mark) in &rows {
            let mark = mark.as_deref().unwrap_or_default();
            assert!(
                mark.starts_with("ingest component `ingest` ") && mark.contains(why),
                "{behavior}: span {id} ({name}) marked {mark:?}"
            );
        }
        // Passed on as they came: the producer's names and attributes.
        let root = exported
            .iter()
            .find(|s| s.name == "invoke_agent planner")
            .unwrap();
        assert_eq!(attribute(root, "app.note").as_deref(), Some("kept"));
        assert_eq!(root.instrumentation_scope.name(), "producer.agents");
        assert_eq!(stats.spans_ingest_failed, 4, "{behavior}");
        assert_eq!(stats.spans_accounted(), stats.spans_received, "{behavior}");
    }
}

#[test]
fn verdicts_with_other_ids_pass_their_spans_on_marked() {
    let (exported, stats) = ingest_with("stranger");
    let rows = summary(&exported);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let marked: Vec<&str> = rows
        .iter()
        .filter(|(_, _, mark)| mark.is_some())
        .map(|(id, _, _)| id.as_str())
        .collect();
    // The first span of the call was replaced by one of another id, the second normalised
    // into a record of another trace.
    assert_eq!(marked.len(), 2, "{rows:?}");
    assert!(rows.iter().any(|(_, _, m)| {
        m.as_deref()
            .is_some_and(|m| m.contains("changes the span id"))
    }));
    assert!(rows.iter().any(|(_, _, m)| {
        m.as_deref()
            .is_some_and(|m| m.contains("changes the trace id"))
    }));
    assert_eq!(stats.spans_ingest_failed, 2);
    assert_eq!(stats.spans_accounted(), 4);
}

#[test]
fn dropped_spans_are_counted() {
    let (exported, stats) = ingest_with("drop-all");
    assert!(exported.is_empty());
    assert_eq!(stats.spans_dropped_by_ingest, 4);
    assert_eq!(stats.spans_accounted(), 4);
}

#[test]
fn normalised_spans_are_mapped_and_keep_their_place_resource_and_scope() {
    let (exported, stats) = ingest_with("normalise");
    assert_eq!(stats.spans_normalised, 4);
    let rows = summary(&exported);
    assert_eq!(
        rows.iter()
            .map(|(id, name, mark)| (id.as_str(), name.as_str(), mark.is_some()))
            .collect::<Vec<_>>(),
        [
            ("00000000000000a1", "chat invoke_agent planner", false),
            ("00000000000000a2", "chat gpt-4o", false),
            ("00000000000000a3", "chat gpt-4o-mini", false),
            ("00000000000000b1", "chat other trace", false),
        ]
    );
    for span in &exported {
        // The default mapper's attributes, under the producer's scope with the mapper's schema.
        assert_eq!(
            attribute(span, "gen_ai.operation.name").as_deref(),
            Some("chat")
        );
        assert_eq!(span.instrumentation_scope.name(), "producer.agents");
        assert_eq!(span.instrumentation_scope.version(), Some("3.2.1"));
        assert!(
            span.instrumentation_scope
                .schema_url()
                .is_some_and(|url| url.contains("1.41")),
            "{:?}",
            span.instrumentation_scope
        );
    }
    let child = exported.iter().find(|s| s.name == "chat gpt-4o").unwrap();
    assert_eq!(child.parent_span_id.to_string(), "00000000000000a1");
    assert_eq!(stats.spans_accounted(), 4);
}

#[test]
fn the_ingest_component_swaps_at_run_time_and_can_be_removed() {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_ingest_bytes(hostile_bytes())
        .with_config("behavior", "drop-all")
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .build()
        .unwrap();
    receive(&tracer);
    tracer.flush(WAIT).unwrap();
    assert!(spans.get_finished_spans().unwrap().is_empty());
    tracer.swap_ingest(None, WAIT).unwrap();
    receive(&tracer);
    tracer.shutdown(WAIT).unwrap();
    let exported = spans.get_finished_spans().unwrap();
    assert_eq!(exported.len(), 4, "passed on as they came once removed");
    assert!(
        exported
            .iter()
            .all(|s| attribute(s, "agentrace.ingest.failed").is_none())
    );
    let stats = tracer.stats();
    assert_eq!(stats.spans_dropped_by_ingest, 4);
    assert_eq!(stats.component_reloads, 1);
}

#[test]
fn a_component_of_another_world_is_refused_as_ingest_with_the_reason() {
    let error = Tracer::builder()
        .with_ingest_bytes(agentrace::BuiltinMapper::GenAi.component().to_vec())
        .with_export(ExportTarget::None)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("this role needs an export `agentrace:plugin/ingest@0.2.5`"),
        "{error}"
    );
}

/// One captured producer (`tests/fixtures/otlp-in/`) through the default ingest component,
/// the default mapper and `extra` (a policy, say): what was exported, with each span's scope.
fn normalise_capture(
    file: &str,
    capture: bool,
    extra: impl FnOnce(agentrace::TracerBuilder) -> agentrace::TracerBuilder,
) -> (Vec<SpanData>, StatsSnapshot) {
    let spans = InMemorySpanExporter::default();
    let builder = Tracer::builder()
        .with_builtin_ingest()
        .with_capture_content(capture)
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        });
    let tracer = extra(builder).build().unwrap();
    let path = crate::common::repo()
        .join("tests/fixtures/otlp-in")
        .join(file);
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        let traces = ReceivedTraces::decode(line.as_bytes(), OtlpEncoding::Json).unwrap();
        tracer.receive(traces).unwrap();
    }
    tracer.shutdown(WAIT).unwrap();
    (spans.get_finished_spans().unwrap(), tracer.stats())
}

/// (span id, parent id) of every span a capture holds.
fn captured_tree(file: &str) -> Vec<(String, String)> {
    let path = crate::common::repo()
        .join("tests/fixtures/otlp-in")
        .join(file);
    let mut tree = Vec::new();
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        for resource in request["resourceSpans"].as_array().unwrap() {
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    tree.push((
                        span["spanId"].as_str().unwrap().to_string(),
                        span["parentSpanId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    ));
                }
            }
        }
    }
    tree.sort();
    tree
}

/// Whether an attribute value has the registry's type.
fn has_type(value: &Value, ty: &str) -> bool {
    use opentelemetry::Array;
    matches!(
        (ty, value),
        ("string", Value::String(_))
            | ("int", Value::I64(_))
            | ("double", Value::F64(_))
            | ("boolean", Value::Bool(_))
            | ("string[]", Value::Array(Array::String(_)))
            | ("any", _)
    )
}

/// The captures, what each must become, and a span name it must not keep.
const CAPTURES: [(&str, usize, &str); 7] = [
    (
        "ag2-classic-autogen-0.14.1.jsonl",
        47,
        "await_human_input user_proxy",
    ),
    (
        "ag2-1.2.1-telemetry-middleware.jsonl",
        11,
        "await_human_input lead",
    ),
    ("openinference-openai-0.1.66.jsonl", 2, "ChatCompletion"),
    ("openai-v2-2.1b0.jsonl", 2, ""),
    ("openllmetry-openai-0.62.4.jsonl", 2, "openai.chat"),
    (
        "ai-sdk-7.0.173-otel-1.0.173.jsonl",
        4,
        "invoke_agent gpt-4o-mini",
    ),
    ("pydantic-ai-2.68.0.jsonl", 4, ""),
];

#[test]
fn every_captured_producer_comes_out_on_the_conventions_with_its_tree() {
    let Some(semconv) = crate::common::semconv_dir(
        "ingest::every_captured_producer_comes_out_on_the_conventions_with_its_tree",
    ) else {
        return;
    };
    let validators = crate::schemas::validators(&semconv);
    let (_, types) = crate::log_events::model(&semconv);
    for (file, normalised, old_name) in CAPTURES {
        let (exported, stats) = normalise_capture(file, true, |b| b);
        // Every span is there, in the producer's tree.
        let mut tree: Vec<(String, String)> = exported
            .iter()
            .map(|s| {
                let parent = s.parent_span_id;
                let parent = if parent == opentelemetry::trace::SpanId::INVALID {
                    String::new()
                } else {
                    parent.to_string()
                };
                (s.span_context.span_id().to_string(), parent)
            })
            .collect();
        tree.sort();
        assert_eq!(tree, captured_tree(file), "{file}: the tree changed");
        assert_eq!(stats.spans_normalised as usize, normalised, "{file}");
        assert_eq!(
            stats.spans_ingest_failed, 0,
            "{file}: {:?}",
            stats.recent_errors
        );
        if !old_name.is_empty() {
            assert!(
                exported.iter().all(|s| s.name != old_name),
                "{file}: `{old_name}` kept its producer's name"
            );
        }
        for span in exported.iter().filter(|s| {
            s.instrumentation_scope
                .schema_url()
                .is_some_and(|u| u.ends_with("/1.41.0"))
        }) {
            for kv in &span.attributes {
                let key = kv.key.as_str();
                if let Some(validator) = validators.get(key) {
                    let Value::String(text) = &kv.value else {
                        panic!("{file}: {key} is not a string");
                    };
                    let json: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    let errors: Vec<String> = validator
                        .iter_errors(&json)
                        .map(|e| e.to_string())
                        .collect();
                    assert!(errors.is_empty(), "{file} {}: {key}: {errors:?}", span.name);
                }
                if key.starts_with("gen_ai.") {
                    let ty = types.get(key).unwrap_or_else(|| {
                        panic!("{file} {}: `{key}` is not in the registry", span.name)
                    });
                    assert!(
                        has_type(&kv.value, ty),
                        "{file} {}: `{key}` = {:?} is not a {ty}",
                        span.name,
                        kv.value
                    );
                }
            }
        }
    }
}

#[test]
fn a_producers_content_obeys_the_capture_setting_and_the_policies() {
    let content = [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    ];
    let text = |spans: &[SpanData]| {
        format!(
            "{:?}",
            spans.iter().map(|s| &s.attributes).collect::<Vec<_>>()
        )
    };
    for (file, _, _) in CAPTURES {
        let (exported, _) = normalise_capture(file, false, |b| b);
        // Content a producer keeps under names of its own (pydantic-ai's
        // `pydantic_ai.all_messages` and `final_result`) is gone too.
        assert!(
            !text(&exported).contains("jane.doe@example.com"),
            "{file}: the prompt's address left with capture off"
        );
        for span in exported.iter().filter(|s| {
            s.instrumentation_scope
                .schema_url()
                .is_some_and(|u| u.ends_with("/1.41.0"))
        }) {
            for key in content {
                assert!(
                    attribute(span, key).is_none(),
                    "{file} {}: {key} recorded with capture off",
                    span.name
                );
            }
        }
    }
    // With capture on, the address planted in the AI SDK's, OpenInference's and pydantic-ai's
    // prompts is there unless `redact` runs.
    for file in [
        "ai-sdk-7.0.173-otel-1.0.173.jsonl",
        "openinference-openai-0.1.66.jsonl",
        "pydantic-ai-2.68.0.jsonl",
    ] {
        let (plain, _) = normalise_capture(file, true, |b| b);
        assert!(text(&plain).contains("jane.doe@example.com"), "{file}");
        let (redacted, _) = normalise_capture(file, true, |b| {
            b.with_policy(agentrace::Policy::builtin(agentrace::BuiltinPolicy::Redact))
        });
        assert!(!text(&redacted).contains("jane.doe@example.com"), "{file}");
    }
}

#[test]
fn capture_off_differs_from_capture_on_only_by_content() {
    // With capture off a producer's spans say everything they say with capture on, content
    // aside: nothing else is lost or changed by leaving the content out. Tool definitions keep
    // their names either way (their descriptions and schemas are content).
    const CONTENT: [&str; 7] = [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "agentrace.human_input.prompt",
        "agentrace.human_input.response",
    ];
    let described = |spans: Vec<SpanData>, drop_content: bool| {
        let mut described: Vec<String> = spans
            .iter()
            .map(|span| {
                let attributes: BTreeMap<&str, String> = span
                    .attributes
                    .iter()
                    .filter(|kv| !(drop_content && CONTENT.contains(&kv.key.as_str())))
                    .map(|kv| match kv.key.as_str() {
                        "gen_ai.tool.definitions" => (kv.key.as_str(), "(present)".to_string()),
                        key => (key, format!("{:?}", kv.value)),
                    })
                    .collect();
                format!(
                    "{} {} {:?}",
                    span.span_context.span_id(),
                    span.name,
                    attributes
                )
            })
            .collect();
        described.sort();
        described
    };
    for (file, _, _) in CAPTURES {
        let (off, _) = normalise_capture(file, false, |b| b);
        let (on, _) = normalise_capture(file, true, |b| b);
        assert_eq!(described(off, false), described(on, true), "{file}");
    }
}

#[test]
fn consecutive_requests_under_one_resource_leave_in_one_export_request() {
    // Senders may send small requests (the AG2 capture: 47 spans); agentrace gathers
    // consecutive requests under an equal resource into one export, for spans and for the
    // mapper's log records, rather than sending one request out per request in.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exported.jsonl");
    let tracer = Tracer::builder()
        .with_builtin_ingest()
        .with_flush_interval(Duration::from_secs(60))
        .with_export(ExportTarget::JsonFile(path.clone()))
        .build()
        .unwrap();
    let capture = std::fs::read_to_string(
        crate::common::repo().join("tests/fixtures/otlp-in/ag2-classic-autogen-0.14.1.jsonl"),
    )
    .unwrap();
    let copies = 3;
    let mut received = 0;
    for copy in 1..=copies {
        // Each copy in a trace of its own, as a sender's next requests would come.
        let mut request: serde_json::Value = serde_json::from_str(&capture).unwrap();
        for resource in request["resourceSpans"].as_array_mut().unwrap() {
            for scope in resource["scopeSpans"].as_array_mut().unwrap() {
                for span in scope["spans"].as_array_mut().unwrap() {
                    span["traceId"] = format!("{copy:032x}").into();
                }
            }
        }
        let bytes = serde_json::to_vec(&request).unwrap();
        let traces = ReceivedTraces::decode(&bytes, OtlpEncoding::Json).unwrap();
        received += traces.span_count();
        tracer.receive(traces).unwrap();
    }
    tracer.flush(WAIT).unwrap();
    let exported = std::fs::read_to_string(&path).unwrap();
    let requests: Vec<serde_json::Value> = exported
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let of_kind = |kind: &str| requests.iter().filter(|r| r.get(kind).is_some()).count();
    assert_eq!(of_kind("resourceSpans"), 1, "{exported}");
    assert_eq!(of_kind("resourceLogs"), 1, "{exported}");
    let stats = tracer.stats();
    assert_eq!(stats.spans_exported as usize, received, "{stats:?}");
    assert!(stats.logs_exported > 0, "{stats:?}");
    tracer.shutdown(WAIT).unwrap();
}
