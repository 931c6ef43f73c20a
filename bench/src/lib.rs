//! Shared parts of the agentrace benchmarks: the realistic workload (the AG2 example, copied
//! with fresh ids), tracers set up the way each figure needs, and the mapping stage run both
//! through the wasm components and as the same code compiled natively.
//!
//! The criterion benches (`benches/`) measure in-process figures; the `agentrace-bench` binary
//! measures what needs its own process or a load running beside it (start-up, hot swap,
//! memory); `bench/run` builds release, runs both and prints one table.

pub mod native;
pub mod serve_load;
pub mod stage;
pub mod workload;

use std::path::PathBuf;
use std::time::Duration;

use agentrace::{ExportTarget, Policy, Tracer, TracerBuilder};

/// Spans per pipeline iteration: 31 copies of the 33-span example.
pub const SPANS_PER_ITERATION: usize = 1023;

/// One pipeline iteration: the next [`SPANS_PER_ITERATION`] spans of `workload` (copies from
/// `*next_copy` on, which it advances), built first, then timed from the first report to the
/// end of the flush.
pub fn pipeline_iteration(
    tracer: &Tracer,
    workload: &workload::Workload,
    next_copy: &mut u64,
) -> agentrace::Result<std::time::Duration> {
    pipeline_iteration_of(tracer, workload, next_copy, SPANS_PER_ITERATION)
}

/// [`pipeline_iteration`] with `spans` spans (whole copies of the workload) instead.
pub fn pipeline_iteration_of(
    tracer: &Tracer,
    workload: &workload::Workload,
    next_copy: &mut u64,
    spans: usize,
) -> agentrace::Result<std::time::Duration> {
    let events = workload.copies_for(*next_copy, spans);
    *next_copy += (spans / workload.spans_per_copy()) as u64;
    let began = std::time::Instant::now();
    for event in events {
        tracer.report(event);
    }
    tracer.flush(Duration::from_secs(600))?;
    Ok(began.elapsed())
}

/// The OTLP/protobuf trace requests (`ExportTraceServiceRequest`, up to 512 spans each, as an
/// SDK's batch processor sends them) that the pipeline exports for `copies` copies of
/// `workload` with the default mapper: real GenAI spans, as another producer's OTLP exporter
/// would send them, for the OTLP-in benchmark.
pub fn otlp_requests(
    workload: &workload::Workload,
    copies: u64,
    capture_content: bool,
) -> anyhow::Result<Vec<Vec<u8>>> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let path = std::env::temp_dir().join(format!(
        "agentrace-bench-otlp-{}-{copies}.jsonl",
        std::process::id()
    ));
    let tracer = Tracer::builder()
        .with_export(ExportTarget::JsonFile(path.clone()))
        .with_capture_content(capture_content)
        .with_block_when_full(true)
        .build()?;
    for copy in 0..copies {
        for event in workload.copy(copy) {
            tracer.report(event);
        }
    }
    tracer.shutdown(Duration::from_secs(60))?;
    let text = std::fs::read_to_string(&path)?;
    std::fs::remove_file(&path)?;
    text.lines()
        .filter(|line| line.starts_with("{\"resourceSpans\""))
        .map(|line| {
            let request: ExportTraceServiceRequest = serde_json::from_str(line)?;
            Ok(request.encode_to_vec())
        })
        .collect()
}

/// Classic AG2's own OTLP (the capture `tests/fixtures/otlp-in/ag2-classic-autogen-0.14.1.jsonl`,
/// 47 spans in 4 traces), `copies` times with the trace and span ids of each copy changed, as
/// OTLP/protobuf request bodies: a real producer's traffic for the ingest component.
pub fn ag2_capture_requests(copies: u64) -> anyhow::Result<Vec<Vec<u8>>> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/otlp-in/ag2-classic-autogen-0.14.1.jsonl");
    let text = std::fs::read_to_string(path)?;
    let requests: Vec<ExportTraceServiceRequest> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mut bodies = Vec::new();
    for copy in 1..=copies {
        // The copy number in the ids' last bytes keeps every copy's trees apart.
        let stamp = |id: &mut Vec<u8>| {
            if let Some(len) = id.len().checked_sub(2) {
                id[len] ^= (copy >> 8) as u8;
                id[len + 1] ^= copy as u8;
            }
        };
        for request in &requests {
            let mut request = request.clone();
            for resource in &mut request.resource_spans {
                for scope in &mut resource.scope_spans {
                    for span in &mut scope.spans {
                        stamp(&mut span.trace_id);
                        stamp(&mut span.span_id);
                        stamp(&mut span.parent_span_id);
                    }
                }
            }
            bodies.push(request.encode_to_vec());
        }
    }
    Ok(bodies)
}

