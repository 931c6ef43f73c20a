//! A hostile component is contained: each misbehaviour (loop, memory bomb, panic, stack
//! overflow, flood of output, error) costs one batch its component mapping, never the spans;
//! the failure shows in the counters; the runtime's calls never wait for the component; and the
//! component reaches no file, environment variable or socket that was not granted.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use agentrace::opentelemetry_sdk::trace::InMemorySpanExporter;
use agentrace::{
    AgentInfo, AgentRecord, ExportTarget, Lifecycle, Operation, SpanContext, SpanFields, SpanId,
    StatsSnapshot, TraceId, Tracer, TracerBuilder,
};
use agentrace::{Grants, Limits};
use opentelemetry::Value;

use crate::common::{WAIT, attr};

fn hostile_bytes() -> Vec<u8> {
    std::fs::read(env!("AGENTRACE_HOSTILE_MAPPER")).expect("the hostile component was built")
}

/// A tracer on the hostile component with `behavior`, a short deadline and a small memory cap.
fn hostile(behavior: &str, spans: &InMemorySpanExporter) -> TracerBuilder {
    Tracer::builder()
        .with_mapper_bytes(hostile_bytes())
        .with_config("behavior", behavior)
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .with_limits(
            Limits::default()
                .with_call_deadline(Duration::from_millis(200))
                .with_max_memory_bytes(32 << 20),
        )
}

/// Reports `batches` batches of `per_batch` finished spans, flushing after each.
fn run_batches(tracer: &Tracer, batches: usize, per_batch: usize) {
    for _ in 0..batches {
        for _ in 0..per_batch {
            let span = tracer.start(Operation::Chat, None, SpanFields::default());
            tracer.end(&span, SpanFields::default());
        }
        tracer.flush(WAIT).unwrap();
    }
}

fn finish(tracer: Tracer) -> StatsSnapshot {
    tracer.shutdown(WAIT).unwrap();
    tracer.stats()
}

#[test]
fn every_hostile_behaviour_is_contained_and_counted() {
    type Counter = fn(&StatsSnapshot) -> u64;
    let cases: [(&str, Counter, &str); 6] = [
        ("loop", |s| s.component_traps, "interrupt"),
        ("memory", |s| s.component_traps, "trapped"),
        ("panic", |s| s.component_traps, "trapped"),
        ("stack", |s| s.component_traps, "trapped"),
        (
            "huge",
            |s| s.component_oversized,
            "50000 spans, 0 metric points and 0 log records for 5 records",
        ),
        (
            "error",
            |s| s.component_errors,
            "the hostile mapper refuses this batch",
        ),
    ];
    for (behavior, counter, message) in cases {
        let spans = InMemorySpanExporter::default();
        let mut builder = hostile(behavior, &spans);
        if behavior == "huge" {
            // Making 50 000 spans took longer than 200 ms on a loaded machine, which turned the
            // oversized answer into a deadline trap: give it time to answer.
            builder = builder.with_limits(
                Limits::default()
                    .with_call_deadline(Duration::from_secs(5))
                    .with_max_memory_bytes(32 << 20),
            );
        }
        let tracer = builder.build().unwrap();
        run_batches(&tracer, 3, 5);
        let stats = finish(tracer);
        let exported = spans.get_finished_spans().unwrap();
        // No span is lost: the fallback mapping carries every one.
        assert_eq!(exported.len(), 15, "{behavior}: {stats:?}");
        assert_eq!(stats.spans_exported, 15, "{behavior}");
        assert_eq!(stats.spans_fallback_mapped, 15, "{behavior}");
        assert!(
            exported
                .iter()
                .all(|s| attr(s, "agentrace.mapper.fallback") == Some(&Value::Bool(true)))
        );
        assert!(exported.iter().all(|s| s.name == "chat"), "{behavior}");
        // The failure is counted under its kind and explained.
        assert!(counter(&stats) >= 1, "{behavior}: {stats:?}");
        let errors = stats.recent_errors.join("\n");
        assert!(
            errors.contains(message),
            "{behavior}: `{message}` not in\n{errors}"
        );
        // Whether later batches met a fresh instance or the backoff depends on timing; either
        // way the component was never called more often than there were batches. The backoff
        // itself is unit-tested in `slot.rs`.
        assert!(stats.component_calls <= 3, "{behavior}: {stats:?}");
    }
}

