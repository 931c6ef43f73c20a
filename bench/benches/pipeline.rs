//! Throughput of the pipeline's one worker on the AG2 example's spans: default mapper, `redact`,
//! OTLP/protobuf encoding into `/dev/null`, with content capture off and on; the scaling curves
//! over batch size (1, 16, 256) and policy count (0, 1, 2, 4); `sample` before `redact`,
//! deciding batch by batch or holding whole traces, beside `redact` alone; the GenAI log events
//! with each capture setting; OTLP in (decoded and passed through) beside events mapped; and
//! and the mapping stage alone through wasm and compiled natively, side by side. (The pipeline
//! on 1 and 2 workers is `benches/workers.rs`.)
//!
//! A pipeline iteration reports 1 023 spans (31 copies of the example, each with fresh ids) and
//! waits for the flush: the time from the first report to the last span encoded.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::time::Duration;

use agentrace_bench::native::{NativeStage, guest_records};
use agentrace_bench::stage::{WasmStage, records};
use agentrace_bench::workload::Workload;
use agentrace_bench::{
    PipelineSetup, SPANS_PER_ITERATION, SampleSetup, ag2_capture_requests, otlp_in_iteration,
    otlp_requests, pipeline_iteration, pipeline_tracer,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn content_label(capture: bool) -> &'static str {
    if capture { "content_on" } else { "content_off" }
}

fn run_pipeline(c: &mut Criterion, group_name: &str, setups: &[(String, PipelineSetup)]) {
    let workload = Workload::ag2_example().expect("workload");
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(SPANS_PER_ITERATION as u64));
    for (label, setup) in setups {
        let tracer = pipeline_tracer(*setup).expect("tracer");
        let mut next_copy = 0u64;
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += pipeline_iteration(&tracer, &workload, &mut next_copy).expect("flush");
                }
                total
            })
        });
        let stats = tracer.stats();
        assert_eq!(
            stats.spans_started,
            stats.spans_exported + stats.spans_dropped_by_policy,
            "{label}: spans lost"
        );
        assert_eq!(stats.spans_not_held, 0, "{label}: the hold overflowed");
        assert_eq!(stats.logs_dropped, 0, "{label}: log records lost");
        assert_eq!(
            stats.policy_failures + stats.spans_fallback_mapped,
            0,
            "{label}"
        );
        tracer.shutdown(Duration::from_secs(60)).expect("shutdown");
    }
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    // The components and the same code linked natively in the worker, side by side.
    let headline: Vec<_> = [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .map(|(capture, native)| {
            let setup = PipelineSetup {
                capture_content: capture,
                native,
                ..PipelineSetup::default()
            };
            let label = content_label(capture);
            let label = if native {
                format!("native_{label}")
            } else {
                label.to_string()
            };
            (label, setup)
        })
        .collect();
    run_pipeline(c, "pipeline", &headline);

    for capture in [false, true] {
        let batches: Vec<_> = [1, 16, 256]
            .into_iter()
            .map(|max_batch| {
                let setup = PipelineSetup {
                    capture_content: capture,
                    max_batch,
                    ..PipelineSetup::default()
                };
                (max_batch.to_string(), setup)
            })
            .collect();
        run_pipeline(
            c,
            &format!("batch_size_{}", content_label(capture)),
            &batches,
        );

        let policies: Vec<_> = [0, 1, 2, 4]
            .into_iter()
            .map(|redact_policies| {
                let setup = PipelineSetup {
                    capture_content: capture,
                    redact_policies,
                    ..PipelineSetup::default()
                };
                (redact_policies.to_string(), setup)
            })
            .collect();
        run_pipeline(
            c,
            &format!("policies_{}", content_label(capture)),
            &policies,
        );
    }
}

/// `sample` in front of `redact`: the current chain, `sample` deciding by trace id batch by
/// batch, and `sample` with its tail rules holding whole traces, keeping all (the cost of
/// deciding) and a tenth (what sampling saves downstream).
fn sampling(c: &mut Criterion) {
    let setups: Vec<_> = [
        ("redact", None),
        ("sample_batches_1+redact", Some((1.0, false))),
        ("sample_whole_1+redact", Some((1.0, true))),
        ("sample_whole_0.1+redact", Some((0.1, true))),
    ]
    .into_iter()
    .map(|(label, sample)| {
        let setup = PipelineSetup {
            sample: sample.map(|(ratio, whole_traces)| SampleSetup {
                ratio,
                whole_traces,
            }),
            ..PipelineSetup::default()
        };
        (label.to_string(), setup)
    })
    .collect();
    run_pipeline(c, "sampling_content_off", &setups);
}