/// One OTLP-in iteration: each request decoded (as the sidecar's handlers do) and received, then
/// timed to the end of the flush. The requests are dealt in `receivers` contiguous shares, each
/// decoded and received on its own thread, as `agentrace serve`'s HTTP handlers decode the
/// requests that arrive together; with one, on the calling thread. Returns the time and the
/// spans received.
pub fn otlp_in_iteration(
    tracer: &Tracer,
    requests: &[Vec<u8>],
    receivers: usize,
) -> agentrace::Result<(std::time::Duration, usize)> {
    let receive_all = |share: &[Vec<u8>]| -> agentrace::Result<usize> {
        let mut spans = 0;
        for body in share {
            let traces =
                agentrace::ReceivedTraces::decode(body, agentrace::OtlpEncoding::Protobuf)?;
            spans += traces.span_count();
            tracer.receive(traces)?;
        }
        Ok(spans)
    };
    let began = std::time::Instant::now();
    let spans = if receivers <= 1 {
        receive_all(requests)?
    } else {
        let share = requests.len().div_ceil(receivers).max(1);
        std::thread::scope(|scope| {
            let receiving: Vec<_> = requests
                .chunks(share)
                .map(|share| scope.spawn(move || receive_all(share)))
                .collect();
            receiving
                .into_iter()
                .map(|receiver| receiver.join().expect("a receiving thread panicked"))
                .sum::<agentrace::Result<usize>>()
        })?
    };
    tracer.flush(Duration::from_secs(600))?;
    Ok((began.elapsed(), spans))
}

/// Where the null sink writes: protobuf encoding happens, the bytes go nowhere.
pub fn null_sink() -> ExportTarget {
    ExportTarget::ProtobufFile(PathBuf::from("/dev/null"))
}

/// How a pipeline benchmark is set up.
#[derive(Debug, Clone, Copy)]
pub struct PipelineSetup {
    /// Record message content, tool arguments and results.
    pub capture_content: bool,
    /// Spans per call into the mapper.
    pub max_batch: usize,
    /// How many `redact` policies run after the mapper.
    pub redact_policies: usize,
    /// Run the mapper and the policies as natively linked code in the worker
    /// ([`native::LinkedMapping`]) instead of as components.
    pub native: bool,
    /// A `sample` policy before the `redact` ones, if any.
    pub sample: Option<SampleSetup>,
    /// The `gen_ai.client.inference.operation.details` log event: `None` off, else emitted
    /// with (`true`) or without its content.
    pub inference_events: Option<bool>,
    /// Run received OTLP spans through the default ingest component.
    pub ingest: bool,
    /// Workers the pipeline is sharded over (by trace id).
    pub workers: usize,
}

/// How the `sample` policy of a pipeline benchmark is configured.
#[derive(Debug, Clone, Copy)]
pub struct SampleSetup {
    /// The share of traces kept.
    pub ratio: f64,
    /// A tail rule on (keep traces longer than an hour: none of the workload's), so that spans
    /// are held until their trace is complete; off, `sample` decides batch by batch from trace
    /// ids. Errors are not kept either way: every copy of the AG2 example has one, and the
    /// ratio would then keep everything.
    pub whole_traces: bool,
}

impl Default for PipelineSetup {
    fn default() -> Self {
        Self {
            capture_content: false,
            max_batch: 512,
            redact_policies: 1,
            native: false,
            sample: None,
            inference_events: None,
            ingest: false,
            workers: 1,
        }
    }
}

/// A tracer exporting OTLP/protobuf into `/dev/null`, with the default mapper and
/// `setup.redact_policies` copies of `redact` (as components, or linked natively), after
/// `sample` when `setup.sample` asks for it. It blocks instead of dropping when its queue is
/// full, so that every span of a throughput run is mapped and encoded (or sampled away).
pub fn pipeline_tracer(setup: PipelineSetup) -> anyhow::Result<Tracer> {
    let mut builder: TracerBuilder = Tracer::builder()
        .with_export(null_sink())
        .with_service_name("agentrace-bench")
        .with_capture_content(setup.capture_content)
        .with_max_batch(setup.max_batch)
        .with_flush_interval(Duration::from_secs(3600))
        .with_block_when_full(true)
        .with_workers(setup.workers);
    if let Some(with_content) = setup.inference_events {
        builder = builder.with_inference_events(true, with_content);
    }
    if setup.ingest {
        builder = builder.with_builtin_ingest();
    }
    if setup.native {
        let linked = native::LinkedMapping::new(setup.capture_content, setup.redact_policies)?;
        builder = builder.with_native_mapper(move || Box::new(linked.clone()));
    } else {
        if let Some(sample) = setup.sample {
            let mut policy = Policy::builtin(agentrace::BuiltinPolicy::Sample)
                .with_config("ratio", sample.ratio.to_string())
                .with_config("keep-errors", "false")
                .with_config("keep-guardrails", "false");
            if sample.whole_traces {
                policy = policy.with_config("keep-slower-than-ms", "3600000");
            }
            builder = builder.with_policy(policy);
        }
        for _ in 0..setup.redact_policies {
            builder = builder.with_policy(Policy::builtin(agentrace::BuiltinPolicy::Redact));
        }
    }
    Ok(builder.build()?)
}
