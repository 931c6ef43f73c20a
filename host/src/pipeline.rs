//! The worker thread: it owns the open-span table, assembles finished spans, maps them in
//! batches through the mapper component, converts and exports the result, and records metrics.
//!
//! Everything the runtime reports arrives here through one bounded queue, so the runtime's calls
//! cost an allocation and a queue push; wasm and export happen only on this thread.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SpanData;

use crate::bindings::policy::Verdict;
use crate::bindings::types as wit;
use crate::convert::{self, FinishedSpan};
use crate::doorbell::Doorbell;
use crate::events::{Lifecycle, Parent};
use crate::export::{MetricSink, SpanSink};
use crate::ids::{SpanId, TraceId};
use crate::plugin::{self, MapperComponent, MapperInstance, PolicyComponent};
use crate::record::{Merge, SpanFields};
use crate::recycle::FieldBoxes;
use crate::slot::{Slot, backoff};
use crate::stats::Stats;
use crate::{fail_closed, fallback};

/// How long the worker sleeps on an empty queue while events are flowing
/// ([`Worker::next_message`]).
const IDLE_POLL: Duration = Duration::from_millis(1);
/// Empty polls in a row (about 50 ms without an event) before the worker blocks instead.
const IDLE_POLLS_BEFORE_BLOCKING: u32 = 50;

/// What travels through the queue.
pub(crate) enum Message {
    Event(Lifecycle),
    Flush(Sender<()>),
    /// Only wakes the worker, so that it sees a [`SwapRequest`] while otherwise idle.
    Wake,
    /// Map these records with the live mapper and answer, exporting nothing (a dry run).
    Map(
        Vec<wit::AgentSpan>,
        Sender<Result<wit::MappedBatch, String>>,
    ),
    /// Shut down, giving up on unexported spans at the deadline.
    Shutdown(Sender<()>, Instant),
}

/// A replacement and whom to tell once it is active. Swaps travel on their own channel, which the
/// worker reads before every event: a swap takes effect at the next event boundary instead of
/// waiting behind a full queue.
pub(crate) type SwapRequest = (Box<Swap>, Sender<()>);

/// A checked, ready replacement.
pub(crate) enum Swap {
    /// A new mapper with its first instance.
    Mapper(Box<Slot<MapperComponent>>),
    /// A new policy chain.
    Policies(Vec<Slot<PolicyComponent>>),
}

/// Batching settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    pub(crate) max_batch: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) metric_interval: Duration,
    /// Most spans kept for retry while the exporter fails.
    pub(crate) export_buffer_spans: usize,
}

/// Batches waiting for the exporter to come back, oldest first, bounded in spans.
#[derive(Default)]
struct RetryBuffer {
    batches: VecDeque<Vec<SpanData>>,
    spans: usize,
    failures: u32,
    next_attempt: Option<Instant>,
}

struct OpenSpan {
    trace_id: TraceId,
    parent_span_id: Option<SpanId>,
    parent_is_remote: bool,
    operation: crate::events::Operation,
    start_time: u64,
    /// The start's box itself: the fields stay where the runtime put them until the span is
    /// mapped, instead of moving 1.6 KB at every step.
    fields: Box<SpanFields>,
    events: Vec<(String, u64, crate::record::Attributes)>,
}

/// How many ended spans are remembered, to resolve late children and to tell "after end" apart
/// from "unknown" in error messages.
const RECENTLY_ENDED: usize = 65_536;

struct Metrics {
    provider: SdkMeterProvider,
    reader: Arc<ManualReader>,
    histograms: HashMap<String, Histogram<f64>>,
    batch_duration: Histogram<f64>,
    sink: MetricSink,
    last_export: Instant,
}

