//! Several workers (`TracerBuilder::with_workers`) export exactly what one does: the same spans
//! with the same trees, attributes, resources and scopes, the same counts and the same metric
//! totals, for lifecycle events (whose children name only their parent, so the router must send
//! them after it) through trace-aware policies, and for received OTLP through the ingest
//! component. A swap reaches every worker.

use agentrace::opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use agentrace::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use agentrace::{
    BuiltinMapper, BuiltinPolicy, ExportTarget, Operation, OtlpEncoding, Policy, ReceivedTraces,
    StatsSnapshot, Tracer,
};
use opentelemetry::trace::SpanId;

use crate::common::{WAIT, ag2_example, attr, repo, run_lines};

/// Everything an exported span says, in a form that compares whole: ids, parent, name, kind,
/// status, times, attributes, events, links, resource and scope.
fn canonical(spans: &[SpanData]) -> Vec<String> {
    let mut lines: Vec<String> = spans
        .iter()
        .map(|span| {
            let attributes = sorted(&span.attributes);
            let events: Vec<String> = span
                .events
                .iter()
                .map(|event| {
                    let attributes = sorted(&event.attributes);
                    format!("{}@{:?}{attributes:?}", event.name, event.timestamp)
                })
                .collect();
            let links: Vec<String> = span
                .links
                .iter()
                .map(|link| format!("{:?}", link.span_context))
                .collect();
            format!(
                "{} {} <- {} {} {:?} {:?} {:?}..{:?} {attributes:?} {events:?} {links:?} \
                 scope={}/{:?}/{:?} dropped={}",
                span.span_context.trace_id(),
                span.span_context.span_id(),
                span.parent_span_id,
                span.name,
                span.span_kind,
                span.status,
                span.start_time,
                span.end_time,
                span.instrumentation_scope.name(),
                span.instrumentation_scope.version(),
                span.instrumentation_scope.schema_url(),
                span.dropped_attributes_count,
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Attributes as `key=value` texts, sorted.
fn sorted(attributes: &[opentelemetry::KeyValue]) -> Vec<String> {
    let mut texts: Vec<String> = attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    texts.sort();
    texts
}

/// The counters that must not depend on the number of workers.
fn counts(stats: &StatsSnapshot) -> Vec<(&'static str, u64)> {
    vec![
        ("events_queued", stats.events_queued),
        ("events_rejected", stats.events_rejected),
        ("spans_started", stats.spans_started),
        ("spans_ended", stats.spans_ended),
        ("spans_exported", stats.spans_exported),
        ("spans_received", stats.spans_received),
        ("spans_normalised", stats.spans_normalised),
        ("spans_dropped_by_policy", stats.spans_dropped_by_policy),
        ("spans_fallback_mapped", stats.spans_fallback_mapped),
        ("spans_ingest_failed", stats.spans_ingest_failed),
    ]
}

/// The sum of every point of the sum metric `name` in the last export.
fn metric_sum(metrics: &[ResourceMetrics], name: &str) -> Option<f64> {
    let last = metrics.last()?;
    let metric = last
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .find(|m| m.name() == name)?;
    match metric.data() {
        AggregatedMetrics::F64(MetricData::Sum(sum)) => {
            Some(sum.data_points().map(|p| p.value()).sum())
        }
        AggregatedMetrics::U64(MetricData::Sum(sum)) => {
            Some(sum.data_points().map(|p| p.value() as f64).sum())
        }
        _ => None,
    }
}

/// Many small traces (an agent turn over a model call that names only its parent, every tenth
/// failing), and the AG2 example's one large trace.
fn many_traces() -> String {
    let mut lines = ag2_example();
    for n in 1..=600u64 {
        let trace = format!("{:016x}{:016x}", n.wrapping_mul(0x2545_F491_4F6C_DD1D), n);
        let (root, call) = (0x10_0000 + 2 * n, 0x10_0001 + 2 * n);
        let error = if n % 10 == 0 {
            r#", "error": {"type": "RateLimitError", "message": "429 for jane.doe@example.com"}"#
        } else {
            ""
        };
        lines.push_str(&format!(
            concat!(
                r#"{{"type": "start", "span_id": "{root:016x}", "trace_id": "{trace}", "operation": "invoke_agent", "time": 1000, "fields": {{"agent": {{"name": "planner"}}}}}}"#,
                "\n",
                r#"{{"type": "start", "span_id": "{call:016x}", "parent_span_id": "{root:016x}", "operation": "chat", "time": 2000, "fields": {{"provider": "openai", "request": {{"model": "gpt-4o-mini"}}}}}}"#,
                "\n",
                r#"{{"type": "update", "span_id": "{call:016x}", "fields": {{"conversation_id": "c-{n}"}}}}"#,
                "\n",
                r#"{{"type": "end", "span_id": "{call:016x}", "time": 3000, "fields": {{"usage": {{"input_tokens": {input}, "output_tokens": 7}}{error}}}}}"#,
                "\n",
                r#"{{"type": "end", "span_id": "{root:016x}", "time": 4000}}"#,
                "\n"
            ),
            root = root,
            call = call,
            trace = trace,
            n = n,
            input = 100 + n % 50,
            error = error
        ));
    }
    lines
}

#[test]
fn several_workers_export_what_one_does_through_trace_aware_policies() {
    let lines = many_traces();
    let prices = repo().join("examples/prices.json").display().to_string();
    let run = |workers: usize| {
        let prices = prices.clone();
        run_lines(&lines, move |builder| {
            builder
                .with_workers(workers)
                .with_capture_content(true)
                .with_max_batch(64)
                .with_policy(Policy::builtin(BuiltinPolicy::Propagate))
                .with_policy(Policy::builtin(BuiltinPolicy::Cost).with_config("prices", prices))
                .with_policy(Policy::builtin(BuiltinPolicy::Sample).with_config("ratio", "0.5"))
                .with_policy(Policy::builtin(BuiltinPolicy::Redact))
        })
    };
    let one = run(1);
    assert!(one.spans.len() > 300, "{} spans", one.spans.len());
    assert!(
        one.spans.len() < 1_200 + 100,
        "the sample dropped some traces: {}",
        one.spans.len()
    );
    assert_eq!(
        one.stats.events_rejected, 0,
        "{:?}",
        one.stats.recent_errors
    );
    let one_cost = metric_sum(&one.metrics, "agentrace.usage.cost").expect("cost counted");
    for workers in [2, 3] {
        let many = run(workers);
        assert_eq!(
            canonical(&many.spans),
            canonical(&one.spans),
            "{workers} workers"
        );
        assert_eq!(counts(&many.stats), counts(&one.stats), "{workers} workers");
        // The same totals, up to the order the floating-point additions came in.
        assert_eq!(
            many.stats.totals.keys().collect::<Vec<_>>(),
            one.stats.totals.keys().collect::<Vec<_>>()
        );
        for (name, total) in &one.stats.totals {
            let theirs = many.stats.totals[name];
            assert!(
                (theirs - total).abs() <= 1e-9 * total.abs(),
                "{name}: {theirs} against {total}"
            );
        }
        // One set of metrics, exported once at shutdown by the first worker, with every
        // worker's points in it.
        assert_eq!(many.metrics.len(), one.metrics.len(), "{workers} workers");
        let cost = metric_sum(&many.metrics, "agentrace.usage.cost").expect("cost counted");
        assert!((cost - one_cost).abs() < 1e-9, "{cost} against {one_cost}");
        assert_eq!(
            metric_sum(&many.metrics, "agentrace.spans.exported"),
            Some(one.spans.len() as f64)
        );
    }
    // The planted address is gone from every span, whichever worker redacted it.
    assert!(
        !canonical(&one.spans)
            .iter()
            .any(|line| line.contains("jane.doe@example.com"))
    );
}

/// Every captured producer through the default ingest component and `redact`, on `workers`
/// workers.
fn normalise_captures(workers: usize) -> (Vec<SpanData>, StatsSnapshot) {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_workers(workers)
        .with_builtin_ingest()
        .with_capture_content(true)
        .with_policy(Policy::builtin(BuiltinPolicy::Redact))
        .with_block_when_full(true)
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .build()
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(repo().join("tests/fixtures/otlp-in"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7, "{files:?}");
    for path in files {
        // All of a capture's requests in one: each trace's spans then reach one worker in one
        // request, however the request is split.
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let traces = ReceivedTraces::decode(line.as_bytes(), OtlpEncoding::Json).unwrap();
            tracer.receive(traces).unwrap();
        }
    }
    tracer.shutdown(WAIT).unwrap();
    (spans.get_finished_spans().unwrap(), tracer.stats())
}

#[test]
fn received_otlp_through_several_workers_comes_out_as_through_one() {
    let (one, one_stats) = normalise_captures(1);
    let (two, two_stats) = normalise_captures(2);
    assert!(one_stats.spans_normalised > 20, "{one_stats:?}");
    assert_eq!(canonical(&two), canonical(&one));
    assert_eq!(counts(&two_stats), counts(&one_stats));
}

#[test]
fn a_swap_reaches_every_worker_and_counts_once_and_contexts_route_by_trace() {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_workers(2)
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .build()
        .unwrap();
    // The in-process API routes by its contexts' trace ids: a child, its update and both ends
    // reach the worker of their trace.
    let report_traces = |tracer: &Tracer| {
        for _ in 0..20 {
            let root = tracer.start(Operation::InvokeAgent, None, Default::default());
            let tool = tracer.start(Operation::ExecuteTool, &root, Default::default());
            tracer.update(&tool, Default::default());
            tracer.end(&tool, Default::default());
            tracer.end(&root, Default::default());
        }
    };
    report_traces(&tracer);
    tracer.flush(WAIT).unwrap();
    tracer
        .swap_mapper(BuiltinMapper::OpenInference.component(), WAIT)
        .unwrap();
    assert_eq!(tracer.stats().component_reloads, 1);
    spans.reset();
    report_traces(&tracer);
    tracer.shutdown(WAIT).unwrap();
    let after = spans.get_finished_spans().unwrap();
    assert_eq!(after.len(), 40);
    assert_eq!(tracer.stats().events_rejected, 0, "{:?}", tracer.stats());
    for span in after.iter().filter(|s| s.parent_span_id != SpanId::INVALID) {
        let parent = after
            .iter()
            .find(|p| p.span_context.span_id() == span.parent_span_id)
            .expect("the parent was exported");
        assert_eq!(parent.span_context.trace_id(), span.span_context.trace_id());
    }
    // 40 random trace ids reach both workers; each maps with the new mapper.
    for span in &after {
        assert!(
            attr(span, "openinference.span.kind").is_some(),
            "{:?}",
            span.attributes
        );
    }
}