#[test]
fn a_dry_run_that_traps_leaves_the_live_mapper_healthy() {
    let spans = InMemorySpanExporter::default();
    let tracer = hostile("trap-on-agent", &spans).build().unwrap();
    let record = |agent: &str| {
        AgentRecord::new(
            Operation::InvokeAgent,
            SpanContext::new(TraceId::random(), SpanId::random()),
            None,
            (1, 2),
            SpanFields {
                agent: Some(Box::new(AgentInfo::named(agent))),
                ..Default::default()
            },
        )
    };
    let error = tracer
        .map_records(&[record("trap")], WAIT)
        .unwrap_err()
        .to_string();
    assert!(error.contains("trapped"), "{error}");
    // The dry run's own instance is gone; the next dry run gets a fresh one after its backoff.
    // The live instance never saw the record: live spans are mapped by the component, not
    // by the fallback, and no trap is counted against it.
    run_batches(&tracer, 2, 3);
    let stats = finish(tracer);
    assert_eq!(stats.spans_exported, 6);
    assert_eq!(stats.spans_fallback_mapped, 0);
    assert_eq!(stats.component_traps, 0);
    let names: Vec<_> = spans
        .get_finished_spans()
        .unwrap()
        .iter()
        .map(|span| span.name.to_string())
        .collect();
    assert!(names.iter().all(|name| name == "hostile ok"), "{names:?}");
}

#[test]
fn the_runtime_never_waits_for_a_stuck_component() {
    let spans = InMemorySpanExporter::default();
    let tracer = hostile("loop", &spans)
        .with_limits(Limits::default().with_call_deadline(Duration::from_secs(3)))
        .with_flush_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let first = tracer.start(Operation::Chat, None, SpanFields::default());
    tracer.end(&first, SpanFields::default());
    // Wait until the worker is inside the looping call.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tracer.stats().component_calls == 0 {
        assert!(
            Instant::now() < deadline,
            "the worker never called the component"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // While the component spins, the runtime keeps reporting: every call returns at once.
    for _ in 0..5_000 {
        let span = tracer.start(Operation::Chat, None, SpanFields::default());
        assert!(tracer.report(Lifecycle::End {
            span_id: span.span_id,
            time: agentrace::events::now_nanos(),
            fields: Box::default(),
        }));
    }
    let during = tracer.stats();
    assert_eq!(
        during.component_traps, 0,
        "the 3 s deadline had not passed yet"
    );
    assert_eq!(during.events_queued, 10_002);
    let stats = finish(tracer);
    // Each call spins to the deadline. After the first trap the component backs off (100 ms,
    // doubling), so how many more calls the 5 000 queued spans meet depends on the machine's
    // speed: every one of them must have trapped, and every span is exported by the fallback.
    assert!(stats.component_traps >= 1);
    assert_eq!(stats.component_traps, stats.component_calls);
    assert_eq!(stats.spans_exported, 5_001);
    assert_eq!(stats.spans_fallback_mapped, 5_001);
}

#[test]
fn files_environment_and_sockets_are_denied_unless_granted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "secret-token-123").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();

    let probe = |behavior: &str, grants: Grants| -> String {
        let spans = InMemorySpanExporter::default();
        let tracer = hostile(behavior, &spans)
            .with_config("probe-path", secret.to_string_lossy())
            .with_config("probe-address", &address)
            .with_grants(grants)
            .build()
            .unwrap();
        run_batches(&tracer, 1, 1);
        finish(tracer);
        let exported = spans.get_finished_spans().unwrap();
        attr(&exported[0], "hostile.probe").unwrap().to_string()
    };

    let file = probe("read-file", Grants::default());
    assert!(
        file.starts_with("denied:") && !file.contains("secret-token"),
        "{file}"
    );
    let env = probe("read-env", Grants::default());
    assert_eq!(
        env, "denied: empty environment",
        "the host environment leaked"
    );
    let socket = probe("socket", Grants::default());
    assert!(socket.starts_with("denied:"), "{socket}");
    assert!(
        listener.accept().is_err(),
        "the component reached the listener"
    );

    // What an operator grants, and only that, is reachable.
    let granted = Grants::default()
        .with_env("GRANTED", "yes")
        .with_read_only_dir(dir.path());
    assert_eq!(
        probe("read-file", granted.clone()),
        "allowed: secret-token-123"
    );
    assert_eq!(probe("read-env", granted.clone()), "allowed: GRANTED=yes");
    // Network is its own grant: with it, the same probe connects, so the denial above is the
    // sandbox's doing and not a limit of the guest.
    let socket = probe("socket", granted.with_network(true));
    assert_eq!(socket, format!("allowed: connected to {address}"));
}

