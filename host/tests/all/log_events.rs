//! GenAI events on the logs signal: what the shipped mapper emits with each capture setting,
//! that they belong to their spans, that policies cover them, and that every record conforms to
//! `model/events.yaml` of the GenAI semconv v1.41 copy (names, required attributes, allowed
//! attributes and their types from `registry.yaml`).

use std::collections::{BTreeMap, BTreeSet};

use agentrace::opentelemetry_sdk::logs::in_memory_exporter::LogDataWithResource;
use opentelemetry::logs::{AnyValue, Severity};

use crate::common::{Run, ag2_example, run_lines, semconv_dir};

const DETAILS: &str = "gen_ai.client.inference.operation.details";
const EVALUATION: &str = "gen_ai.evaluation.result";
const EXCEPTION: &str = "gen_ai.client.operation.exception";

/// The AG2 example with two evaluations of its first model call (span 1005) reported while it
/// is open: one complete, one without the required name (which stays on the span).
fn example_with_evaluations() -> String {
    let mut lines = Vec::new();
    for line in ag2_example().lines() {
        if line.contains(r#""type": "end", "span_id": "0000000000001005""#) {
            lines.push(
                r#"{"type": "event", "span_id": "0000000000001005", "name": "gen_ai.evaluation.result", "time": 1764000000000400000, "attributes": {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.9, "gen_ai.evaluation.score.label": "relevant", "gen_ai.evaluation.explanation": "answers the question"}}"#
                    .to_string(),
            );
            lines.push(
                r#"{"type": "event", "span_id": "0000000000001005", "name": "gen_ai.evaluation.result", "time": 1764000000000410000, "attributes": {"gen_ai.evaluation.score.value": 0.1}}"#
                    .to_string(),
            );
        }
        lines.push(line.to_string());
    }
    lines.join("\n")
}

fn name(log: &LogDataWithResource) -> &str {
    log.record.event_name().unwrap_or_default()
}

fn attribute<'a>(log: &'a LogDataWithResource, key: &str) -> Option<&'a AnyValue> {
    log.record
        .attributes_iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

fn names(run: &Run) -> Vec<&str> {
    run.logs.iter().map(name).collect()
}

fn chat_spans(run: &Run) -> usize {
    run.spans
        .iter()
        .filter(|s| s.name.starts_with("chat "))
        .count()
}

#[test]
fn without_capture_only_evaluations_and_exceptions_are_emitted() {
    let run = run_lines(&example_with_evaluations(), |b| b);
    let names = names(&run);
    assert_eq!(
        names.iter().filter(|n| **n == EVALUATION).count(),
        1,
        "{names:?}"
    );
    assert_eq!(names.iter().filter(|n| **n == EXCEPTION).count(), 1);
    assert!(!names.contains(&DETAILS), "the details event is opt-in");
    assert_eq!(run.stats.logs_exported, 2);
    assert_eq!(run.stats.logs_dropped, 0);

    // Each record belongs to its span, in the span's trace.
    for log in &run.logs {
        let context = log.record.trace_context().expect("parented to a span");
        let span = run
            .spans
            .iter()
            .find(|s| s.span_context.span_id() == context.span_id)
            .expect("its span was exported");
        assert_eq!(span.span_context.trace_id(), context.trace_id);
    }

    let evaluation = run.logs.iter().find(|l| name(l) == EVALUATION).unwrap();
    assert_eq!(
        attribute(evaluation, "gen_ai.evaluation.name"),
        Some(&AnyValue::String("relevance".into()))
    );
    assert_eq!(
        attribute(evaluation, "gen_ai.evaluation.score.value"),
        Some(&AnyValue::Double(0.9))
    );
    let evaluated = run
        .spans
        .iter()
        .find(|s| s.span_context.span_id() == evaluation.record.trace_context().unwrap().span_id)
        .unwrap();
    let kept: Vec<&str> = evaluated.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(
        kept,
        vec![EVALUATION],
        "the evaluation without a name stays on the span; the complete one left it"
    );

    let exception = run.logs.iter().find(|l| name(l) == EXCEPTION).unwrap();
    assert_eq!(exception.record.severity_number(), Some(Severity::Warn));
    assert_eq!(
        attribute(exception, "exception.type"),
        Some(&AnyValue::String("RateLimitError".into()))
    );
    let failed = run
        .spans
        .iter()
        .find(|s| s.span_context.span_id() == exception.record.trace_context().unwrap().span_id)
        .unwrap();
    let event = failed
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("the failed span records the standard exception event");
    assert!(
        event
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "exception.message"
                && kv.value.as_str().starts_with("Rate limit reached"))
    );
}

