//! The trace-aware policies in the pipeline: `sample` keeps every failed trace of a generated
//! workload at a 1 % ratio and decides each trace whole, token totals stay complete, `cost`
//! prices the AG2 example and the every-operation events from a table and counts unknown
//! models, `propagate` reaches every span, and the trace hold keeps its bound and its wait.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use agentrace::opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use agentrace::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use agentrace::{BuiltinPolicy, ExportTarget, Policy, TraceHoldLimits, Tracer, events};
use opentelemetry::Value;

use crate::common::{WAIT, ag2_example, attr, repo, run_lines};

/// Traces in the generated workload.
const TRACES: u64 = 10_000;

/// One trace of the workload: an agent turn with a model call under it, failed on every
/// hundredth trace. Trace ids spread over the 64-bit range the ratio reads.
fn workload() -> (String, u64, u64) {
    let (mut lines, mut input, mut output) = (String::new(), 0, 0);
    for n in 1..=TRACES {
        let trace = format!("{:016x}{:016x}", n, n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (root, call) = (2 * n, 2 * n + 1);
        let (tokens_in, tokens_out) = (100 + n % 50, 10 + n % 7);
        input += tokens_in;
        output += tokens_out;
        let error = if n % 100 == 0 {
            r#", "error": {"type": "RateLimitError", "message": "429"}"#
        } else {
            ""
        };
        lines.push_str(&format!(
            concat!(
                r#"{{"type": "start", "span_id": "{root:016x}", "trace_id": "{trace}", "operation": "invoke_agent", "time": 1000, "fields": {{"agent": {{"name": "planner"}}}}}}"#,
                "\n",
                r#"{{"type": "start", "span_id": "{call:016x}", "parent_span_id": "{root:016x}", "operation": "chat", "time": 2000, "fields": {{"provider": "openai", "request": {{"model": "gpt-4o-mini"}}}}}}"#,
                "\n",
                r#"{{"type": "end", "span_id": "{call:016x}", "time": 3000, "fields": {{"usage": {{"input_tokens": {tokens_in}, "output_tokens": {tokens_out}}}{error}}}}}"#,
                "\n",
                r#"{{"type": "end", "span_id": "{root:016x}", "time": 4000}}"#,
                "\n"
            ),
            root = root,
            call = call,
            trace = trace,
            tokens_in = tokens_in,
            tokens_out = tokens_out,
            error = error
        ));
    }
    (lines, input, output)
}

fn trace_hex(span: &SpanData) -> String {
    span.span_context.trace_id().to_string()
}

fn is_error(span: &SpanData) -> bool {
    matches!(span.status, opentelemetry::trace::Status::Error { .. })
}

fn prices() -> String {
    repo().join("examples/prices.json").display().to_string()
}

#[test]
fn sampling_at_one_percent_keeps_every_failed_trace_whole_and_the_totals_complete() {
    let (lines, input, output) = workload();
    let run = run_lines(&lines, |builder| {
        builder
            .with_policy(Policy::builtin(BuiltinPolicy::Cost).with_config("prices", prices()))
            .with_policy(Policy::builtin(BuiltinPolicy::Sample).with_config("ratio", "0.01"))
    });
    let stats = &run.stats;
    assert_eq!(stats.spans_started, 2 * TRACES, "{stats:?}");
    assert_eq!(stats.spans_accounted(), 2 * TRACES, "{stats:?}");
    assert_eq!(
        (stats.spans_not_held, stats.traces_released_incomplete),
        (0, 0)
    );

    let mut kept: HashMap<String, Vec<&SpanData>> = HashMap::new();
    for span in &run.spans {
        kept.entry(trace_hex(span)).or_default().push(span);
    }
    // Every trace is kept or dropped whole.
    assert!(
        kept.values().all(|spans| spans.len() == 2),
        "a trace was split"
    );
    let failed: HashSet<&String> = kept
        .iter()
        .filter(|(_, spans)| spans.iter().any(|s| is_error(s)))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        failed.len() as u64,
        TRACES / 100,
        "every failed trace is kept"
    );
    // The rest is the share whose id's low 64 bits fall below 1 % of 2^64, the SDKs' rule.
    let bound = (0.01f64 * 18_446_744_073_709_551_616.0).round() as u128;
    let expected: HashSet<String> = (1..=TRACES)
        .filter(|n| n % 100 != 0)
        .filter(|n| u128::from(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) < bound)
        .map(|n| format!("{:016x}{:016x}", n, n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    let by_ratio: HashSet<String> = kept
        .keys()
        .filter(|id| !failed.contains(id))
        .cloned()
        .collect();
    assert_eq!(by_ratio, expected);
    assert!(
        (50..=150).contains(&expected.len()),
        "about 1 % of {TRACES}: {}",
        expected.len()
    );
    for span in &run.spans {
        let probability = attr(span, "agentrace.sampling.probability");
        let want = if failed.contains(&trace_hex(span)) {
            1.0
        } else {
            0.01
        };
        assert_eq!(probability, Some(&Value::F64(want)), "{}", span.name);
    }
    assert_eq!(
        stats.spans_dropped_by_policy,
        2 * (TRACES - TRACES / 100 - expected.len() as u64)
    );

    // Totals from the metrics: every token and the cost of every call, sampled away or not.
    let totals = &stats.totals;
    assert_eq!(totals["gen_ai.client.token.usage[input]"], input as f64);
    assert_eq!(totals["gen_ai.client.token.usage[output]"], output as f64);
    let cost = (input as f64 * 0.15 + output as f64 * 0.60) / 1e6;
    let counted = totals["agentrace.usage.cost[{USD}]"];
    assert!((counted - cost).abs() < 1e-9, "{counted} vs {cost}");
}

/// Cost of a model-call span computed here from its token attributes and the example table.
fn expected_cost(span: &SpanData, table: &serde_json::Value) -> Option<f64> {
    let text = |key| match attr(span, key) {
        Some(Value::String(s)) => Some(s.as_str().to_string()),
        _ => None,
    };
    let tokens = |key| match attr(span, key) {
        Some(Value::I64(n)) => *n as f64,
        _ => 0.0,
    };
    let provider = text("gen_ai.provider.name")?;
    let model = text("gen_ai.response.model").or_else(|| text("gen_ai.request.model"))?;
    let price = table["models"].as_array()?.iter().find(|p| {
        p["provider"] == provider.as_str()
            && (p["model"] == model.as_str()
                || model.starts_with(&format!("{}-", p["model"].as_str().unwrap())))
    })?;
    let rate = |key: &str, or: &str| price[key].as_f64().or(price[or].as_f64()).unwrap();
    let (cached, written) = (
        tokens("gen_ai.usage.cache_read.input_tokens"),
        tokens("gen_ai.usage.cache_creation.input_tokens"),
    );
    let reasoning = tokens("gen_ai.usage.reasoning.output_tokens");
    Some(
        ((tokens("gen_ai.usage.input_tokens") - cached - written) * rate("input", "input")
            + cached * rate("cache-read", "input")
            + written * rate("cache-write", "input")
            + (tokens("gen_ai.usage.output_tokens") - reasoning) * rate("output", "output")
            + reasoning * rate("reasoning", "output"))
            / 1e6,
    )
}

#[test]
fn cost_prices_the_ag2_example_and_every_operation_and_counts_unknown_models() {
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prices()).unwrap()).unwrap();
    let operations =
        std::fs::read_to_string(repo().join("tests/conformance/sources/operations.jsonl")).unwrap();
    for (name, lines) in [("ag2", ag2_example()), ("operations", operations)] {
        let run = run_lines(&lines, |builder| {
            builder
                .with_policy(Policy::builtin(BuiltinPolicy::Cost).with_config("prices", prices()))
        });
        let (mut priced, mut unpriced, mut sum) = (0, 0, 0.0);
        for span in &run.spans {
            let operation = attr(span, "gen_ai.operation.name").map(|v| v.as_str().to_string());
            let is_call = matches!(
                operation.as_deref(),
                Some("chat" | "text_completion" | "generate_content" | "embeddings")
            ) && attr(span, "gen_ai.usage.input_tokens").is_some();
            if !is_call {
                continue;
            }
            match expected_cost(span, &table) {
                Some(cost) => {
                    priced += 1;
                    sum += cost;
                    let Some(Value::F64(got)) = attr(span, "agentrace.usage.cost") else {
                        panic!("{name}: {} has no cost", span.name);
                    };
                    assert!((got - cost).abs() < 1e-12, "{name}: {}", span.name);
                }
                None => unpriced += 1,
            }
        }
        let totals = &run.stats.totals;
        let unpriced_counted = totals
            .get("agentrace.cost.unpriced_calls[{call}]")
            .copied()
            .unwrap_or(0.0);
        assert_eq!(unpriced_counted, f64::from(unpriced), "{name}: {totals:?}");
        let counted = totals
            .get("agentrace.usage.cost[{USD}]")
            .copied()
            .unwrap_or(0.0);
        assert!((counted - sum).abs() < 1e-12, "{name}: {counted} vs {sum}");
        match name {
            // gpt-4o-mini (dated response models) and claude-sonnet-4-5 are in the table.
            "ag2" => assert_eq!((priced, unpriced), (6, 0)),
            // text_completion, generate_content and embeddings calls with token usage, on
            // models the example table lacks: counted, not guessed.
            _ => assert_eq!((priced, unpriced), (0, 3)),
        }
        // The cost counter is exported with the metrics, by provider and model.
        let counter = run
            .metrics
            .iter()
            .flat_map(|r| r.scope_metrics())
            .flat_map(|s| s.metrics())
            .find(|m| m.name() == "agentrace.usage.cost");
        if name == "ag2" {
            let counter = counter.expect("cost counter exported");
            let AggregatedMetrics::F64(MetricData::Sum(sum_data)) = counter.data() else {
                panic!("cost is a sum");
            };
            let models: BTreeMap<String, f64> = sum_data
                .data_points()
                .map(|p| {
                    let model = p
                        .attributes()
                        .find(|kv| kv.key.as_str() == "gen_ai.response.model")
                        .map(|kv| kv.value.to_string())
                        .unwrap_or_default();
                    (model, p.value())
                })
                .collect();
            assert_eq!(
                models.keys().cloned().collect::<Vec<_>>(),
                ["claude-sonnet-4-5", "gpt-4o-mini-2024-07-18"]
            );
        }
    }
}

