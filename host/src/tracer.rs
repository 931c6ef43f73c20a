//! The API an in-process runtime uses: a [`TracerBuilder`] to configure, a [`Tracer`] to report
//! span lifecycles. Reporting never waits for wasm or export: each call builds one message and
//! pushes it onto a bounded queue read by the pipeline's worker thread.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::InMemorySpanExporter;

use crate::doorbell::{Doorbell, WAKE_BACKLOG};
use crate::error::{Error, Result};
use crate::events::{Lifecycle, Operation, Parent, now_nanos};
use crate::export::{ExportTarget, build_sinks};
use crate::ids::{SpanContext, SpanId, TraceId};
use crate::pipeline::{BatchSettings, Message, Swap, SwapRequest, Worker};
use crate::plugin::{self, Grants, Limits, MapperComponent, PolicyComponent};
use crate::record::{Attributes, SpanFields};
use crate::recycle::FieldBoxes;
use crate::slot::Slot;
use crate::stats::{Stats, StatsSnapshot};

/// A policy in the chain, with its configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Where the component comes from.
    pub source: PolicySource,
    /// Its configuration, read by the component through `host.config`.
    pub config: BTreeMap<String, String>,
}

/// Where a policy component comes from.
#[derive(Debug, Clone)]
pub enum PolicySource {
    /// A policy shipped with agentrace: `redact`, `drop-content` or `truncate`.
    Builtin(String),
    /// A `.wasm` component file implementing `agentrace:plugin/policy-plugin`.
    File(PathBuf),
}

impl Policy {
    /// A shipped policy (`redact`, `drop-content`, `truncate`) with no configuration.
    pub fn builtin(name: impl Into<String>) -> Self {
        Self {
            source: PolicySource::Builtin(name.into()),
            config: BTreeMap::new(),
        }
    }

    /// A policy component from a file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            source: PolicySource::File(path.into()),
            config: BTreeMap::new(),
        }
    }

    /// A built-in policy by name, or a component file when `source` ends in `.wasm`: the
    /// spelling the CLI's `--policy` and the language bindings accept.
    pub fn from_source(source: &str) -> Self {
        if source.ends_with(".wasm") {
            Policy::file(source)
        } else {
            Policy::builtin(source)
        }
    }

    /// Reads a policy chain from a JSON file:
    ///
    /// ```json
    /// {"policies": [
    ///   {"policy": "redact", "config": {"action": "hash", "hash-key": "change-me"}},
    ///   {"policy": "my-policy.wasm", "config": {"environment": "prod", "limit": 3}}
    /// ]}
    /// ```
    ///
    /// `policy` is a built-in name or a `.wasm` path (relative paths are taken from the file's
    /// folder); configuration values may be strings, numbers or booleans. Errors name the file
    /// and the entry.
    pub fn load_chain(path: &std::path::Path) -> Result<Vec<Policy>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Chain {
            policies: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            policy: String,
            #[serde(default)]
            config: BTreeMap<String, serde_json::Value>,
        }
        let bad = |why: String| Error::BadEvent(format!("policy file {}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let chain: Chain = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let folder = path.parent().unwrap_or(std::path::Path::new("."));
        chain
            .policies
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                let mut policy = if entry.policy.ends_with(".wasm") {
                    Policy::file(folder.join(&entry.policy))
                } else {
                    Policy::builtin(entry.policy)
                };
                for (key, value) in entry.config {
                    let value = match value {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(bad(format!(
                                "policy {index}: `{key}` must be a string, number or boolean, \
                                 got {other}"
                            )));
                        }
                    };
                    policy = policy.with_config(key, value);
                }
                Ok(policy)
            })
            .collect()
    }

    /// Adds one configuration value.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// The name used in logs, counters and the fail-closed marker: the built-in name, or the
    /// file's stem.
    pub fn name(&self) -> String {
        match &self.source {
            PolicySource::Builtin(name) => name.clone(),
            PolicySource::File(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        }
    }

    fn component(&self, limits: Limits, grants: &Grants) -> Result<PolicyComponent> {
        let mut config = self.config.clone();
        let bytes: Vec<u8> = match &self.source {
            PolicySource::Builtin(name) => {
                if !plugin::BUILTIN_POLICIES.contains(&name.as_str()) {
                    return Err(Error::WrongWorld(format!(
                        "no built-in policy `{name}`: choose one of {}",
                        plugin::BUILTIN_POLICIES.join(", ")
                    )));
                }
                config.insert("policy".to_string(), name.clone());
                plugin::builtin_policies_bytes().to_vec()
            }
            PolicySource::File(path) => {
                std::fs::read(path).map_err(|source| Error::ReadComponent {
                    path: path.clone(),
                    source,
                })?
            }
        };
        let component = plugin::compile(&bytes)?;
        PolicyComponent::new(&component, &self.name(), config, limits, grants.clone())
    }
}

