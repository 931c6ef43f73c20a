//! Configuring a [`Tracer`]: which mapper, its configuration (content capture, [`Compat`]
//! naming), the policy chain, export, queue and batch sizes, the sandbox's limits and grants.
//! [`TracerBuilder::build`] loads and checks every component before anything runs, so a
//! misconfiguration fails there, with its reason.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::InMemorySpanExporter;

use super::dry_run::DryRunMapper;
use super::mappers::BuiltinMapper;
use super::tracer::{Tracer, WorkerHandle};
use crate::component::sandbox::{Grants, Limits};
use crate::component::slot::Slot;
use crate::error::{Error, Result};
use crate::export::{ExportTarget, MetricSink, build_sinks};
use crate::pipeline::doorbell::Doorbell;
use crate::pipeline::export_runtime::ExportRuntime;
use crate::pipeline::hold::TraceHoldLimits;
use crate::pipeline::metrics::Metrics;
use crate::pipeline::recycle::FieldBoxes;
use crate::pipeline::shards::Router;
use crate::pipeline::worker::{Worker, WorkerParts};
use crate::pipeline::{BatchSettings, ReceivedBudget};
use crate::policy::Policy;
use crate::span_limits::SpanLimits;
use crate::stats::Stats;

/// How the default mapper names the agent concepts GenAI semconv lacks (speaker selection,
/// human input, code execution, conversations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compat {
    /// `agentrace.*` attributes beside the standard ones (the default).
    #[default]
    Semconv,
    /// AG2's own span names and `ag2.*` attributes, for dashboards built on AG2's tracing.
    Ag2,
}

impl Compat {
    /// The value the mapper reads from its `compat` configuration key.
    pub fn name(self) -> &'static str {
        match self {
            Compat::Semconv => "semconv",
            Compat::Ag2 => "ag2",
        }
    }
}

impl std::fmt::Display for Compat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Compat {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        match value.trim() {
            "semconv" => Ok(Compat::Semconv),
            "ag2" => Ok(Compat::Ag2),
            other => Err(Error::BadSetting {
                setting: "compat".into(),
                reason: format!("`{other}` is not a mode: choose `semconv` or `ag2`"),
            }),
        }
    }
}

