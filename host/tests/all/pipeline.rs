//! The default mapper component through the real pipeline: hierarchy, kinds, errors, content
//! gating, compatibility names, metrics, bad input, and the library API.

use std::time::Duration;

use agentrace::opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use agentrace::opentelemetry_sdk::trace::InMemorySpanExporter;
use agentrace::{
    AgentInfo, Compat, Error, ExportTarget, Operation, SpanContext, SpanFields, SpanParent, Tracer,
};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, Value};

use crate::common::{WAIT, ag2_example, attr, named, parent, run_lines};

const CONTENT_KEYS: [&str; 12] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.query.text",
    "agentrace.human_input.prompt",
    "agentrace.human_input.response",
    "agentrace.code_execution.code",
    "agentrace.code_execution.output",
    "agentrace.conversation.summary",
    "ag2.human_input.response",
];

#[test]
fn the_ag2_example_keeps_its_hierarchy() {
    let run = run_lines(&ag2_example(), |b| b);
    let spans = &run.spans;
    assert_eq!(spans.len(), 33, "{:?}", run.stats);
    assert_eq!(run.stats.spans_exported, 33);
    assert_eq!(run.stats.events_rejected, 0);
    let trace = spans[0].span_context.trace_id();
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace));

    let root = named(spans, "multi_conversation");
    assert_eq!(root.len(), 1);
    assert!(parent(spans, root[0]).is_none());
    let conversations = named(spans, "conversation user_proxy");
    assert_eq!(conversations.len(), 2);
    for conversation in &conversations {
        assert_eq!(
            parent(spans, conversation).unwrap().name,
            "multi_conversation"
        );
    }
    let manager = named(spans, "invoke_agent chat_manager")[0];
    let selections = named(spans, "speaker_selection");
    assert_eq!(selections.len(), 4);
    for selection in &selections {
        assert_eq!(parent(spans, selection).unwrap().name, manager.name);
    }
    let selected: Vec<_> = selections
        .iter()
        .map(|s| {
            attr(s, "agentrace.speaker_selection.selected")
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(selected, ["planner", "user_proxy", "coder", "executor"]);
    // The selector's own LLM conversation nests under the selection, as in AG2.
    let checking = named(spans, "conversation checking_agent");
    assert_eq!(checking.len(), 3);
    assert!(
        checking
            .iter()
            .all(|c| parent(spans, c).unwrap().name == "speaker_selection")
    );

    let tool = named(spans, "execute_tool get_weather")[0];
    assert_eq!(parent(spans, tool).unwrap().name, "invoke_agent user_proxy");
    assert_eq!(tool.span_kind, SpanKind::Internal);
    let human = named(spans, "human_input user_proxy")[0];
    assert_eq!(
        parent(spans, human).unwrap().name,
        "invoke_agent user_proxy"
    );
    let code = named(spans, "code_execution executor")[0];
    assert_eq!(
        attr(code, "agentrace.code_execution.exit_code"),
        Some(&Value::I64(0))
    );

    let chats = named(spans, "chat gpt-4o-mini");
    assert!(chats.iter().all(|c| c.span_kind == SpanKind::Client));
    let failed: Vec<_> = chats
        .iter()
        .filter(|c| matches!(c.status, Status::Error { .. }))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        attr(failed[0], "error.type"),
        Some(&Value::String("RateLimitError".into()))
    );
    let planner_chat = chats
        .iter()
        .find(|c| parent(spans, c).unwrap().name == "invoke_agent planner")
        .unwrap();
    assert_eq!(
        attr(planner_chat, "gen_ai.response.finish_reasons"),
        Some(&Value::Array(Array::String(vec!["tool_call".into()])))
    );
    assert_eq!(
        attr(planner_chat, "gen_ai.usage.cache_read.input_tokens"),
        Some(&Value::I64(128))
    );

    let anthropic = named(spans, "chat claude-sonnet-4-5")[0];
    assert_eq!(
        attr(anthropic, "gen_ai.provider.name"),
        Some(&Value::String("anthropic".into()))
    );
    assert_eq!(
        attr(anthropic, "gen_ai.request.top_k"),
        Some(&Value::F64(40.0))
    );
    let remote = named(spans, "invoke_agent remote_helper")[0];
    assert_eq!(remote.span_kind, SpanKind::Client);
    assert_eq!(
        attr(remote, "server.address"),
        Some(&Value::String("agents.internal.example".into()))
    );
    assert_eq!(remote.events.len(), 1);
    assert_eq!(
        attr(conversations[0], "gen_ai.conversation.id")
            .or(attr(conversations[1], "gen_ai.conversation.id")),
        Some(&Value::String("chat-7f3a".into()))
    );
    assert!(
        spans.iter().all(|s| s.instrumentation_scope.schema_url()
            == Some("https://opentelemetry.io/schemas/1.41.0"))
    );
}