/// Which mapper component to load.
#[derive(Debug, Clone)]
enum MapperSource {
    Embedded,
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

/// Configures and starts a [`Tracer`].
///
/// Defaults: the embedded mapper; content capture from
/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`; exporter from the `OTEL_*` variables
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
    block_when_full: bool,
    max_batch: usize,
    flush_interval: Duration,
    metric_interval: Option<Duration>,
    limits: Limits,
    grants: Grants,
    export_buffer_spans: usize,
    observer: Option<InMemorySpanExporter>,
    policies: Vec<Policy>,
    #[cfg(feature = "native-mapper")]
    native: Option<crate::native::NativeMapperFactory>,
}

impl Default for TracerBuilder {
    fn default() -> Self {
        let mut config = BTreeMap::new();
        if let Ok(value) = std::env::var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") {
            config.insert(
                "capture-content".to_string(),
                value.trim().to_ascii_lowercase(),
            );
        }
        Self {
            mapper: MapperSource::Embedded,
            config,
            export: None,
            service_name: None,
            queue_capacity: 65_536,
            block_when_full: false,
            max_batch: 512,
            flush_interval: Duration::from_millis(200),
            metric_interval: None,
            limits: Limits::default(),
            grants: Grants::default(),
            export_buffer_spans: 100_000,
            observer: None,
            policies: Vec::new(),
            #[cfg(feature = "native-mapper")]
            native: None,
        }
    }
}

impl TracerBuilder {
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

    /// Records message content, tool arguments and results (off unless enabled).
    pub fn with_capture_content(self, capture: bool) -> Self {
        self.with_config("capture-content", if capture { "true" } else { "false" })
    }

    /// `semconv` (default) or `ag2` naming for agent concepts the spec lacks.
    pub fn with_compat(self, compat: impl Into<String>) -> Self {
        self.with_config("compat", compat)
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

    fn metric_interval(&self) -> Duration {
        self.metric_interval.unwrap_or_else(|| {
            std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_millis)
                .unwrap_or(Duration::from_secs(60))
        })
    }

    /// Runs `make()`'s natively linked mapping code in the worker instead of the mapper
    /// component (which is still loaded, and still used by dry runs). For benchmarks only: see
    /// [`crate::native`].
    #[cfg(feature = "native-mapper")]
    pub fn with_native_mapper(
        mut self,
        make: impl Fn() -> Box<dyn crate::native::NativeMapper> + Send + Sync + 'static,
    ) -> Self {
        self.native = Some(crate::native::NativeMapperFactory(Arc::new(make)));
        self
    }

    /// Loads and checks the mapper, builds the exporters and starts the worker thread. Errors
    /// say which part failed: the component file, its world, its configuration, the exporter.
    pub fn build(self) -> Result<Tracer> {
        let bytes: Arc<[u8]> = match &self.mapper {
            MapperSource::Embedded => Arc::from(plugin::default_mapper_bytes()),
            MapperSource::File(path) => {
                Arc::from(std::fs::read(path).map_err(|source| Error::ReadComponent {
                    path: path.clone(),
                    source,
                })?)
            }
            MapperSource::Bytes(bytes) => bytes.clone(),
        };
        let component = plugin::compile(&bytes)?;
        let mapper = MapperComponent::new(
            &component,
            self.config.clone(),
            self.limits,
            self.grants.clone(),
        )?;
        let instance = mapper.instantiate()?;
        let mut policies = Vec::with_capacity(self.policies.len());
        for policy in &self.policies {
            let component = policy.component(self.limits, &self.grants)?;
            let instance = component.instantiate()?;
            policies.push(Slot::new(component, instance));
        }

        let mut resource = Resource::builder();
        if let Some(name) = &self.service_name {
            resource = resource.with_service_name(name.clone());
        }
        let resource = resource.build();
        let export = match &self.export {
            Some(target) => target.clone(),
            None => ExportTarget::from_env()?,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Exporter(format!("cannot start the export runtime: {e}")))?;
        let (spans, metrics) = {
            let _guard = runtime.enter();
            build_sinks(&export, &resource)?
        };

        let stats = Arc::new(Stats::default());
        let (sender, receiver) = crossbeam_channel::bounded(self.queue_capacity);
        let boxes = FieldBoxes::default();
        let (swap_sender, swap_receiver) = crossbeam_channel::bounded(16);
        let settings = BatchSettings {
            max_batch: self.max_batch,
            flush_interval: self.flush_interval,
            metric_interval: self.metric_interval(),
            export_buffer_spans: self.export_buffer_spans,
        };
        let doorbell = Arc::new(Doorbell::new());
        #[allow(unused_mut, reason = "set only with the native-mapper feature")]
        let mut worker = Worker::new(
            receiver,
            swap_receiver,
            stats.clone(),
            settings,
            mapper,
            instance,
            spans,
            metrics,
            resource,
            runtime,
            self.observer,
            policies,
            boxes.clone(),
            doorbell.clone(),
        );
        #[cfg(feature = "native-mapper")]
        {
            worker.native = self.native.as_ref().map(|factory| (factory.0)());
        }
        let handle = std::thread::Builder::new()
            .name("agentrace-worker".into())
            .spawn(move || worker.run())
            .map_err(|e| Error::Engine(format!("cannot start the worker thread: {e}")))?;
        Ok(Tracer {
            worker_thread: handle.thread().clone(),
            doorbell,
            sender,
            swaps: swap_sender,
            boxes,
            stats,
            worker: Mutex::new(Some(handle)),
            block_when_full: self.block_when_full,
            config: self.config,
            limits: self.limits,
            grants: self.grants,
        })
    }
}

/// Reports agent-span lifecycles. Cheap to share (`Arc<Tracer>`); every method takes `&self`
/// and is safe to call from any thread. No method panics or blocks on wasm or export.
pub struct Tracer {
    sender: Sender<Message>,
    swaps: Sender<SwapRequest>,
    boxes: FieldBoxes,
    stats: Arc<Stats>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// The worker's thread, to wake through `doorbell`.
    worker_thread: Thread,
    doorbell: Arc<Doorbell>,
    block_when_full: bool,
    config: BTreeMap<String, String>,
    limits: Limits,
    grants: Grants,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Tracer {
    /// A builder with the defaults described on [`TracerBuilder`].
    pub fn builder() -> TracerBuilder {
        TracerBuilder::default()
    }

    /// Queues one lifecycle event. Returns `false` when it was dropped (queue full, or the
    /// tracer shut down); drops are counted in [`Tracer::stats`].
    pub fn report(&self, event: Lifecycle) -> bool {
        let message = Message::Event(event);
        let sent = if self.block_when_full {
            self.sender.send(message).is_ok()
        } else {
            match self.sender.try_send(message) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    Stats::add(&self.stats.events_dropped_queue_full, 1);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        };
        if sent {
            Stats::add(&self.stats.events_queued, 1);
            // The queue's length is read only while the worker naps.
            if self.doorbell.is_napping() && self.sender.len() >= WAKE_BACKLOG {
                self.doorbell.ring(&self.worker_thread);
            }
        }
        sent
    }

    /// Wakes a napping worker for a control message just sent.
    fn wake_worker(&self) {
        self.doorbell.ring(&self.worker_thread);
    }

    /// Starts a span under `parent` (a new trace when `None`) and returns its context, to pass
    /// to [`Tracer::end`] and to children, or to propagate as a `traceparent`.
    pub fn start(
        &self,
        operation: Operation,
        parent: Option<&SpanContext>,
        fields: SpanFields,
    ) -> SpanContext {
        let trace_id = parent.map_or_else(TraceId::random, |p| p.trace_id);
        let context = SpanContext::new(trace_id, SpanId::random());
        self.report(Lifecycle::Start {
            span_id: context.span_id,
            trace_id: Some(trace_id),
            parent: parent.map_or(Parent::Root, |p| Parent::Local(p.span_id)),
            operation,
            time: now_nanos(),
            fields: self.boxes.boxed(fields),
        });
        context
    }

    /// Starts a span whose parent lives in another process, from its W3C `traceparent`.
    pub fn start_remote(
        &self,
        operation: Operation,
        traceparent: &str,
        fields: SpanFields,
    ) -> Result<SpanContext> {
        let remote = SpanContext::from_traceparent(traceparent)?;
        Ok(self.start_under_remote(operation, remote, fields))
    }

    /// Starts a span whose parent lives outside this tracer: in another process, or in another
    /// tracing library of the same process (an OpenTelemetry SDK span, say). The new span joins
    /// the parent's trace.
    pub fn start_under_remote(
        &self,
        operation: Operation,
        remote: SpanContext,
        fields: SpanFields,
    ) -> SpanContext {
        let context = SpanContext::new(remote.trace_id, SpanId::random());
        self.report(Lifecycle::Start {
            span_id: context.span_id,
            trace_id: Some(remote.trace_id),
            parent: Parent::Remote(remote),
            operation,
            time: now_nanos(),
            fields: self.boxes.boxed(fields),
        });
        context
    }

    /// Counts an event that a binding refused before it reached the queue (bad input from the
    /// runtime, e.g. a field of the wrong type), as `agentrace.events.rejected`, and keeps
    /// `message` among the recent errors of [`Tracer::stats`].
    pub fn reject(&self, message: impl Into<String>) {
        Stats::add(&self.stats.events_rejected, 1);
        self.stats.error(message.into());
    }

    /// Whether the mapper is configured to record content (`capture-content`), so a runtime
    /// can skip assembling messages that would be dropped anyway.
    pub fn captures_content(&self) -> bool {
        self.config
            .get("capture-content")
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    }

    /// Adds fields known only later (e.g. a conversation id) to an open span.
    pub fn update(&self, span: &SpanContext, fields: SpanFields) {
        self.report(Lifecycle::Update {
            span_id: span.span_id,
            fields: self.boxes.boxed(fields),
        });
    }

    /// Records a point in time inside an open span.
    pub fn event(&self, span: &SpanContext, name: impl Into<String>, attributes: Attributes) {
        self.report(Lifecycle::Event {
            span_id: span.span_id,
            name: name.into(),
            time: now_nanos(),
            attributes,
        });
    }

    /// Ends a span with what is known at the end (usage, result, error).
    pub fn end(&self, span: &SpanContext, fields: SpanFields) {
        self.report(Lifecycle::End {
            span_id: span.span_id,
            time: now_nanos(),
            fields: self.boxes.boxed(fields),
        });
    }

    /// Replaces the mapper at run time with the component in `bytes` (same configuration,
    /// limits and grants as at build). The new component is compiled and checked here, on the
    /// caller's thread: if it does not load, this returns the reason and the old one keeps
    /// running. Otherwise the worker switches at its next event, without waiting for the queue
    /// to drain: spans it has already received are mapped by the old mapper, every later one
    /// (including spans still queued) by the new; none is lost or mapped twice. Returns once the
    /// new mapper is active (or after `timeout`): every span ended after that goes through it.
    pub fn swap_mapper(&self, bytes: &[u8], timeout: Duration) -> Result<()> {
        let checked = plugin::compile(bytes).and_then(|component| {
            let mapper = MapperComponent::new(
                &component,
                self.config.clone(),
                self.limits,
                self.grants.clone(),
            )?;
            let instance = mapper.instantiate()?;
            Ok(Swap::Mapper(Box::new(Slot::new(mapper, instance))))
        });
        self.swap(checked, timeout)
    }

    /// Replaces the whole policy chain at run time, with the same guarantees as
    /// [`Tracer::swap_mapper`]. An empty list removes every policy.
    pub fn swap_policies(&self, policies: &[Policy], timeout: Duration) -> Result<()> {
        let checked = policies
            .iter()
            .map(|policy| {
                let component = policy.component(self.limits, &self.grants)?;
                let instance = component.instantiate()?;
                Ok(Slot::new(component, instance))
            })
            .collect::<Result<Vec<_>>>()
            .map(Swap::Policies);
        self.swap(checked, timeout)
    }

    fn swap(&self, checked: Result<Swap>, timeout: Duration) -> Result<()> {
        let swap = checked.inspect_err(|error| {
            Stats::add(&self.stats.component_reload_failures, 1);
            self.stats.error(format!("reload refused: {error}"));
        })?;
        let (ack, done) = crossbeam_channel::bounded(1);
        self.swaps
            .send_timeout((Box::new(swap), ack), timeout)
            .map_err(|_| Error::Timeout(timeout))?;
        // An idle worker waits on the event queue: wake it. A full queue needs no wake-up (the
        // worker checks for swaps before every event).
        let _ = self.sender.try_send(Message::Wake);
        self.wake_worker();
        done.recv_timeout(timeout)
            .map_err(|_| Error::Timeout(timeout))
    }

    /// A dry run: maps `records` with the live mapper (its configuration, limits and any swap
    /// so far) and returns what it made of them; nothing is exported and no policy runs. For
    /// checking what a host in another language sends (the sidecar's `POST /v1/map`, the
    /// conformance vectors). Waits behind the events already queued, up to `timeout`.
    pub fn map_records(
        &self,
        records: Vec<crate::bindings::types::AgentSpan>,
        timeout: Duration,
    ) -> Result<crate::bindings::types::MappedBatch> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.sender
            .send_timeout(Message::Map(records, reply), timeout)
            .map_err(|_| Error::Timeout(timeout))?;
        self.wake_worker();
        answer
            .recv_timeout(timeout)
            .map_err(|_| Error::Timeout(timeout))?
            .map_err(Error::Mapper)
    }

    /// Maps and exports everything ended so far, and exports metrics; waits up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let (ack, done) = crossbeam_channel::bounded(1);
        self.sender
            .send_timeout(Message::Flush(ack), timeout)
            .map_err(|_| Error::ShutDown)?;
        self.wake_worker();
        done.recv_timeout(timeout)
            .map_err(|_| Error::Timeout(timeout))
    }

    /// Ends spans still open (marked incomplete), flushes, and stops the worker; retries failed
    /// exports until `timeout`, then counts what is left as dropped. Later calls report
    /// nothing.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        let Some(handle) = self.worker.lock().ok().and_then(|mut w| w.take()) else {
            return Err(Error::ShutDown);
        };
        let (ack, done) = crossbeam_channel::bounded(1);
        let deadline = std::time::Instant::now() + timeout;
        self.sender
            .send_timeout(Message::Shutdown(ack, deadline), timeout)
            .map_err(|_| Error::Timeout(timeout))?;
        self.wake_worker();
        // The worker gives up on retries at the deadline; allow it a moment to report.
        done.recv_timeout(timeout + Duration::from_secs(2))
            .map_err(|_| Error::Timeout(timeout))?;
        let _ = handle.join();
        Ok(())
    }

    /// The pipeline's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.shutdown(Duration::from_secs(5));
    }
}