pub(crate) struct Worker {
    pub(crate) receiver: Receiver<Message>,
    swaps: Receiver<SwapRequest>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) settings: BatchSettings,
    mapper: Slot<MapperComponent>,
    pub(crate) spans: SpanSink,
    pub(crate) runtime: tokio::runtime::Runtime,
    open: HashMap<SpanId, OpenSpan>,
    ended: HashMap<SpanId, TraceId>,
    ended_order: VecDeque<SpanId>,
    pending: Vec<FinishedSpan>,
    metrics: Metrics,
    scopes: HashMap<String, InstrumentationScope>,
    observer: Option<opentelemetry_sdk::trace::InMemorySpanExporter>,
    retry: RetryBuffer,
    policies: Vec<Slot<PolicyComponent>>,
    boxes: FieldBoxes,
    /// Rung by senders to end a nap early.
    doorbell: Arc<Doorbell>,
    /// Natively linked mapping code that replaces the mapper component (benchmarks only).
    #[cfg(feature = "native-mapper")]
    pub(crate) native: Option<Box<dyn crate::native::NativeMapper>>,
}

/// Shares one manual reader between the meter provider and the worker that collects from it.
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl opentelemetry_sdk::metrics::reader::MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(
        &self,
        kind: opentelemetry_sdk::metrics::InstrumentKind,
    ) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality(kind)
    }
}

