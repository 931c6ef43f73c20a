//! The pipeline sharded by trace id over 1 and 2 workers, side by side in one run: in process
//! (the AG2 example's spans reported through the `Tracer`, content off and on) and OTLP in
//! (classic AG2's own capture received, through the default ingest component and the mapper,
//! content off and on). Default mapper, `redact`, OTLP/protobuf encoding into `/dev/null`.
//! OTLP in runs twice: with the requests decoded and received on one thread, and on two (each a
//! contiguous half), as `agentrace serve`'s HTTP handlers decode requests that arrive together.
//! One decoding thread is a bound of its own on two cores: it decodes on one of them while both
//! workers run, and the flush at the iteration's end waits for the worker it slowed.
//!
//! Two choices differ from `benches/pipeline.rs`, both because several workers are measured:
//! - An iteration holds 8 184 spans (248 traces), not 1 023 (31 traces). Traces go to workers
//!   by trace id, and 31 traces split unevenly often enough to bound the speed-up near 1.7
//!   by themselves; 248 split within a few percent of half.
//! - The process runs on mimalloc, as `agentrace serve` does. Under glibc's malloc the two
//!   workers contended for its arenas (malloc and free were a third of the profile with two
//!   workers, BENCHMARKS.md); an application embedding the library chooses its own allocator.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::time::Duration;

use agentrace_bench::workload::Workload;
use agentrace_bench::{
    PipelineSetup, SPANS_PER_ITERATION, ag2_capture_requests, otlp_in_iteration,
    pipeline_iteration_of, pipeline_tracer,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Copies of the 1 023-span iteration in one iteration here.
const ROUNDS: usize = 8;

fn content_label(capture: bool) -> &'static str {
    if capture { "content_on" } else { "content_off" }
}

fn in_process(c: &mut Criterion) {
    let workload = Workload::ag2_example().expect("workload");
    let spans = SPANS_PER_ITERATION * ROUNDS;
    let mut group = c.benchmark_group("workers_in_process");
    group.throughput(Throughput::Elements(spans as u64));
    for capture_content in [false, true] {
        for workers in [1, 2] {
            let tracer = pipeline_tracer(PipelineSetup {
                capture_content,
                workers,
                ..PipelineSetup::default()
            })
            .expect("tracer");
            let name = format!("{}_{workers}", content_label(capture_content));
            let mut next_copy = 0u64;
            time_iterations(&mut group, &name, || {
                pipeline_iteration_of(&tracer, &workload, &mut next_copy, spans).expect("flush")
            });
            let stats = tracer.stats();
            assert_eq!(
                stats.spans_started, stats.spans_exported,
                "{name}: spans lost"
            );
            assert_eq!(
                stats.events_rejected, 0,
                "{name}: {:?}",
                stats.recent_errors
            );
            tracer.shutdown(Duration::from_secs(60)).expect("shutdown");
        }
    }
    group.finish();
}

fn otlp_in(c: &mut Criterion) {
    // 21 copies of the capture's 47 spans per request set, ROUNDS sets per iteration.
    let copies = (SPANS_PER_ITERATION / 47 * ROUNDS) as u64;
    let requests = ag2_capture_requests(copies).expect("AG2 capture");
    let mut group = c.benchmark_group("workers_otlp_in");
    group.throughput(Throughput::Elements(copies * 47));
    for receivers in [1, 2] {
        for capture_content in [false, true] {
            for workers in [1, 2] {
                otlp_in_case(&mut group, &requests, receivers, capture_content, workers);
            }
        }
    }
    group.finish();
}

/// Times `iteration` as one row `name` of `group`: each call is one iteration, timed by itself.
fn time_iterations(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut iteration: impl FnMut() -> Duration,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| iteration()).sum())
    });
}

/// One OTLP-in row: `workers` workers, the requests decoded on `receivers` threads.
fn otlp_in_case(
    group: &mut BenchmarkGroup<'_, WallTime>,
    requests: &[Vec<u8>],
    receivers: usize,
    capture_content: bool,
    workers: usize,
) {
    let tracer = pipeline_tracer(PipelineSetup {
        ingest: true,
        capture_content,
        workers,
        ..PipelineSetup::default()
    })
    .expect("tracer");
    let mut name = format!("ag2_ingested_{}_{workers}", content_label(capture_content));
    if receivers > 1 {
        name.push_str(&format!("_decoded_on_{receivers}"));
    }
    time_iterations(group, &name, || {
        otlp_in_iteration(&tracer, requests, receivers)
            .expect("receive")
            .0
    });
    let stats = tracer.stats();
    assert_eq!(
        stats.spans_received, stats.spans_exported,
        "{name}: spans lost"
    );
    assert_eq!(stats.spans_normalised, stats.spans_received, "{name}");
    tracer.shutdown(Duration::from_secs(60)).expect("shutdown");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = in_process, otlp_in
}
criterion_main!(benches);