/// Which mapper component to load.
#[derive(Debug, Clone)]
enum MapperSource {
    Builtin(BuiltinMapper),
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

/// Why a mapper file could not be read. A bare word that is neither a shipped mapper's name nor
/// an existing file was most likely meant as a name (`--mapper openinfrence`): say both.
fn mapper_file_error(path: &std::path::Path, source: std::io::Error) -> Error {
    let bare_word = path.components().count() == 1 && path.extension().is_none();
    if bare_word && source.kind() == std::io::ErrorKind::NotFound {
        return Error::BadSetting {
            setting: "mapper".into(),
            reason: format!(
                "`{}` is not a shipped mapper (choose one of {}) and no such file exists",
                path.display(),
                BuiltinMapper::names()
            ),
        };
    }
    Error::ReadComponent {
        path: path.to_path_buf(),
        source,
    }
}

/// Most workers a tracer runs ([`TracerBuilder::with_workers`]).
pub const MAX_WORKERS: usize = 256;

/// Configures and starts a [`Tracer`].
///
/// Defaults: the embedded mapper; content capture from
/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (`SPAN_ONLY`, `SPAN_AND_EVENT` or
/// `true` record it on spans; `EVENT_ONLY` and `SPAN_AND_EVENT` in the
/// `gen_ai.client.inference.operation.details` event on the logs signal, which
/// `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT` turns on or off; `NO_CONTENT` or `false` record none;
/// another value is reported once and leaves content unrecorded); exporter from the `OTEL_*` variables
/// ([`ExportTarget::from_env`]); resource from `OTEL_SERVICE_NAME` and
/// `OTEL_RESOURCE_ATTRIBUTES`; a queue of 65 536 events; batches of up to 512 spans or every
/// 200 ms; metrics exported every `OTEL_METRIC_EXPORT_INTERVAL` ms (60 s) and at flush.
#[derive(Debug, Clone)]
pub struct TracerBuilder {
    mapper: MapperSource,
    config: BTreeMap<String, String>,
    export: Option<ExportTarget>,
    service_name: Option<String>,
    queue_capacity: usize,
    workers: usize,
    block_when_full: bool,
    max_batch: usize,
    flush_interval: Duration,
    limits: Limits,
    span_limits: SpanLimits,
    trace_hold: TraceHoldLimits,
    grants: Grants,
    export_buffer_spans: usize,
    observer: Option<InMemorySpanExporter>,
    policies: Vec<Policy>,
    ingest: Option<IngestSource>,
    #[cfg(feature = "bench-internals")]
    native: Option<crate::bench_internals::NativeMapperFactory>,
}

/// Which ingest component to load for spans received as OTLP.
#[derive(Debug, Clone)]
enum IngestSource {
    Builtin,
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

impl Default for TracerBuilder {
    fn default() -> Self {
        let mut config: BTreeMap<String, String> =
            crate::env::content_capture().into_iter().collect();
        config.extend(crate::env::openinference_settings());
        Self {
            mapper: MapperSource::Builtin(BuiltinMapper::GenAi),
            config,
            export: None,
            service_name: None,
            queue_capacity: 65_536,
            workers: 1,
            block_when_full: false,
            max_batch: 512,
            flush_interval: Duration::from_millis(200),
            limits: Limits::default(),
            span_limits: SpanLimits::from_env(),
            trace_hold: TraceHoldLimits::default(),
            grants: Grants::default(),
            export_buffer_spans: 100_000,
            observer: None,
            policies: Vec::new(),
            ingest: None,
            #[cfg(feature = "bench-internals")]
            native: None,
        }
    }
}

impl TracerBuilder {
    /// Uses one of the mappers shipped with agentrace (the GenAI one by default).
    pub fn with_builtin_mapper(mut self, mapper: BuiltinMapper) -> Self {
        self.mapper = MapperSource::Builtin(mapper);
        self
    }

    /// A shipped mapper by name (`genai`, `openinference`), or else a `.wasm` component file:
    /// what `--mapper` and the language hosts' `mapper=` take. A value that names no shipped
    /// mapper is taken as a path; [`TracerBuilder::build`] reports a missing file with both
    /// readings.
    pub fn with_mapper(self, name_or_file: &str) -> Self {
        match name_or_file.parse::<BuiltinMapper>() {
            Ok(mapper) => self.with_builtin_mapper(mapper),
            Err(_) => self.with_mapper_file(name_or_file),
        }
    }

    /// Loads the mapper from a `.wasm` component file instead of the embedded default.
    pub fn with_mapper_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.mapper = MapperSource::File(path.into());
        self
    }

    /// Uses these component bytes as the mapper.
    pub fn with_mapper_bytes(mut self, bytes: impl Into<Arc<[u8]>>) -> Self {
        self.mapper = MapperSource::Bytes(bytes.into());
        self
    }

    /// Sets one configuration value the mapper reads through `host.config`.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Records message content, tool arguments and results on spans (off unless enabled).
    pub fn with_capture_content(self, capture: bool) -> Self {
        self.with_config("capture-content", capture.to_string())
    }

    /// Emits the opt-in `gen_ai.client.inference.operation.details` event on the logs signal
    /// for each inference call, with the call's content in it when `with_content` (what
    /// `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT` and the capture modes `EVENT_ONLY` /
    /// `SPAN_AND_EVENT` set). Off unless enabled.
    pub fn with_inference_events(self, emit: bool, with_content: bool) -> Self {
        self.with_config("emit-event", emit.to_string())
            .with_config("capture-content-in-events", with_content.to_string())
    }

    /// How agent concepts the spec lacks are named ([`Compat::Semconv`] by default).
    pub fn with_compat(self, compat: Compat) -> Self {
        self.with_config("compat", compat.name())
    }

    /// Where to export; overrides the `OTEL_*` variables.
    pub fn with_export(mut self, target: ExportTarget) -> Self {
        self.export = Some(target);
        self
    }

    /// The `service.name` resource attribute; overrides `OTEL_SERVICE_NAME`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Capacity of the queue between the runtime and the worker, in events.
    pub fn with_queue_capacity(mut self, events: usize) -> Self {
        self.queue_capacity = events.max(1);
        self
    }

    /// How many workers map and export, each on a thread of its own with its own instances of
    /// the components and its own connections to the receiver (default 1; at most
    /// [`MAX_WORKERS`]). The spans of one trace all go to one worker, chosen by trace id, so
    /// everything that works per trace (the span tree, policies that want whole traces, the
    /// ingest component) sees whole traces; a policy's other state (a rate limit's budget) is
    /// per worker. The queue ([`TracerBuilder::with_queue_capacity`]) and the export buffer
    /// ([`TracerBuilder::with_export_buffer`]) are shared out evenly; metrics are exported
    /// once, by the first worker. The default is 1 because each worker costs a thread and its
    /// own component instances, which an application tracing one agent seldom needs; `serve`
    /// defaults to the number of cores. BENCHMARKS.md ("Workers") has 1 against 2.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.clamp(1, MAX_WORKERS);
        self
    }

    /// When the queue is full: `false` (default) drops the event and counts it, never blocking
    /// the runtime; `true` waits for room (for replaying files, where nothing may be lost).
    pub fn with_block_when_full(mut self, block: bool) -> Self {
        self.block_when_full = block;
        self
    }

    /// Largest number of spans mapped in one call into the component.
    pub fn with_max_batch(mut self, spans: usize) -> Self {
        self.max_batch = spans.max(1);
        self
    }

    /// Longest a finished span waits before its batch is mapped.
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// What a span may carry: attributes, events and links per span, attributes per event and
    /// link, characters per attribute value. The default comes from the standard variables
    /// (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, ...), each one
    /// the specification's default when unset. Applied before the mapper sees a record, to the
    /// mapper's spans before the policies see them, and before export; what is cut is counted
    /// in the exported span's dropped counts.
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.span_limits = limits;
        self
    }

