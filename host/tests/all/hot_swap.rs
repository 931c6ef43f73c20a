//! Replacing components at run time: atomic between batches, nothing lost or mapped twice, and
//! a bad replacement refused while the old component keeps working.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use agentrace::opentelemetry_sdk::trace::InMemorySpanExporter;
use agentrace::{
    AgentInfo, BuiltinMapper, BuiltinPolicy, ExportTarget, Operation, Policy, SpanFields, SpanId,
    Tracer,
};

use crate::common::WAIT;

fn tracer(spans: &InMemorySpanExporter) -> Arc<Tracer> {
    Arc::new(
        Tracer::builder()
            .with_export(ExportTarget::InMemory {
                spans: spans.clone(),
                metrics: Default::default(),
                logs: Default::default(),
            })
            .with_block_when_full(true)
            .build()
            .unwrap(),
    )
}

fn agent_turn(tracer: &Tracer) -> SpanId {
    let fields = SpanFields {
        agent: Some(Box::new(AgentInfo::named("worker"))),
        ..Default::default()
    };
    let span = tracer.start(Operation::InvokeAgent, None, fields);
    tracer.end(&span, SpanFields::default());
    span.span_id
}

#[test]
fn the_two_shipped_mappers_and_a_policy_chain_swapped_under_load_lose_and_duplicate_nothing() {
    let spans = InMemorySpanExporter::default();
    let tracer = tracer(&spans);
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..3)
        .map(|_| {
            let (tracer, stop) = (tracer.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut ended = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    agent_turn(&tracer);
                    ended += 1;
                }
                ended
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // Spans that ended before the call go through one mapper or the other (the new one when
    // they were still queued): exactly once either way, checked below.
    let before: Vec<SpanId> = (0..50).map(|_| agent_turn(&tracer)).collect();
    // From the GenAI mapper to the OpenInference one, both as shipped.
    tracer
        .swap_mapper(BuiltinMapper::OpenInference.component(), WAIT)
        .unwrap();
    let after: Vec<SpanId> = (0..50).map(|_| agent_turn(&tracer)).collect();
    // A policy chain swapped in under the same load: every span still comes out once.
    tracer
        .swap_policies(
            &[
                Policy::builtin(BuiltinPolicy::Truncate),
                Policy::builtin(BuiltinPolicy::Redact),
            ],
            WAIT,
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let produced: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
    tracer.shutdown(WAIT).unwrap();

    let exported = spans.get_finished_spans().unwrap();
    let stats = tracer.stats();
    let total = produced + 100;
    assert_eq!(stats.spans_started, total);
    assert_eq!(stats.spans_exported, total, "{stats:?}");
    assert_eq!(exported.len() as u64, total);
    // Which mapper mapped each span: the OpenInference one writes its span kind.
    let conventions: HashMap<SpanId, &str> = exported
        .iter()
        .map(|s| {
            let openinference = s.attributes.iter().any(|kv| {
                kv.key.as_str() == "openinference.span.kind" && kv.value.as_str() == "AGENT"
            });
            assert_eq!(s.name, "invoke_agent worker");
            (
                SpanId(u64::from_be_bytes(s.span_context.span_id().to_bytes())),
                if openinference {
                    "openinference"
                } else {
                    "genai"
                },
            )
        })
        .collect();
    assert_eq!(conventions.len() as u64, total, "a span was exported twice");
    assert!(before.iter().all(|id| conventions.contains_key(id)));
    // Spans ended after the call returned all go through the new mapper.
    assert!(after.iter().all(|id| conventions[id] == "openinference"));
    assert!(
        conventions.values().any(|c| *c == "genai"),
        "the old mapper mapped nothing"
    );
    assert_eq!(stats.component_reloads, 2);
    assert_eq!(stats.policy_failures, 0);
    assert_eq!(stats.spans_fallback_mapped, 0);
}

#[test]
fn a_bad_replacement_is_refused_and_the_old_mapper_keeps_running() {
    let spans = InMemorySpanExporter::default();
    let tracer = tracer(&spans);
    let error = tracer
        .swap_mapper(b"not wasm", WAIT)
        .unwrap_err()
        .to_string();
    assert!(error.contains("component header"), "{error}");
    let error = tracer
        .swap_mapper(agentrace::builtin_policies_component(), WAIT)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("needs an export `agentrace:plugin/mapper@0.2.5`"),
        "{error}"
    );
    agent_turn(&tracer);
    tracer.shutdown(WAIT).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.component_reload_failures, 2);
    assert_eq!(stats.component_reloads, 0);
    assert_eq!(
        spans.get_finished_spans().unwrap()[0].name,
        "invoke_agent worker"
    );
}

#[test]
fn policies_can_be_added_at_run_time() {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .with_capture_content(true)
        .build()
        .unwrap();
    let tool = |secret: &str| {
        let fields = SpanFields {
            tool: Some(Box::new(agentrace::ToolCall {
                name: Some("lookup".into()),
                arguments: Some(serde_json::json!({"email": secret})),
                ..Default::default()
            })),
            ..Default::default()
        };
        let span = tracer.start(Operation::ExecuteTool, None, fields);
        tracer.end(&span, SpanFields::default());
    };
    tool("before@example.com");
    tracer
        .swap_policies(&[Policy::builtin(BuiltinPolicy::Redact)], WAIT)
        .unwrap();
    tool("after@example.com");
    tracer.shutdown(WAIT).unwrap();
    let arguments: Vec<String> = spans
        .get_finished_spans()
        .unwrap()
        .iter()
        .map(|s| {
            crate::common::attr(s, "gen_ai.tool.call.arguments")
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        arguments,
        [
            r#"{"email":"before@example.com"}"#,
            r#"{"email":"[REDACTED:email]"}"#
        ]
    );
}