/// The GenAI events on the logs signal (issue 16): the inference details event off, on without
/// content, with the content in the event only (`EVENT_ONLY`), and with it on spans and in the
/// event (`SPAN_AND_EVENT`), beside content on spans alone (`SPAN_ONLY`). Every copy of the
/// example also yields one client-exception record, in every column.
fn log_events(c: &mut Criterion) {
    let setups: Vec<_> = [
        ("no_content", false, None),
        ("details_without_content", false, Some(false)),
        ("event_only", false, Some(true)),
        ("span_only", true, None),
        ("span_and_event", true, Some(true)),
    ]
    .into_iter()
    .map(|(label, capture_content, inference_events)| {
        let setup = PipelineSetup {
            capture_content,
            inference_events,
            ..PipelineSetup::default()
        };
        (label.to_string(), setup)
    })
    .collect();
    run_pipeline(c, "log_events", &setups);
}

/// The mapping stage alone on one batch of 495 records (15 copies of the example).
/// OTLP in beside lifecycle events in, one worker, `redact`, OTLP/protobuf out, content on:
/// the AG2 example's 1 023 spans as OTLP/protobuf requests decoded and passed through
/// (`Tracer::receive`: no mapper), against the same spans reported as lifecycle events and
/// mapped. No HTTP: the sidecar's handler adds its request handling on its own threads.
fn otlp_in(c: &mut Criterion) {
    let workload = Workload::ag2_example().expect("workload");
    let copies = (SPANS_PER_ITERATION / workload.spans_per_copy()) as u64;
    let requests = otlp_requests(&workload, copies, true).expect("requests");
    let setup = PipelineSetup {
        capture_content: true,
        ..PipelineSetup::default()
    };
    let mut group = c.benchmark_group("otlp_in");
    group.throughput(Throughput::Elements(SPANS_PER_ITERATION as u64));
    let tracer = pipeline_tracer(setup).expect("tracer");
    let mut next_copy = 0u64;
    group.bench_function("events_mapped", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| pipeline_iteration(&tracer, &workload, &mut next_copy).expect("flush"))
                .sum()
        })
    });
    tracer.shutdown(Duration::from_secs(60)).expect("shutdown");
    let tracer = pipeline_tracer(setup).expect("tracer");
    group.bench_function("otlp_protobuf_passed_through", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (took, spans) = otlp_in_iteration(&tracer, &requests, 1).expect("receive");
                    assert_eq!(spans, SPANS_PER_ITERATION);
                    took
                })
                .sum()
        })
    });
    let stats = tracer.stats();
    assert_eq!(stats.spans_received, stats.spans_exported, "spans lost");
    assert_eq!(stats.spans_received_invalid + stats.policy_failures, 0);
    tracer.shutdown(Duration::from_secs(60)).expect("shutdown");
    // A real producer's spans (classic AG2's own tracing, 21 copies of its 47 spans): passed
    // through, and through the default ingest component and the mapper, with content captured
    // and without (the ingest component then leaves the messages unread).
    let copies = (SPANS_PER_ITERATION / 47) as u64;
    let ag2 = ag2_capture_requests(copies).expect("AG2 capture");
    for (name, ingest, capture_content) in [
        ("ag2_passed_through", false, true),
        ("ag2_ingested_and_mapped", true, true),
        ("ag2_ingested_and_mapped_content_off", true, false),
    ] {
        let tracer = pipeline_tracer(PipelineSetup {
            ingest,
            capture_content,
            ..setup
        })
        .expect("tracer");
        group.throughput(Throughput::Elements(copies * 47));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (took, spans) = otlp_in_iteration(&tracer, &ag2, 1).expect("receive");
                        assert_eq!(spans as u64, copies * 47);
                        took
                    })
                    .sum()
            })
        });
        let stats = tracer.stats();
        assert_eq!(
            stats.spans_received, stats.spans_exported,
            "{name}: spans lost"
        );
        assert_eq!(
            stats.spans_ingest_failed + stats.policy_failures,
            0,
            "{name}"
        );
        if ingest {
            assert_eq!(
                stats.spans_normalised, stats.spans_received,
                "{name}: not all ingested"
            );
        }
        tracer.shutdown(Duration::from_secs(60)).expect("shutdown");
    }
    group.finish();
}

fn stage(c: &mut Criterion) {
    let workload = Workload::ag2_example().expect("workload");
    let spans: Vec<_> = (0..15).flat_map(|_| workload.finished_spans()).collect();
    let host_records = records(&spans);
    let native_records = guest_records(&host_records);
    for capture in [false, true] {
        let mut group = c.benchmark_group(format!("stage_{}", content_label(capture)));
        group.throughput(Throughput::Elements(spans.len() as u64));
        let mut wasm = WasmStage::new(capture, 1).expect("wasm stage");
        let native = NativeStage::new(capture, 1).expect("native stage");
        assert_eq!(
            wasm.run(&host_records).expect("wasm"),
            native.run(&native_records),
            "wasm and native encode different bytes"
        );
        group.bench_function("wasm", |b| {
            b.iter(|| wasm.run(&host_records).expect("wasm"))
        });
        group.bench_function("native", |b| b.iter(|| native.run(&native_records)));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = pipeline, sampling, log_events, otlp_in, stage
}
criterion_main!(benches);