impl Worker {
    #[allow(
        clippy::too_many_arguments,
        reason = "internal constructor called once"
    )]
    pub(crate) fn new(
        receiver: Receiver<Message>,
        swaps: Receiver<SwapRequest>,
        stats: Arc<Stats>,
        settings: BatchSettings,
        component: MapperComponent,
        instance: MapperInstance,
        spans: SpanSink,
        metric_sink: MetricSink,
        resource: Resource,
        runtime: tokio::runtime::Runtime,
        observer: Option<opentelemetry_sdk::trace::InMemorySpanExporter>,
        policies: Vec<Slot<PolicyComponent>>,
        boxes: FieldBoxes,
        doorbell: Arc<Doorbell>,
    ) -> Self {
        let reader = Arc::new(
            ManualReader::builder()
                .with_temporality(metric_sink.temporality())
                .build(),
        );
        let provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(SharedReader(reader.clone()))
            .build();
        let own = provider.meter("agentrace");
        stats.register(&own);
        let batch_duration = own
            .f64_histogram("agentrace.batch.duration")
            .with_unit("s")
            .with_description("Time to map and export one batch.")
            .build();
        Self {
            receiver,
            swaps,
            stats,
            settings,
            mapper: Slot::new(component, instance),
            spans,
            runtime,
            open: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            pending: Vec::new(),
            metrics: Metrics {
                provider,
                reader,
                histograms: HashMap::new(),
                batch_duration,
                sink: metric_sink,
                last_export: Instant::now(),
            },
            scopes: HashMap::new(),
            observer,
            retry: RetryBuffer::default(),
            policies,
            boxes,
            doorbell,
            #[cfg(feature = "native-mapper")]
            native: None,
        }
    }

    /// The next message, waiting up to `wait`. While events keep coming, an empty queue is
    /// polled every [`IDLE_POLL`] instead of waited on: a blocked receiver would make every
    /// `try_send` on the runtime's thread wake it (a futex call, measured at 1–2 µs per span
    /// from Python when the worker keeps up and sleeps between events). Senders cut a nap
    /// short through the [`Doorbell`]: control messages always, events once a backlog builds
    /// up. After [`IDLE_POLLS_BEFORE_BLOCKING`] empty polls the worker blocks until the next
    /// message.
    fn next_message(
        &self,
        wait: Duration,
        idle_polls: &mut u32,
    ) -> Result<Message, RecvTimeoutError> {
        let began = Instant::now();
        while *idle_polls < IDLE_POLLS_BEFORE_BLOCKING {
            match self.receiver.try_recv() {
                Ok(message) => {
                    *idle_polls = 0;
                    return Ok(message);
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    return Err(RecvTimeoutError::Disconnected);
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    if began.elapsed() >= wait {
                        return Err(RecvTimeoutError::Timeout);
                    }
                    *idle_polls += 1;
                    self.doorbell
                        .nap(IDLE_POLL.min(wait.saturating_sub(began.elapsed())), || {
                            self.receiver.is_empty()
                        });
                }
            }
        }
        let message = self
            .receiver
            .recv_timeout(wait.saturating_sub(began.elapsed()));
        if message.is_ok() {
            *idle_polls = 0;
        }
        message
    }

    /// Runs until shutdown (or until every sender is gone).
    pub(crate) fn run(mut self) {
        let mut last_batch = Instant::now();
        let mut idle_polls = 0;
        loop {
            let mut wait = self
                .settings
                .flush_interval
                .saturating_sub(last_batch.elapsed());
            if let Some(at) = self.retry.next_attempt {
                wait = wait.min(at.saturating_duration_since(Instant::now()));
            }
            let message = self.next_message(wait, &mut idle_polls);
            if self.apply_swaps() {
                last_batch = Instant::now();
            }
            match message {
                Ok(Message::Event(event)) => {
                    self.handle(event);
                    if self.pending.len() >= self.settings.max_batch {
                        self.map_pending();
                        last_batch = Instant::now();
                    }
                }
                Ok(Message::Wake) => {}
                Ok(Message::Map(records, reply)) => {
                    let _ = reply.send(self.call_mapper(&records));
                }
                Ok(Message::Flush(ack)) => {
                    self.map_pending();
                    self.export_metrics();
                    last_batch = Instant::now();
                    let _ = ack.send(());
                }
                Ok(Message::Shutdown(ack, deadline)) => {
                    self.finish(deadline);
                    let _ = ack.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.retry_exports();
                    self.map_pending();
                    if self.metrics.last_export.elapsed() >= self.settings.metric_interval {
                        self.export_metrics();
                    }
                    last_batch = Instant::now();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish(Instant::now() + Duration::from_secs(5));
                    return;
                }
            }
        }
    }

    /// Applies the swaps waiting, if any: spans already received go through the old components
    /// first. Returns whether there was one.
    fn apply_swaps(&mut self) -> bool {
        let mut swapped = false;
        while let Ok((swap, ack)) = self.swaps.try_recv() {
            self.map_pending();
            match *swap {
                Swap::Mapper(mapper) => self.mapper = *mapper,
                Swap::Policies(policies) => self.policies = policies,
            }
            Stats::add(&self.stats.component_reloads, 1);
            let _ = ack.send(());
            swapped = true;
        }
        swapped
    }

    fn reject(&self, message: String) {
        Stats::add(&self.stats.events_rejected, 1);
        self.stats.error(message);
    }

    fn state_of(&self, span_id: SpanId) -> &'static str {
        if self.ended.contains_key(&span_id) {
            "has already ended"
        } else {
            "was never started"
        }
    }

    fn handle(&mut self, event: Lifecycle) {
        match event {
            Lifecycle::Start {
                span_id,
                trace_id,
                parent,
                operation,
                time,
                fields,
            } => {
                if self.open.contains_key(&span_id) || self.ended.contains_key(&span_id) {
                    return self.reject(format!("start: span {span_id} was already started"));
                }
                let (trace_id, parent_span_id, parent_is_remote) = match parent {
                    Parent::Root => (trace_id.unwrap_or_else(TraceId::random), None, false),
                    Parent::Remote(ctx) => (ctx.trace_id, Some(ctx.span_id), true),
                    Parent::Local(parent) => {
                        let known = self
                            .open
                            .get(&parent)
                            .map(|p| p.trace_id)
                            .or_else(|| self.ended.get(&parent).copied());
                        match (trace_id, known) {
                            (Some(given), Some(found)) if given != found => {
                                return self.reject(format!(
                                    "start: span {span_id} says trace {given} but its parent \
                                     {parent} is in trace {found}"
                                ));
                            }
                            (Some(given), _) | (None, Some(given)) => {
                                if self.is_ancestor(span_id, parent) {
                                    return self.reject(format!(
                                        "start: span {span_id} under {parent} would make a cycle \
                                         ({span_id} is already an ancestor of {parent})"
                                    ));
                                }
                                (given, Some(parent), false)
                            }
                            (None, None) => {
                                return self.reject(format!(
                                    "start: parent {parent} of span {span_id} is unknown; give \
                                     `trace_id` too when the parent was reported elsewhere"
                                ));
                            }
                        }
                    }
                };
                Stats::add(&self.stats.spans_started, 1);
                self.open.insert(
                    span_id,
                    OpenSpan {
                        trace_id,
                        parent_span_id,
                        parent_is_remote,
                        operation,
                        start_time: time,
                        fields,
                        events: Vec::new(),
                    },
                );
            }
            Lifecycle::Update { span_id, fields } => match self.open.get_mut(&span_id) {
                Some(open) => open.fields.merge(self.boxes.unbox(fields)),
                None => {
                    let state = self.state_of(span_id);
                    self.reject(format!("update: span {span_id} {state}"));
                }
            },
            Lifecycle::Event {
                span_id,
                name,
                time,
                attributes,
            } => match self.open.get_mut(&span_id) {
                Some(open) => open.events.push((name, time, attributes)),
                None => {
                    let state = self.state_of(span_id);
                    self.reject(format!("event `{name}`: span {span_id} {state}"));
                }
            },
            Lifecycle::End {
                span_id,
                time,
                fields,
            } => match self.open.remove(&span_id) {
                Some(open) => {
                    let fields = self.boxes.unbox(fields);
                    self.close(span_id, open, time, fields, false)
                }
                None => {
                    let state = self.state_of(span_id);
                    self.reject(format!("end: span {span_id} {state}"));
                }
            },
        }
    }

    /// Whether `candidate` appears among the open ancestors of `span` (bounded walk). A new span
    /// can only be its parent's ancestor when that parent named it as its own parent before it
    /// existed: accepting it would make a cycle.
    fn is_ancestor(&self, candidate: SpanId, span: SpanId) -> bool {
        let mut current = self.open.get(&span).and_then(|s| s.parent_span_id);
        for _ in 0..1024 {
            match current {
                Some(id) if id == candidate => return true,
                Some(id) => current = self.open.get(&id).and_then(|s| s.parent_span_id),
                None => return false,
            }
        }
        false
    }

    fn close(
        &mut self,
        span_id: SpanId,
        mut open: OpenSpan,
        time: u64,
        fields: SpanFields,
        incomplete: bool,
    ) {
        open.fields.merge(fields);
        Stats::add(&self.stats.spans_ended, 1);
        if incomplete {
            Stats::add(&self.stats.spans_ended_incomplete, 1);
        }
        self.ended.insert(span_id, open.trace_id);
        self.ended_order.push_back(span_id);
        if self.ended_order.len() > RECENTLY_ENDED
            && let Some(old) = self.ended_order.pop_front()
        {
            self.ended.remove(&old);
        }
        self.pending.push(FinishedSpan {
            trace_id: open.trace_id,
            span_id,
            parent_span_id: open.parent_span_id,
            parent_is_remote: open.parent_is_remote,
            operation: open.operation,
            start_time: open.start_time,
            end_time: time,
            incomplete,
            fields: open.fields,
            events: open.events,
        });
    }

    /// Maps, converts and exports everything pending.
    fn map_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let began = Instant::now();
        let pending = std::mem::take(&mut self.pending);
        Stats::add(&self.stats.batches, 1);
        let records: Vec<wit::AgentSpan> = pending.iter().map(convert::to_agent_span).collect();
        let mapped = match self.map_batch(records) {
            Ok(batch) => batch,
            Err(error) => {
                Stats::add(&self.stats.spans_fallback_mapped, pending.len() as u64);
                self.stats.error(format!(
                    "mapper {error}; {} spans exported by the fallback mapping",
                    pending.len()
                ));
                wit::MappedBatch {
                    spans: pending.iter().map(fallback::map).collect(),
                    metrics: Vec::new(),
                    rejected: Vec::new(),
                    schema_url: String::new(),
                }
            }
        };
        for rejected in &mapped.rejected {
            Stats::add(&self.stats.spans_rejected_by_mapper, 1);
            self.stats.error(format!(
                "mapper rejected span {}: {}",
                SpanId(rejected.span_id),
                rejected.reason
            ));
        }
        let scope = self.scope(&mapped.schema_url);
        let spans = self.apply_policies(mapped.spans);
        let data: Vec<_> = spans
            .into_iter()
            .map(|span| convert::to_span_data(span, &scope))
            .collect();
        if let Some(observer) = &self.observer {
            use opentelemetry_sdk::trace::SpanExporter as _;
            let _ = self.runtime.block_on(observer.export(data.clone()));
        }
        self.deliver(data);
        for point in mapped.metrics {
            self.record_point(point);
        }
        for span in pending {
            self.boxes.recycle(span.fields);
        }
        self.metrics
            .batch_duration
            .record(began.elapsed().as_secs_f64(), &[]);
    }

    /// Runs the policy chain in order. A policy that fails (trap, deadline, memory, error,
    /// invalid output, or backing off after failures) fails closed: the batch goes on with its
    /// content stripped (`fail_closed::strip`), and the next policies still run.
    fn apply_policies(&mut self, mut spans: Vec<wit::OtelSpan>) -> Vec<wit::OtelSpan> {
        for index in 0..self.policies.len() {
            if spans.is_empty() {
                break;
            }
            match self.call_policy(index, &spans) {
                Ok(verdicts) => {
                    let before = spans.len();
                    spans = plugin::pass_on(spans, verdicts);
                    let dropped = (before - spans.len()) as u64;
                    Stats::add(&self.stats.spans_dropped_by_policy, dropped);
                }
                Err(error) => {
                    let name = self.policies[index].component.name().to_string();
                    Stats::add(&self.stats.policy_failures, 1);
                    Stats::add(&self.stats.spans_failed_closed, spans.len() as u64);
                    self.stats.error(format!(
                        "policy `{name}` {error}; {} spans exported without content",
                        spans.len()
                    ));
                    for span in &mut spans {
                        fail_closed::strip(span, &name);
                    }
                }
            }
        }
        spans
    }

    fn call_policy(
        &mut self,
        index: usize,
        spans: &[wit::OtelSpan],
    ) -> Result<Vec<Verdict>, String> {
        self.policies[index].call(&self.stats, |instance| instance.apply(spans))
    }

    /// Exports a batch, or keeps it for retry when the exporter fails. Order is kept: while
    /// older batches wait, new ones queue behind them.
    fn deliver(&mut self, data: Vec<SpanData>) {
        if data.is_empty() {
            return;
        }
        if !self.retry.batches.is_empty() {
            self.buffer(data);
            self.retry_exports();
            return;
        }
        // Only an exporter that can fail transiently (OTLP) needs a copy to retry with.
        let copy = self.spans.can_fail_transiently().then(|| data.clone());
        let count = data.len() as u64;
        match self.runtime.block_on(self.spans.export(data)) {
            Ok(()) => Stats::add(&self.stats.spans_exported, count),
            Err(error) => {
                self.export_failed(&error.to_string(), count);
                match copy {
                    Some(copy) => self.buffer(copy),
                    None => Stats::add(&self.stats.spans_dropped_buffer_full, count),
                }
            }
        }
    }

    fn export_failed(&mut self, error: &str, count: u64) {
        Stats::add(&self.stats.export_failures, 1);
        self.retry.failures += 1;
        let wait = backoff(self.retry.failures);
        self.retry.next_attempt = Some(Instant::now() + wait);
        self.stats.error(format!(
            "export of {count} spans failed ({error}); retrying in {wait:?}"
        ));
    }

    /// Adds a batch to the retry buffer, dropping (and counting) the oldest spans past its
    /// capacity.
    fn buffer(&mut self, data: Vec<SpanData>) {
        self.retry.spans += data.len();
        self.retry.batches.push_back(data);
        while self.retry.spans > self.settings.export_buffer_spans {
            let Some(oldest) = self.retry.batches.pop_front() else {
                break;
            };
            self.retry.spans -= oldest.len();
            Stats::add(&self.stats.spans_dropped_buffer_full, oldest.len() as u64);
        }
    }

    /// Sends buffered batches, oldest first, if their retry time has come.
    fn retry_exports(&mut self) {
        while let Some(at) = self.retry.next_attempt {
            if Instant::now() < at {
                return;
            }
            let Some(batch) = self.retry.batches.pop_front() else {
                self.retry.next_attempt = None;
                return;
            };
            let count = batch.len();
            match self.runtime.block_on(self.spans.export(batch.clone())) {
                Ok(()) => {
                    Stats::add(&self.stats.spans_exported, count as u64);
                    self.retry.spans -= count;
                    self.retry.failures = 0;
                    if self.retry.batches.is_empty() {
                        self.retry.next_attempt = None;
                    }
                }
                Err(error) => {
                    self.retry.batches.push_front(batch);
                    self.export_failed(&error.to_string(), count as u64);
                }
            }
        }
    }

    /// Maps a batch of the pipeline: through the mapper component, or through the native stage
    /// when one replaces it.
    fn map_batch(&mut self, records: Vec<wit::AgentSpan>) -> Result<wit::MappedBatch, String> {
        #[cfg(feature = "native-mapper")]
        if let Some(native) = &mut self.native {
            return native.map_spans(records);
        }
        self.call_mapper(&records)
    }

    /// Calls the mapper component (see [`Slot::call`] for instances, backoff and counting).
    fn call_mapper(&mut self, records: &[wit::AgentSpan]) -> Result<wit::MappedBatch, String> {
        self.mapper
            .call(&self.stats, |instance| instance.map_spans(records))
    }

    fn scope(&mut self, schema_url: &str) -> InstrumentationScope {
        self.scopes
            .entry(schema_url.to_string())
            .or_insert_with(|| {
                let builder = InstrumentationScope::builder("agentrace")
                    .with_version(env!("CARGO_PKG_VERSION"));
                if schema_url.is_empty() {
                    builder.build()
                } else {
                    builder.with_schema_url(schema_url.to_string()).build()
                }
            })
            .clone()
    }

    fn record_point(&mut self, point: wit::MetricPoint) {
        let meter = &self.metrics.provider;
        let histogram = self
            .metrics
            .histograms
            .entry(point.name.clone())
            .or_insert_with(|| {
                meter
                    .meter("agentrace")
                    .f64_histogram(point.name.clone())
                    .with_unit(point.unit.clone())
                    .with_description(point.description.clone())
                    .with_boundaries(point.boundaries.clone())
                    .build()
            });
        let attributes: Vec<_> = point
            .attributes
            .into_iter()
            .map(convert::key_value)
            .collect();
        histogram.record(point.value, &attributes);
    }

    fn export_metrics(&mut self) {
        self.metrics.last_export = Instant::now();
        let mut collected = ResourceMetrics::default();
        use opentelemetry_sdk::metrics::reader::MetricReader as _;
        if let Err(error) = self.metrics.reader.collect(&mut collected) {
            Stats::add(&self.stats.metric_export_failures, 1);
            self.stats
                .error(format!("collecting metrics failed: {error}"));
            return;
        }
        if let Err(error) = self.runtime.block_on(self.metrics.sink.export(&collected)) {
            Stats::add(&self.stats.metric_export_failures, 1);
            self.stats.error(format!("metric export failed: {error}"));
        }
    }

    /// Ends the spans still open (marked incomplete), maps and exports everything, retries
    /// failed exports until `deadline` (what is still unsent then is counted as dropped), and
    /// shuts the exporters down.
    fn finish(&mut self, deadline: Instant) {
        let now = crate::events::now_nanos();
        let open: Vec<(SpanId, OpenSpan)> = self.open.drain().collect();
        for (span_id, span) in open {
            let end = now.max(span.start_time);
            self.close(span_id, span, end, SpanFields::default(), true);
        }
        // Map in batches of the configured size so that a large backlog stays bounded per call.
        while !self.pending.is_empty() {
            let rest = if self.pending.len() > self.settings.max_batch {
                self.pending.split_off(self.settings.max_batch)
            } else {
                Vec::new()
            };
            self.map_pending();
            self.pending = rest;
        }
        while !self.retry.batches.is_empty() {
            let Some(at) = self.retry.next_attempt else {
                break;
            };
            if at > deadline {
                break;
            }
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            self.retry_exports();
        }
        if self.retry.spans > 0 {
            Stats::add(
                &self.stats.spans_dropped_at_shutdown,
                self.retry.spans as u64,
            );
            self.stats.error(format!(
                "{} spans were still unexported at the shutdown deadline",
                self.retry.spans
            ));
            self.retry = RetryBuffer::default();
        }
        self.export_metrics();
        if let Err(error) = self.spans.shutdown() {
            self.stats.error(format!("span exporter shutdown: {error}"));
        }
        if let Err(error) = self.metrics.sink.shutdown() {
            self.stats
                .error(format!("metric exporter shutdown: {error}"));
        }
    }
}