#[test]
fn propagate_gives_the_conversation_id_to_every_span_of_the_ag2_example() {
    // `cost` after `propagate` runs on the held, whole traces: once per span, so its counter
    // equals the costs on the exported spans (each policy runs once per span, held or not).
    let run = run_lines(&ag2_example(), |builder| {
        builder
            .with_policy(Policy::builtin(BuiltinPolicy::Propagate))
            .with_policy(Policy::builtin(BuiltinPolicy::Cost).with_config("prices", prices()))
    });
    assert_eq!(run.stats.spans_exported, 33);
    let on_spans: f64 = run
        .spans
        .iter()
        .filter(|s| attr(s, "agentrace.usage.cost.currency").is_some())
        .map(|s| match attr(s, "agentrace.usage.cost") {
            Some(Value::F64(cost)) => *cost,
            other => panic!("{other:?}"),
        })
        .sum();
    let counted = run.stats.totals["agentrace.usage.cost[{USD}]"];
    assert!(
        on_spans > 0.0 && (counted - on_spans).abs() < 1e-12,
        "{counted} vs {on_spans}"
    );
    let without: Vec<&str> = run
        .spans
        .iter()
        .filter(|s| attr(s, "gen_ai.conversation.id").is_none())
        .map(|s| s.name.as_ref())
        .collect();
    assert!(without.is_empty(), "no conversation id on {without:?}");
}