#[test]
fn instances_are_recycled_after_a_number_of_calls() {
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .with_limits(Limits::default().with_recycle_after_calls(Some(2)))
        .build()
        .unwrap();
    run_batches(&tracer, 5, 3);
    let stats = finish(tracer);
    assert_eq!(stats.component_calls, 5);
    assert_eq!(stats.component_recycles, 2);
    assert_eq!(stats.component_restarts, 2);
    assert_eq!(stats.spans_fallback_mapped, 0);
    assert_eq!(spans.get_finished_spans().unwrap().len(), 15);
}

#[test]
fn bad_input_gets_specific_errors_and_documented_behaviour() {
    let lines = [
        // A child outliving its parent is exported as reported (documented).
        r#"{"type":"start","span_id":"00000000000000a1","operation":"conversation","time":10}"#,
        r#"{"type":"start","span_id":"00000000000000a2","parent_span_id":"00000000000000a1","operation":"chat","time":11}"#,
        r#"{"type":"end","span_id":"00000000000000a1","time":20}"#,
        r#"{"type":"end","span_id":"00000000000000a2","time":30}"#,
        // A parent named before it exists, then started under its own child: a cycle.
        r#"{"type":"start","span_id":"00000000000000b1","trace_id":"0000000000000000000000000000000b","parent_span_id":"00000000000000b2","operation":"chat","time":10}"#,
        r#"{"type":"start","span_id":"00000000000000b2","trace_id":"0000000000000000000000000000000b","parent_span_id":"00000000000000b1","operation":"chat","time":11}"#,
        r#"{"type":"end","span_id":"00000000000000b1","time":12}"#,
    ];
    let spans = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .with_export(ExportTarget::InMemory {
            spans: spans.clone(),
            metrics: Default::default(),
            logs: Default::default(),
        })
        .build()
        .unwrap();
    for line in lines {
        tracer.report(agentrace::events::decode_line(line).unwrap().unwrap());
    }
    let stats = finish(tracer);
    let errors = stats.recent_errors.join("\n");
    assert!(errors.contains("would make a cycle"), "{errors}");
    assert_eq!(stats.events_rejected, 1, "{errors}");
    let exported = spans.get_finished_spans().unwrap();
    let names: BTreeMap<String, _> = exported
        .iter()
        .map(|s| (s.span_context.span_id().to_string(), s))
        .collect();
    assert_eq!(exported.len(), 3);
    let child = names["00000000000000a2"];
    assert!(child.end_time > names["00000000000000a1"].end_time);

    // Oversized lines are refused before parsing.
    let huge = format!(
        r#"{{"type":"end","span_id":"0000000000000001","fields":{{"attributes":{{"x":"{}"}}}}}}"#,
        "y".repeat(agentrace::events::MAX_EVENT_BYTES)
    );
    let err = agentrace::events::decode_line(&huge)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exceeds the limit"), "{err}");
}

#[test]
fn under_load_spans_in_equal_spans_out_plus_counted_drops() {
    let tracer = std::sync::Arc::new(
        Tracer::builder()
            .with_export(ExportTarget::None)
            .with_queue_capacity(2_048)
            .build()
            .unwrap(),
    );
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let tracer = tracer.clone();
            std::thread::spawn(move || {
                let (mut attempted, mut started) = (0u64, 0u64);
                let stop = Instant::now() + Duration::from_millis(750);
                while Instant::now() < stop && attempted < 2_000_000 {
                    let context = agentrace::SpanContext::new(
                        agentrace::TraceId::random(),
                        agentrace::SpanId::random(),
                    );
                    attempted += 1;
                    if tracer.report(Lifecycle::Start {
                        span_id: context.span_id,
                        trace_id: Some(context.trace_id),
                        parent: agentrace::Parent::Root,
                        operation: Operation::ExecuteTool,
                        time: agentrace::events::now_nanos(),
                        fields: Box::default(),
                    }) {
                        started += 1;
                        tracer.end(&context, SpanFields::default());
                    }
                }
                (attempted, started)
            })
        })
        .collect();
    let (mut attempted, mut started) = (0, 0);
    for producer in producers {
        let (a, s) = producer.join().unwrap();
        attempted += a;
        started += s;
    }
    tracer.shutdown(Duration::from_secs(60)).unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.spans_started, started);
    // Every span that got in came out (ends dropped under load are ended at shutdown).
    assert_eq!(stats.spans_accounted(), stats.spans_started, "{stats:?}");
    assert_eq!(stats.spans_exported, started);
    // Every event is either queued or counted as dropped.
    assert_eq!(
        stats.events_queued + stats.events_dropped_queue_full,
        attempted + started,
        "{stats:?}"
    );
    eprintln!(
        "load: {attempted} spans attempted by 4 producers in 0.75 s, {started} accepted, {} events dropped (queue full), {} ended at shutdown",
        stats.events_dropped_queue_full, stats.spans_ended_incomplete
    );
}
