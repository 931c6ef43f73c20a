//! The cost of a span reported by an agent that is a wasm component, through the WIT
//! `lifecycle` (issue 17): the example agent (`examples/agents/rust`) run with `--spans N`
//! reports one agent turn with N chat spans, each with the ten attributes of a typical chat
//! call (the `runtime` bench's span). Each iteration is a whole `run_agent`: instantiation,
//! WASI, the run; N = 0 measures that fixed part, so (time(2048) − time(0)) / 2048 is one span's
//! cost on the agent's thread. `in_process_2048_spans` is the same turn and spans reported
//! through `Tracer::start` and `end` in Rust, measured in the same run. The spans go through the
//! usual pipeline to a sink that discards them, flushed untimed after each run.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentrace::{
    AgentInfo, AgentOptions, ModelRequest, ModelResponse, Operation, SpanFields, Tracer, Usage,
    run_agent,
};
use agentrace_bench::{PipelineSetup, pipeline_tracer};
use criterion::{Criterion, criterion_group, criterion_main};

/// The example agent, which the library's build script builds into `<target>/agentrace-guest`.
fn example_agent() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .join("agentrace-guest/wasm32-wasip2/guest/agentrace_example_agent.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the example agent's `--spans` mode reports, through the Rust API: a turn with `count`
/// chat spans of the same fields.
fn in_process_turn(tracer: &Tracer, count: u32) {
    let planner = || Some(Box::new(AgentInfo::named("planner")));
    let turn = tracer.start(
        Operation::InvokeAgent,
        None,
        SpanFields {
            agent: planner(),
            ..SpanFields::default()
        },
    );
    for _ in 0..count {
        let call = tracer.start(
            Operation::Chat,
            Some(&turn),
            SpanFields {
                agent: planner(),
                conversation_id: Some("conv-5b8efff798038103".into()),
                provider: Some("openai".into()),
                request: Some(Box::new(ModelRequest {
                    model: Some("gpt-4o".into()),
                    stream: Some(false),
                    ..ModelRequest::default()
                })),
                ..SpanFields::default()
            },
        );
        tracer.end(
            &call,
            SpanFields {
                response: Some(Box::new(ModelResponse {
                    model: Some("gpt-4o-2024-08-06".into()),
                    id: Some("chatcmpl-9f8e7d6c5b4a".into()),
                    finish_reasons: Some(vec!["stop".into()]),
                    ..ModelResponse::default()
                })),
                usage: Some(Box::new(Usage {
                    input_tokens: Some(52),
                    output_tokens: Some(18),
                    ..Usage::default()
                })),
                ..SpanFields::default()
            },
        );
    }
    tracer.end(&turn, SpanFields::default());
}

fn agent_spans(c: &mut Criterion) {
    let agent = example_agent();
    let tracer = Arc::new(
        pipeline_tracer(PipelineSetup {
            redact_policies: 0,
            ..PipelineSetup::default()
        })
        .expect("tracer"),
    );
    let mut group = c.benchmark_group("agent_component");
    group.sample_size(20);
    for spans in [0u32, 2048] {
        let options =
            AgentOptions::default().with_args("agent", ["--spans".to_string(), spans.to_string()]);
        group.bench_function(format!("run_with_{spans}_spans"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let began = Instant::now();
                    let outcome = run_agent(tracer.clone(), &agent, &options).expect("runs");
                    total += began.elapsed();
                    assert_eq!(outcome.exit_code, 0, "{outcome:?}");
                    tracer.flush(Duration::from_secs(60)).expect("flush");
                }
                total
            })
        });
    }
    group.bench_function("in_process_2048_spans", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let began = Instant::now();
                in_process_turn(&tracer, 2048);
                total += began.elapsed();
                tracer.flush(Duration::from_secs(60)).expect("flush");
            }
            total
        })
    });
    group.finish();
    let stats = tracer.stats();
    assert_eq!(stats.events_rejected, 0, "{:?}", stats.recent_errors);
    assert_eq!(stats.events_dropped_queue_full, 0, "the queue was full");
}

criterion_group!(benches, agent_spans);
criterion_main!(benches);