    /// How long and how much the worker holds spans for policies that want whole traces
    /// (`sample` with a tail rule, `propagate`, or a component exporting `grouping`): a trace
    /// is handed over once no span of it is open, or after `wait`; spans beyond `max_spans`
    /// skip those policies, counted (`spans_not_held`). Default: 30 s, 100 000 spans.
    pub fn with_trace_hold(mut self, limits: TraceHoldLimits) -> Self {
        self.trace_hold = limits;
        self
    }

    /// Limits every component instance runs under.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Appends a policy to the chain; policies run in the order they are added, after the
    /// mapper and before export.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policies.push(policy);
        self
    }

    /// Runs spans received as OTLP ([`Tracer::receive`]) through the ingest component in the
    /// `.wasm` file at `path` (world `ingest-plugin`), with the mapper's configuration, limits
    /// and grants. Without one, received spans pass on as they came.
    pub fn with_ingest_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ingest = Some(IngestSource::File(path.into()));
        self
    }

    /// Runs spans received as OTLP through the embedded default ingest component, which
    /// recognises AG2 (classic and 1.x), OpenInference, OpenLLMetry, spans on any version of the
    /// GenAI conventions and the Vercel AI SDK, and normalises them through the mapper
    /// (docs/otlp-in.md). Spans it does not recognise pass on as they came.
    pub fn with_builtin_ingest(mut self) -> Self {
        self.ingest = Some(IngestSource::Builtin);
        self
    }

    /// Received spans pass on as they came, through the policies only (the default).
    pub fn without_ingest(mut self) -> Self {
        self.ingest = None;
        self
    }

    /// Uses these component bytes as the ingest component ([`TracerBuilder::with_ingest_file`]).
    pub fn with_ingest_bytes(mut self, bytes: impl Into<Arc<[u8]>>) -> Self {
        self.ingest = Some(IngestSource::Bytes(bytes.into()));
        self
    }

    /// Grants components capabilities (environment variables, read-only directories, network).
    /// The default grants nothing.
    pub fn with_grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// Most spans kept in memory for retry while the exporter fails (default 100 000); older
    /// spans beyond it are dropped and counted.
    pub fn with_export_buffer(mut self, spans: usize) -> Self {
        self.export_buffer_spans = spans;
        self
    }

    /// Also hands every exported batch to `observer` (e.g. to print a span tree), in addition to
    /// the export target.
    pub fn with_span_observer(mut self, observer: InMemorySpanExporter) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Runs `make()`'s natively linked mapping code in the worker instead of the mapper
    /// component (which is still loaded, and still used by dry runs). For benchmarks only: see
    /// [`crate::bench_internals`].
    #[cfg(feature = "bench-internals")]
    pub fn with_native_mapper(
        mut self,
        make: impl Fn() -> Box<dyn crate::bench_internals::NativeMapper> + Send + Sync + 'static,
    ) -> Self {
        self.native = Some(crate::bench_internals::NativeMapperFactory(Arc::new(make)));
        self
    }

    /// Loads and checks the mapper and the policies, builds the exporters and starts the worker
    /// thread. Errors say which part failed: the component file, its world, its configuration,
    /// the exporter.
    pub fn build(self) -> Result<Tracer> {
        let bytes: Arc<[u8]> = match &self.mapper {
            MapperSource::Builtin(mapper) => Arc::from(mapper.component()),
            MapperSource::File(path) => {
                Arc::from(std::fs::read(path).map_err(|source| mapper_file_error(path, source))?)
            }
            MapperSource::Bytes(bytes) => bytes.clone(),
        };
        let mapper = Slot::load(
            &bytes,
            "mapper",
            self.config.clone(),
            self.limits,
            self.grants.clone(),
        )?;
        let policies = self
            .policies
            .iter()
            .map(|policy| policy.load(self.limits, &self.grants))
            .collect::<Result<Vec<_>>>()?;
        let ingest = match &self.ingest {
            None => None,
            Some(source) => {
                let bytes: Arc<[u8]> = match source {
                    IngestSource::Builtin => Arc::from(crate::default_ingest_component()),
                    IngestSource::File(path) => {
                        Arc::from(std::fs::read(path).map_err(|source| Error::ReadComponent {
                            path: path.clone(),
                            source,
                        })?)
                    }
                    IngestSource::Bytes(bytes) => bytes.clone(),
                };
                Some(Slot::load(
                    &bytes,
                    "ingest",
                    self.config.clone(),
                    self.limits,
                    self.grants.clone(),
                )?)
            }
        };
        // Dry runs get their own instance of the same component: a trap there must not touch
        // the live instance's health.
        let dry_run = DryRunMapper::from_component(mapper.component.clone());

        let mut resource = Resource::builder();
        if let Some(name) = &self.service_name {
            resource = resource.with_service_name(name.clone());
        }
        let resource = resource.build();
        let export = match &self.export {
            Some(target) => target.clone(),
            None => ExportTarget::from_env(),
        };
        let workers = self.workers;
        // Every worker after the first gets instances of its own of the same components.
        let mut components = Vec::with_capacity(workers);
        for _ in 1..workers {
            components.push((
                mapper.replica()?,
                policies
                    .iter()
                    .map(Slot::replica)
                    .collect::<Result<Vec<_>>>()?,
                ingest.as_ref().map(Slot::replica).transpose()?,
            ));
        }
        components.insert(0, (mapper, policies, ingest));

        let stats = Arc::new(Stats::default());
        let boxes = FieldBoxes::default();
        let received_budget = Arc::new(ReceivedBudget::new(self.queue_capacity));
        let settings = BatchSettings {
            max_batch: self.max_batch,
            flush_interval: self.flush_interval,
            metric_interval: crate::env::metric_interval(),
            export_buffer_spans: (self.export_buffer_spans / workers).max(1),
            span_limits: self.span_limits,
            trace_hold: self.trace_hold,
        };
        // Each worker's exporters are bound to its own runtime; files and stdout are shared.
        // With an OTLP target each runtime has a thread of its own, where span exports run
        // while the worker goes on; other targets' runtimes run only inside the worker's calls.
        let runtimes = (0..workers)
            .map(|_| {
                let mut builder = if matches!(export, ExportTarget::Otlp(_)) {
                    let mut builder = tokio::runtime::Builder::new_multi_thread();
                    builder.worker_threads(1).thread_name("agentrace-export");
                    builder
                } else {
                    tokio::runtime::Builder::new_current_thread()
                };
                builder
                    .enable_all()
                    .build()
                    .map_err(|e| Error::engine("cannot start the export runtime", e))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut first_sinks = {
            let _guard = runtimes[0].enter();
            build_sinks(&export, &resource)?
        };
        let mut sinks = Vec::with_capacity(workers);
        for runtime in &runtimes[1..] {
            let _guard = runtime.enter();
            sinks.push(first_sinks.for_another_worker(&export, &resource)?);
        }
        let tracer_resource = resource.clone();
        // The first worker exports the metrics every worker records.
        let first_metrics = Metrics::new(
            std::mem::replace(&mut first_sinks.metrics, MetricSink::None),
            resource,
            settings.metric_interval,
            &stats,
        );
        let mut metrics: Vec<Metrics> = (1..workers).map(|_| first_metrics.recorder()).collect();
        metrics.insert(0, first_metrics);
        sinks.insert(0, first_sinks);
        let mut runtimes = runtimes.into_iter();
        let (first_runtime, shutdown_deadline) =
            ExportRuntime::new(runtimes.next().expect("at least one worker"));
        let export_runtimes: Vec<ExportRuntime> = std::iter::once(first_runtime)
            .chain(runtimes.map(|runtime| ExportRuntime::listening_to(runtime, &shutdown_deadline)))
            .collect();

        let mut handles = Vec::with_capacity(workers);
        let mut running = Vec::with_capacity(workers);
        let parts = components
            .into_iter()
            .zip(sinks)
            .zip(metrics)
            .zip(export_runtimes)
            .enumerate();
        for (index, ((((mapper, policies, ingest), sinks), metrics), runtime)) in parts {
            let (sender, queue) =
                crossbeam_channel::bounded((self.queue_capacity / workers).max(1));
            let (swap_sender, swaps) = crossbeam_channel::bounded(16);
            let doorbell = Arc::new(Doorbell::new());
            let worker = Worker::new(WorkerParts {
                queue,
                swaps,
                stats: stats.clone(),
                settings,
                mapper,
                policies,
                ingest,
                sinks,
                metrics,
                runtime,
                observer: self.observer.clone(),
                boxes: boxes.clone(),
                doorbell: doorbell.clone(),
                received_budget: received_budget.clone(),
                #[cfg(feature = "bench-internals")]
                native: self.native.as_ref().map(|factory| (factory.0)()),
            });
            let name = if workers == 1 {
                "agentrace-worker".to_string()
            } else {
                format!("agentrace-worker-{index}")
            };
            let handle = std::thread::Builder::new()
                .name(name)
                .spawn(move || worker.run())
                .map_err(|e| Error::engine("cannot start a worker thread", e))?;
            handles.push(WorkerHandle {
                sender,
                swaps: swap_sender,
                thread: handle.thread().clone(),
                doorbell,
            });
            running.push(handle);
        }
        Ok(Tracer {
            workers: handles,
            router: (workers > 1).then(|| Router::new(workers)),
            boxes,
            stats,
            running: Mutex::new(running),
            shutdown_deadline,
            block_when_full: self.block_when_full,
            config: self.config,
            limits: self.limits,
            grants: self.grants,
            dry_run: Mutex::new(dry_run),
            received_budget,
            resource: tracer_resource,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_modes_parse_and_a_wrong_one_names_the_choices() {
        assert_eq!("ag2".parse::<Compat>().unwrap(), Compat::Ag2);
        assert_eq!(" semconv ".parse::<Compat>().unwrap(), Compat::Semconv);
        assert_eq!(
            "AG2".parse::<Compat>().unwrap_err().to_string(),
            "compat: `AG2` is not a mode: choose `semconv` or `ag2`"
        );
    }
}