#[test]
fn content_is_absent_unless_capture_is_enabled() {
    let off = run_lines(&ag2_example(), |b| b.with_capture_content(false));
    for span in &off.spans {
        for key in CONTENT_KEYS {
            assert!(attr(span, key).is_none(), "{} carries {key}", span.name);
        }
    }
    let on = run_lines(&ag2_example(), |b| b.with_capture_content(true));
    let with_content = |key: &str| on.spans.iter().filter(|s| attr(s, key).is_some()).count();
    // 7 chats and the group-chat conversation carry input messages.
    assert_eq!(with_content("gen_ai.input.messages"), 8);
    assert_eq!(with_content("gen_ai.tool.call.result"), 1);
    assert_eq!(with_content("agentrace.human_input.response"), 1);
    assert_eq!(with_content("agentrace.code_execution.output"), 1);
}

#[test]
fn ag2_compatibility_reproduces_ag2_names() {
    let run = run_lines(&ag2_example(), |b| b.with_compat(Compat::Ag2));
    let names: Vec<&str> = run.spans.iter().map(|s| s.name.as_ref()).collect();
    for expected in [
        "agent.initiate_chats",
        "conversation user_proxy",
        "speaker_selection",
        "await_human_input user_proxy",
        "execute_code executor",
        "invoke_agent chat_manager",
        "chat gpt-4o-mini",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let root = named(&run.spans, "agent.initiate_chats")[0];
    assert_eq!(attr(root, "ag2.chats.count"), Some(&Value::I64(2)));
    assert_eq!(
        attr(root, "ag2.span.type"),
        Some(&Value::String("multi_conversation".into()))
    );
    let remote = named(&run.spans, "invoke_agent remote_helper")[0];
    assert_eq!(
        attr(remote, "gen_ai.agent.remote"),
        Some(&Value::Bool(true))
    );
    assert!(run.spans.iter().all(|s| attr(s, "ag2.span.type").is_some()));
}

#[test]
fn metrics_follow_the_spec_instruments() {
    let run = run_lines(&ag2_example(), |b| b);
    let mut seen = Vec::new();
    for resource in &run.metrics {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                if !metric.name().starts_with("gen_ai.") {
                    continue;
                }
                let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
                    panic!("{} is not an f64 histogram", metric.name());
                };
                let point = histogram.data_points().next().unwrap();
                seen.push((
                    metric.name().to_string(),
                    metric.unit().to_string(),
                    point.bounds().next(),
                    histogram.data_points().map(|p| p.count()).sum::<u64>(),
                ));
            }
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    // The pipeline reports on itself too.
    let own: Vec<&str> = run
        .metrics
        .iter()
        .flat_map(|r| r.scope_metrics())
        .flat_map(|s| s.metrics())
        .map(|m| m.name())
        .filter(|n| n.starts_with("agentrace."))
        .collect();
    for name in [
        "agentrace.spans.exported",
        "agentrace.component.calls",
        "agentrace.batch.duration",
    ] {
        assert!(own.contains(&name), "{name} missing from {own:?}");
    }
    // 7 chats and 1 remote agent call are client operations -> 8 durations; the 6 chats that
    // succeeded report usage -> 6 input and 6 output token points.
    assert_eq!(
        seen,
        [
            (
                "gen_ai.client.operation.duration".into(),
                "s".into(),
                Some(0.01),
                8
            ),
            (
                "gen_ai.client.token.usage".into(),
                "{token}".into(),
                Some(1.0),
                12
            ),
        ]
    );
}