#[test]
fn event_only_puts_content_in_the_details_event_and_none_on_spans() {
    let run = run_lines(&ag2_example(), |b| b.with_inference_events(true, true));
    let details: Vec<_> = run.logs.iter().filter(|l| name(l) == DETAILS).collect();
    assert_eq!(details.len(), chat_spans(&run), "one per inference call");
    assert!(
        details
            .iter()
            .any(|l| attribute(l, "gen_ai.input.messages").is_some())
    );
    assert!(details.iter().all(|l| {
        attribute(l, "gen_ai.operation.name") == Some(&AnyValue::String("chat".into()))
    }));
    for span in &run.spans {
        assert!(
            span.attributes
                .iter()
                .all(|kv| kv.key.as_str() != "gen_ai.input.messages"),
            "content stays off the spans: {}",
            span.name
        );
    }

    // Emitted without content: the call's attributes only.
    let run = run_lines(&ag2_example(), |b| b.with_inference_events(true, false));
    let details: Vec<_> = run.logs.iter().filter(|l| name(l) == DETAILS).collect();
    assert_eq!(details.len(), chat_spans(&run));
    assert!(
        details
            .iter()
            .all(|l| attribute(l, "gen_ai.input.messages").is_none()
                && attribute(l, "gen_ai.request.model").is_some())
    );
}

#[test]
fn redaction_covers_the_content_in_log_events() {
    let secret = "jane.doe@example.com";
    let lines = ag2_example().replace(
        "Plan a short outdoor team event in Paris",
        &format!("Mail {secret} to plan a short outdoor team event in Paris"),
    );
    assert!(lines.contains(secret));
    let plain = run_lines(&lines, |b| b.with_inference_events(true, true));
    let leaks = |run: &Run| {
        run.logs
            .iter()
            .filter(|l| {
                l.record
                    .attributes_iter()
                    .any(|(_, v)| format!("{v:?}").contains(secret))
            })
            .count()
    };
    assert!(leaks(&plain) > 0, "the test input reaches the log events");
    let redacted = run_lines(&lines, |b| {
        b.with_inference_events(true, true)
            .with_policy(agentrace::Policy::builtin(agentrace::BuiltinPolicy::Redact))
    });
    assert_eq!(redacted.logs.len(), plain.logs.len(), "nothing lost");
    assert_eq!(
        leaks(&redacted),
        0,
        "the redact policy covered the log events"
    );
}

/// A group of the semconv model: its attribute references and requirement levels.
pub(crate) struct Group {
    attributes: Vec<(String, String)>,
    extends: Option<String>,
}