/// A tracer exporting to memory with the hold limits given, and `sample` keeping everything
/// (so that only the hold decides when spans come out).
fn holding_tracer(limits: TraceHoldLimits) -> (Tracer, InMemorySpanExporter) {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .with_block_when_full(true)
        .with_trace_hold(limits)
        .with_policy(Policy::builtin(BuiltinPolicy::Sample))
        .build()
        .unwrap();
    (tracer, spans)
}

fn report(tracer: &Tracer, line: String) {
    tracer.report(events::decode_line(&line).unwrap().unwrap());
}

#[test]
fn the_hold_keeps_its_bound_with_100_000_open_traces_and_loses_nothing() {
    const OPEN: u64 = 100_000;
    const BOUND: usize = 10_000;
    let (tracer, spans) = holding_tracer(TraceHoldLimits {
        wait: Duration::from_secs(600),
        max_spans: BOUND,
    });
    for n in 1..=OPEN {
        report(
            &tracer,
            format!(
                r#"{{"type": "start", "span_id": "{:016x}", "trace_id": "{n:032x}", "operation": "invoke_agent", "time": 1}}"#,
                2 * n
            ),
        );
        report(
            &tracer,
            format!(
                r#"{{"type": "start", "span_id": "{:016x}", "parent_span_id": "{:016x}", "operation": "execute_tool", "time": 2, "fields": {{"tool": {{"name": "lookup"}}}}}}"#,
                2 * n + 1,
                2 * n
            ),
        );
        report(
            &tracer,
            format!(
                r#"{{"type": "end", "span_id": "{:016x}", "time": 3}}"#,
                2 * n + 1
            ),
        );
    }
    // Let the worker take every event without a flush, which would release the hold.
    let deadline = Instant::now() + WAIT;
    while tracer.stats().spans_ended < OPEN && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let stats = tracer.stats();
    assert_eq!(stats.spans_ended, OPEN);
    // The first BOUND children are held (their roots are open); the rest skipped the
    // whole-trace policy and were exported, counted.
    assert_eq!(stats.spans_not_held, OPEN - BOUND as u64, "{stats:?}");
    assert_eq!(stats.spans_exported, OPEN - BOUND as u64, "{stats:?}");
    tracer.shutdown(WAIT).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_exported, 2 * OPEN, "{stats:?}");
    assert_eq!(spans.get_finished_spans().unwrap().len() as u64, 2 * OPEN);
}

