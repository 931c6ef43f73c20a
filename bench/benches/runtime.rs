//! The cost on the runtime's thread of one span (start with 6 attributes, end with 4 more:
//! the ten attributes of a typical chat call) through `agentrace::Tracer`, beside the same span
//! through the OpenTelemetry SDK with a batch processor (the usual production setup) exporting
//! nowhere. Spans are timed in chunks of 1024, each followed by an untimed flush, so neither
//! queue is ever full: what is measured is reporting, not dropping.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::time::{Duration, Instant};

use agentrace::{AgentInfo, ModelRequest, ModelResponse, Operation, SpanFields, Usage};
use agentrace_bench::{PipelineSetup, pipeline_tracer};
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};

const CHUNK: u64 = 1024;

/// Times `iters` calls of `span` in chunks, running `flush` untimed after each chunk.
fn chunked(iters: u64, mut span: impl FnMut(), mut flush: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = CHUNK.min(iters - done);
        let began = Instant::now();
        for _ in 0..n {
            span();
        }
        total += began.elapsed();
        done += n;
        flush();
    }
    total
}

/// What a runtime knows about a chat call, as owned strings it would hand over.
struct Call {
    agent: String,
    conversation: String,
    provider: String,
    model: String,
    response_model: String,
    response_id: String,
}

impl Call {
    fn new() -> Self {
        Self {
            agent: "planner".into(),
            conversation: "conv-5b8efff798038103".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            response_model: "gpt-4o-2024-08-06".into(),
            response_id: "chatcmpl-9f8e7d6c5b4a".into(),
        }
    }
}

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

fn runtime_thread(c: &mut Criterion) {
    let call = Call::new();
    let mut group = c.benchmark_group("runtime_thread");

    let tracer = pipeline_tracer(PipelineSetup {
        redact_policies: 0,
        ..PipelineSetup::default()
    })
    .expect("tracer");
    let parent = tracer.start(Operation::InvokeAgent, None, SpanFields::default());
    group.bench_function("agentrace_span", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    let span = tracer.start(
                        Operation::Chat,
                        Some(&parent),
                        SpanFields {
                            agent: Some(Box::new(AgentInfo::named(call.agent.clone()))),
                            conversation_id: Some(call.conversation.clone()),
                            provider: Some(call.provider.clone()),
                            request: Some(Box::new(ModelRequest {
                                model: Some(call.model.clone()),
                                temperature: Some(0.2),
                                max_tokens: Some(512),
                                ..ModelRequest::default()
                            })),
                            ..SpanFields::default()
                        },
                    );
                    tracer.end(
                        &span,
                        SpanFields {
                            response: Some(Box::new(ModelResponse {
                                model: Some(call.response_model.clone()),
                                id: Some(call.response_id.clone()),
                                ..ModelResponse::default()
                            })),
                            usage: Some(Box::new(Usage {
                                input_tokens: Some(120),
                                output_tokens: Some(42),
                                ..Usage::default()
                            })),
                            ..SpanFields::default()
                        },
                    );
                },
                || tracer.flush(Duration::from_secs(60)).expect("flush"),
            )
        })
    });
    let stats = tracer.stats();
    assert_eq!(stats.events_dropped_queue_full, 0, "the queue was full");

    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(Discard).build())
        .build();
    let sdk = provider.tracer("bench");
    let parent = Context::current_with_span(sdk.start("invoke_agent planner"));
    group.bench_function("otel_sdk_span", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    let mut span = sdk
                        .span_builder(format!("chat {}", call.model))
                        .with_kind(SpanKind::Client)
                        .with_attributes([
                            KeyValue::new("gen_ai.agent.name", call.agent.clone()),
                            KeyValue::new("gen_ai.conversation.id", call.conversation.clone()),
                            KeyValue::new("gen_ai.provider.name", call.provider.clone()),
                            KeyValue::new("gen_ai.request.model", call.model.clone()),
                            KeyValue::new("gen_ai.request.temperature", 0.2),
                            KeyValue::new("gen_ai.request.max_tokens", 512),
                        ])
                        .start_with_context(&sdk, &parent);
                    use opentelemetry::trace::Span as _;
                    span.set_attribute(KeyValue::new(
                        "gen_ai.response.model",
                        call.response_model.clone(),
                    ));
                    span.set_attribute(KeyValue::new(
                        "gen_ai.response.id",
                        call.response_id.clone(),
                    ));
                    span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 120));
                    span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", 42));
                    span.end();
                },
                || provider.force_flush().expect("flush"),
            )
        })
    });
    group.finish();
    provider.shutdown().expect("shutdown");
    tracer.shutdown(Duration::from_secs(60)).expect("shutdown");
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = runtime_thread
}
criterion_main!(benches);