pub(crate) fn model(
    semconv: &std::path::Path,
) -> (BTreeMap<String, Group>, BTreeMap<String, String>) {
    let mut groups = BTreeMap::new();
    let mut types = BTreeMap::new();
    for file in ["registry.yaml", "spans.yaml", "events.yaml"] {
        let text = std::fs::read_to_string(semconv.join("model").join(file)).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        for group in doc["groups"].as_sequence().unwrap() {
            let mut attributes = Vec::new();
            for a in group["attributes"].as_sequence().into_iter().flatten() {
                let key = a["ref"].as_str().or(a["id"].as_str()).unwrap().to_string();
                let level = match &a["requirement_level"] {
                    serde_yaml_ng::Value::String(s) => s.clone(),
                    serde_yaml_ng::Value::Mapping(m) => m
                        .keys()
                        .next()
                        .and_then(|k| k.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    _ => "recommended".to_string(),
                };
                if let Some(ty) = a["type"].as_str() {
                    types.insert(key.clone(), ty.to_string());
                } else if a["type"]["members"].is_sequence() {
                    types.insert(key.clone(), "string".to_string());
                }
                attributes.push((key, level));
            }
            let id = group["id"].as_str().unwrap().to_string();
            let extends = group["extends"].as_str().map(str::to_string);
            if group["type"].as_str() == Some("event") {
                let name = group["name"].as_str().unwrap().to_string();
                groups.insert(
                    format!("event:{name}"),
                    Group {
                        attributes: attributes.clone(),
                        extends: extends.clone(),
                    },
                );
            }
            groups.insert(
                id,
                Group {
                    attributes,
                    extends,
                },
            );
        }
    }
    (groups, types)
}

/// Every attribute of a group with its requirement level, the extended groups' included.
fn attributes_of(groups: &BTreeMap<String, Group>, id: &str) -> Vec<(String, String)> {
    let group = &groups[id];
    let mut all = match &group.extends {
        Some(parent) => attributes_of(groups, parent),
        None => Vec::new(),
    };
    all.extend(group.attributes.iter().cloned());
    all
}

/// The types of the general (non-GenAI) attributes the events reference, which the GenAI copy's
/// registry does not define: `server.*`, `error.type` and `exception.*` of the stable general
/// registry (semconv `model/server`, `model/error`, `model/exceptions`).
fn general_type(key: &str) -> Option<&'static str> {
    match key {
        "server.address"
        | "error.type"
        | "exception.type"
        | "exception.message"
        | "exception.stacktrace" => Some("string"),
        "server.port" => Some("int"),
        _ => None,
    }
}

fn conforms(value: &AnyValue, ty: &str) -> bool {
    match (ty, value) {
        ("string", AnyValue::String(_)) => true,
        ("int", AnyValue::Int(_)) => true,
        ("double", AnyValue::Double(_)) => true,
        ("boolean", AnyValue::Boolean(_)) => true,
        ("string[]", AnyValue::ListAny(items)) => {
            items.iter().all(|i| matches!(i, AnyValue::String(_)))
        }
        // Structured content: a JSON string, as on spans (validated by `schemas.rs`).
        ("any", _) => true,
        _ => false,
    }
}

#[test]
fn every_log_event_conforms_to_the_semconv_events_model() {
    let Some(semconv) =
        semconv_dir("log_events::every_log_event_conforms_to_the_semconv_events_model")
    else {
        return;
    };
    let (groups, types) = model(&semconv);
    let run = run_lines(&example_with_evaluations(), |b| {
        b.with_inference_events(true, true)
    });
    let mut seen = BTreeSet::new();
    for log in &run.logs {
        let event = name(log);
        seen.insert(event.to_string());
        let key = format!("event:{event}");
        assert!(groups.contains_key(&key), "{event} is not a semconv event");
        let allowed = attributes_of(&groups, &key);
        for (attr_key, value) in log.record.attributes_iter() {
            let Some(_) = allowed.iter().find(|(k, _)| k == attr_key.as_str()) else {
                panic!("{event}: `{attr_key}` is not an attribute of the event");
            };
            let ty = types
                .get(attr_key.as_str())
                .map(String::as_str)
                .or_else(|| general_type(attr_key.as_str()))
                .unwrap_or_else(|| panic!("{attr_key} has no type in the registry"));
            assert!(
                conforms(value, ty),
                "{event}: `{attr_key}` = {value:?} is not a {ty}"
            );
        }
        for (required, _) in allowed.iter().filter(|(_, level)| level == "required") {
            assert!(
                attribute(log, required).is_some(),
                "{event}: the required `{required}` is missing"
            );
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from([DETAILS.into(), EVALUATION.into(), EXCEPTION.into()]),
        "the run covers all three events"
    );
}