#[test]
fn a_parent_based_sample_follows_the_callers_sampled_flag_and_keeps_failures() {
    // Three requests from other services: sampled, not sampled, not sampled but failing.
    let request = |n: u32, flags: &str, error: &str| {
        format!(
            concat!(
                r#"{{"type": "start", "span_id": "{n:016x}", "traceparent": "00-{n:032x}-00f067aa0ba902b7-{flags}", "operation": "invoke_agent", "time": 1}}"#,
                "\n",
                r#"{{"type": "end", "span_id": "{n:016x}", "time": 2{error}}}"#,
                "\n"
            ),
            n = n,
            flags = flags,
            error = error
        )
    };
    let failure = r#", "fields": {"error": {"type": "Timeout", "message": "late"}}"#;
    let lines = request(1, "01", "") + &request(2, "00", "") + &request(3, "00", failure);
    let run = run_lines(&lines, |builder| {
        builder.with_policy(Policy::builtin(BuiltinPolicy::Sample).with_config("ratio", "0"))
    });
    let kept: BTreeMap<String, Option<&Value>> = run
        .spans
        .iter()
        .map(|s| (trace_hex(s), attr(s, "agentrace.sampling.reason")))
        .collect();
    let reason = |r: &'static str| Some(Value::String(r.into()));
    assert_eq!(
        kept.into_iter()
            .map(|(trace, why)| (trace, why.cloned()))
            .collect::<Vec<_>>(),
        vec![
            (format!("{:032x}", 1), reason("parent")),
            (format!("{:032x}", 3), reason("error")),
        ]
    );
}

/// Starts a trace whose root stays open, with one tool call under it that has ended.
fn open_root_with_ended_tool(tracer: &Tracer, tool: &str) {
    report(tracer, r#"{"type": "start", "span_id": "0000000000000001", "trace_id": "000000000000000000000000000000aa", "operation": "invoke_agent", "time": 1}"#.to_string());
    report(
        tracer,
        format!(
            r#"{{"type": "start", "span_id": "0000000000000002", "parent_span_id": "0000000000000001", "operation": "execute_tool", "time": 2, "fields": {{"tool": {{"name": "{tool}"}}}}}}"#
        ),
    );
    report(
        tracer,
        r#"{"type": "end", "span_id": "0000000000000002", "time": 3}"#.to_string(),
    );
}

#[test]
fn a_trace_whose_root_never_ends_is_released_after_the_wait() {
    let (tracer, spans) = holding_tracer(TraceHoldLimits {
        wait: Duration::from_millis(300),
        max_spans: 1000,
    });
    open_root_with_ended_tool(&tracer, "lookup");
    let deadline = Instant::now() + WAIT;
    while spans.get_finished_spans().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let exported = spans.get_finished_spans().unwrap();
    assert_eq!(
        exported.len(),
        1,
        "the child comes out after the wait, root still open"
    );
    assert_eq!(tracer.stats().traces_released_incomplete, 1);
    tracer.shutdown(WAIT).unwrap();
}

#[test]
fn under_a_steady_load_a_held_trace_still_comes_out_after_the_wait() {
    let (tracer, spans) = holding_tracer(TraceHoldLimits {
        wait: Duration::from_millis(200),
        max_spans: 100_000,
    });
    open_root_with_ended_tool(&tracer, "stuck");
    // Complete traces keep arriving, faster than the worker maps them, so its queue is never
    // empty for a flush interval.
    let began = Instant::now();
    let stuck_out = |spans: &InMemorySpanExporter| {
        spans
            .get_finished_spans()
            .unwrap()
            .iter()
            .any(|s| attr(s, "gen_ai.tool.name").is_some_and(|v| v.as_str() == "stuck"))
    };
    let mut n = 16u64;
    while !stuck_out(&spans) && began.elapsed() < Duration::from_secs(30) {
        for _ in 0..200 {
            n += 1;
            report(
                &tracer,
                format!(
                    r#"{{"type": "start", "span_id": "{n:016x}", "trace_id": "{n:032x}", "operation": "invoke_agent", "time": 1}}"#
                ),
            );
            report(
                &tracer,
                format!(r#"{{"type": "end", "span_id": "{n:016x}", "time": 2}}"#),
            );
        }
    }
    assert!(
        stuck_out(&spans),
        "the held span is out while the load goes on"
    );
    assert!(began.elapsed() < Duration::from_secs(20));
    assert_eq!(tracer.stats().traces_released_incomplete, 1);
    tracer.shutdown(WAIT).unwrap();
}
