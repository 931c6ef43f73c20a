//! The ingest world (issue 15, item 2) with the hostile test component as the ingest
//! component: what each verdict does to received spans, and that a failing or lying component
//! loses no span (every one passes on as it came, marked `agentrace.ingest.failed`, counted).

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
        error.contains("this role needs an export `agentrace:plugin/ingest@0.2.3`"),
        "{error}"
    );
}