#[test]
fn inconsistent_events_are_rejected_with_reasons_and_valid_spans_still_flow() {
    let lines = r#"
{"type":"start","span_id":"0000000000000001","operation":"invoke_agent","time":10,"fields":{"agent":{"name":"ok"}}}
{"type":"end","span_id":"0000000000000002","time":11}
{"type":"start","span_id":"0000000000000001","operation":"chat","time":12}
{"type":"start","span_id":"0000000000000003","parent_span_id":"00000000000000ff","operation":"chat","time":12}
{"type":"end","span_id":"0000000000000001","time":20}
{"type":"update","span_id":"0000000000000001","fields":{"conversation_id":"late"}}
{"type":"end","span_id":"0000000000000001","time":21}
{"type":"start","span_id":"0000000000000004","parent_span_id":"0000000000000001","operation":"chat","time":22,"fields":{"request":{"model":"m"}}}
{"type":"end","span_id":"0000000000000004","time":19}
"#;
    let run = run_lines(lines, |b| b);
    assert_eq!(
        run.stats.events_rejected, 5,
        "{:?}",
        run.stats.recent_errors
    );
    let errors = run.stats.recent_errors.join("\n");
    for expected in [
        "end: span 0000000000000002 was never started",
        "start: span 0000000000000001 was already started",
        "parent 00000000000000ff of span 0000000000000003 is unknown",
        "update: span 0000000000000001 has already ended",
        "end: span 0000000000000001 has already ended",
        "mapper rejected span 0000000000000004: end time 19 is before start time 22",
    ] {
        assert!(
            errors.contains(expected),
            "missing `{expected}` in:\n{errors}"
        );
    }
    assert_eq!(run.stats.spans_rejected_by_mapper, 1);
    assert_eq!(run.spans.len(), 1);
    assert_eq!(run.spans[0].name, "invoke_agent ok");
}

#[test]
fn the_library_api_links_spans_and_ends_open_ones_at_shutdown() {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .build()
        .unwrap();
    let agent = |name: &str| SpanFields {
        agent: Some(Box::new(AgentInfo::named(name))),
        ..Default::default()
    };
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let server = tracer.start(
        Operation::InvokeAgent,
        SpanParent::Remote(SpanContext::from_traceparent(incoming).unwrap()),
        agent("served"),
    );
    assert_eq!(
        server.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let child = tracer.start(Operation::HumanInput, Some(&server), agent("served"));
    assert!(
        child
            .traceparent()
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    );
    tracer.update(
        &server,
        SpanFields {
            conversation_id: Some("conv-1".into()),
            ..Default::default()
        },
    );
    tracer.event(&server, "handoff.requested", Default::default());
    tracer.end(&child, SpanFields::default());
    tracer.flush(WAIT).unwrap();
    assert_eq!(spans.get_finished_spans().unwrap().len(), 1);
    // `server` is never ended by the runtime: shutdown ends it, marked incomplete.
    tracer.shutdown(WAIT).unwrap();
    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(finished.len(), 2);
    let served = finished
        .iter()
        .find(|s| s.name == "invoke_agent served")
        .unwrap();
    assert!(served.parent_span_is_remote);
    assert_eq!(served.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(
        attr(served, "agentrace.span.incomplete"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        attr(served, "gen_ai.conversation.id"),
        Some(&Value::String("conv-1".into()))
    );
    assert_eq!(served.events.len(), 1);
    assert_eq!(tracer.stats().spans_ended_incomplete, 1);
    assert!(matches!(tracer.shutdown(WAIT), Err(Error::ShutDown)));
    // Reporting after shutdown is a no-op, not a panic.
    tracer.end(&child, SpanFields::default());
}

#[test]
fn a_mapper_loaded_from_a_file_replaces_the_embedded_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapper.wasm");
    std::fs::write(&path, agentrace::default_mapper_component()).unwrap();
    let run = run_lines(&ag2_example(), |b| {
        b.with_mapper_file(&path).with_compat(Compat::Ag2)
    });
    assert_eq!(run.spans.len(), 33);
    assert_eq!(named(&run.spans, "agent.initiate_chats").len(), 1);
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let tracer = Tracer::builder()
        .with_export(ExportTarget::None)
        .with_queue_capacity(4)
        .with_flush_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut dropped = 0;
    for _ in 0..10_000 {
        let span = tracer.start(Operation::Chat, None, SpanFields::default());
        if !tracer.report(agentrace::Lifecycle::End {
            span_id: span.span_id,
            time: agentrace::events::now_nanos(),
            fields: Box::default(),
        }) {
            dropped += 1;
        }
    }
    tracer.shutdown(WAIT).unwrap();
    let stats = tracer.stats();
    assert!(stats.events_dropped_queue_full > 0);
    assert!(dropped > 0);
    assert_eq!(
        stats.events_queued + stats.events_dropped_queue_full,
        20_000
    );
}

#[test]
fn bad_configuration_and_components_fail_at_build_with_the_reason() {
    let err = Tracer::builder()
        .with_export(ExportTarget::None)
        .with_config("compat", "otel")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config `compat`: expected `semconv` or `ag2`, got `otel`"),
        "{err}"
    );
    let err = Tracer::builder()
        .with_mapper_file("/nonexistent/mapper.wasm")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read component /nonexistent/mapper.wasm"),
        "{err}"
    );
    let err = Tracer::builder()
        .with_mapper_bytes(b"\0asm\x01\0\0\0".to_vec())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("core WebAssembly module, not a component"),
        "{err}"
    );
    // A component built against another version of the package (here the one before the
    // policy verdicts) is named as such.
    let other_version = wat::parse_str(
        r#"(component
            (instance $mapper)
            (export "agentrace:plugin/mapper@0.1.0" (instance $mapper)))"#,
    )
    .unwrap();
    let err = Tracer::builder()
        .with_mapper_bytes(other_version)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("built for agentrace:plugin@0.1.0; this host speaks agentrace:plugin@0.2.5"),
        "{err}"
    );
    // An empty component is valid WebAssembly but implements no agentrace world.
    let err = Tracer::builder()
        .with_mapper_bytes(b"\0asm\x0d\0\x01\0".to_vec())
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("implements no agentrace world"), "{err}");
}

#[test]
fn chunk_events_of_a_streamed_chat_become_the_streaming_metrics_and_leave_the_span() {
    // A streamed chat starting at 1 s: 200 chunks, the first at 1.3 s, then one every 10 ms;
    // more chunk events than the span's event limit (128), and one ordinary event.
    let start = r#"{"type":"start","span_id":"00000000000000c1","operation":"chat","time":1000000000,"fields":{"provider":"openai","request":{"model":"gpt-4o-mini","stream":true}}}"#;
    let mut lines = vec![start.to_string()];
    for chunk in 0..200u64 {
        let time = 1_300_000_000 + chunk * 10_000_000;
        lines.push(format!(
            r#"{{"type":"event","span_id":"00000000000000c1","name":"agentrace.chunk","time":{time}}}"#
        ));
    }
    lines.push(
        r#"{"type":"event","span_id":"00000000000000c1","name":"retry","time":1100000000}"#.into(),
    );
    lines.push(r#"{"type":"end","span_id":"00000000000000c1","time":4000000000}"#.into());
    let run = run_lines(&lines.join("\n"), |b| b);

    let span = &run.spans[0];
    let names: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["retry"], "chunk events stay off the span");
    let mut histograms = std::collections::BTreeMap::new();
    for metric in run
        .metrics
        .iter()
        .flat_map(|r| r.scope_metrics())
        .flat_map(|s| s.metrics())
    {
        if let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data()
            && metric.name().contains("chunk")
        {
            let point = h.data_points().next().unwrap();
            histograms.insert(metric.name().to_string(), (point.count(), point.sum()));
        }
    }
    let (count, sum) = histograms["gen_ai.client.operation.time_to_first_chunk"];
    assert_eq!(count, 1);
    assert!((sum - 0.3).abs() < 1e-9, "{sum}");
    let (count, sum) = histograms["gen_ai.client.operation.time_per_output_chunk"];
    assert_eq!(count, 199, "one point per chunk after the first");
    assert!((sum - 1.99).abs() < 1e-6, "{sum}");
}

#[test]
fn received_otlp_after_a_shutdown_is_refused_not_waited_on() {
    let tracer = Tracer::builder()
        .with_export(ExportTarget::None)
        .with_block_when_full(true)
        .with_queue_capacity(1)
        .build()
        .unwrap();
    tracer.shutdown(WAIT).unwrap();
    let request = br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "late", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}"#;
    let traces = agentrace::ReceivedTraces::decode(request, agentrace::OtlpEncoding::Json).unwrap();
    assert_eq!(traces.span_count(), 1);
    assert!(matches!(tracer.receive(traces), Err(Error::ShutDown)));
    assert_eq!(tracer.stats().spans_received, 0);
}
