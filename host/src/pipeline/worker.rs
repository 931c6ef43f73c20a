//! The worker thread: it owns the span assembly, batches finished spans, maps them through the
//! mapper component (or the fallback), runs the policy chain, and hands the result to the
//! exporters and the metrics.
//!
//! Everything the runtime reports arrives here through one bounded queue, so the runtime's calls
//! cost an allocation and a queue push; wasm and export happen only on this thread.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::InMemorySpanExporter;

use super::doorbell::Doorbell;
use super::export_runtime::ExportRuntime;
use super::hold::{RemoteParentFlags, TraceHold, TraceKey};
use super::log_events;
use super::metrics::Metrics;
use super::outbox::{LogOutbox, ReceivedOutbox};
use super::recycle::FieldBoxes;
use super::retry::{ExportBatch, RetryBuffer};
use super::sender_attributes::SenderFilter;
use super::{BatchSettings, Message, ReceivedBudget, Swap, SwapRequest, fallback, ingest};
use crate::assembly::{Applied, Assembly, FinishedSpan};
use crate::component::Component;
use crate::component::bindings::types as wit;
use crate::component::ingest::IngestWorld;
use crate::component::mapper::MapperWorld;
use crate::component::policy::{PolicyWorld, pass_on};
use crate::component::slot::Slot;
use crate::convert;
use crate::events::Lifecycle;
use crate::export::{LogEvent, LogRecords, LogSink, Sinks, SpanSink};
use crate::ids::{SpanId, TraceId};
use crate::otlp_in::{Extras, ReceivedResource, ReceivedSpan, ReceivedTraces};
use crate::policy::fail_closed;
use crate::span_limits::Dropped;
use crate::stats::Stats;

/// How long the worker sleeps on an empty queue while events are flowing
/// ([`Worker::next_message`]). Long, because a sleeping worker costs the runtime nothing: a
/// burst rings the doorbell, and timers (the flush interval, held traces, retries) cut a nap
/// short. Waking every 1 ms instead to take the few events queued meanwhile cost a Python
/// agent 1.5–1.8 µs per span in the scripted AG2 run (BENCHMARKS.md, "Python").
const IDLE_POLL: Duration = Duration::from_millis(50);
/// Empty polls in a row (about 50 ms without an event) before the worker blocks instead.
const IDLE_POLLS_BEFORE_BLOCKING: u32 = 1;

/// Everything a worker is made of, gathered by the tracer's builder.
pub(crate) struct WorkerParts {
    /// The queue the tracer pushes onto.
    pub(crate) queue: Receiver<Message>,
    /// Checked replacements of the mapper or the policy chain.
    pub(crate) swaps: Receiver<SwapRequest>,
    /// The counters, shared with the tracer.
    pub(crate) stats: Arc<Stats>,
    /// Batching and export settings.
    pub(crate) settings: BatchSettings,
    /// The mapper, with its first instance.
    pub(crate) mapper: Slot<Component<MapperWorld>>,
    /// The policy chain, in order.
    pub(crate) policies: Vec<Slot<Component<PolicyWorld>>>,
    /// The ingest component for spans received as OTLP, if any.
    pub(crate) ingest: Option<Slot<Component<IngestWorld>>>,
    /// Where spans and log records go (metrics go through `metrics`).
    pub(crate) sinks: Sinks,
    /// This worker's handle on the metrics: the exporting one for the first worker.
    pub(crate) metrics: Metrics,
    /// The runtime the exporters run on (owned by the worker thread), with the shutdown
    /// deadline the tracer announces.
    pub(crate) runtime: ExportRuntime,
    /// Also receives every exported batch (the CLI's tree).
    pub(crate) observer: Option<InMemorySpanExporter>,
    /// The pool the tracer takes field boxes from.
    pub(crate) boxes: FieldBoxes,
    /// Rung by senders to end a nap early.
    pub(crate) doorbell: Arc<Doorbell>,
    /// Room for received OTLP spans in the queue, given back as the worker takes them.
    pub(crate) received_budget: Arc<ReceivedBudget>,
    /// Natively linked mapping code that replaces the mapper component (benchmarks only).
    #[cfg(feature = "bench-internals")]
    pub(crate) native: Option<Box<dyn crate::bench_internals::NativeMapper>>,
}

/// The worker's state; see the module docs.
pub(crate) struct Worker {
    queue: Receiver<Message>,
    swaps: Receiver<SwapRequest>,
    stats: Arc<Stats>,
    settings: BatchSettings,
    assembly: Assembly,
    pending: Vec<FinishedSpan>,
    mapper: Slot<Component<MapperWorld>>,
    policies: Vec<Slot<Component<PolicyWorld>>>,
    ingest: Option<Slot<Component<IngestWorld>>>,
    spans: SpanSink,
    logs: LogSink,
    log_records: LogRecords,
    runtime: ExportRuntime,
    observer: Option<InMemorySpanExporter>,
    retry: RetryBuffer,
    /// Received spans gathered into larger exports.
    outbox: ReceivedOutbox,
    /// Log records gathered into larger exports.
    log_outbox: LogOutbox,
    metrics: Metrics,
    scopes: HashMap<String, InstrumentationScope>,
    boxes: FieldBoxes,
    doorbell: Arc<Doorbell>,
    received_budget: Arc<ReceivedBudget>,
    /// Which policies asked for whole traces, in chain order (read from each policy's first
    /// instance when the chain was loaded).
    whole_traces: Vec<bool>,
    /// Index of the first of them (`policies.len()` when none did): policies before it run
    /// batch by batch, from it on on whole traces.
    first_whole: usize,
    /// The policies' answers for received resources' and scopes' attributes.
    sender_filter: SenderFilter,
    /// The sampled flags of the remote parents traces came in under, for the policies.
    remote_parents: RemoteParentFlags,
    /// The spans waiting for their trace to complete before `first_whole`.
    hold: TraceHold<wit::OtelSpan>,
    /// What a held span's export needs from the batch it came in: the limits' cuts and its
    /// scope.
    held_meta: HashMap<u64, (Dropped, InstrumentationScope)>,
    #[cfg(feature = "bench-internals")]
    native: Option<Box<dyn crate::bench_internals::NativeMapper>>,
}

/// Which policies of `policies` asked for whole traces, and the index of the first of them
/// (the chain's length when none did).
fn whole_trace_policies(policies: &[Slot<Component<PolicyWorld>>]) -> (Vec<bool>, usize) {
    let whole: Vec<bool> = policies
        .iter()
        .map(|slot| slot.instance().is_some_and(|i| i.info().whole_traces))
        .collect();
    let first = whole.iter().position(|w| *w).unwrap_or(whole.len());
    (whole, first)
}

impl Worker {
    /// A worker from its parts; [`Worker::run`] starts it.
    pub(crate) fn new(parts: WorkerParts) -> Self {
        let (whole_traces, first_whole) = whole_trace_policies(&parts.policies);
        let sender_filter = SenderFilter::new(&parts.policies);
        let metrics = parts.metrics;
        Self {
            queue: parts.queue,
            swaps: parts.swaps,
            settings: parts.settings,
            assembly: Assembly::default(),
            pending: Vec::new(),
            mapper: parts.mapper,
            whole_traces,
            sender_filter,
            first_whole,
            policies: parts.policies,
            ingest: parts.ingest,
            spans: parts.sinks.spans,
            logs: parts.sinks.logs,
            log_records: LogRecords::new(),
            runtime: parts.runtime,
            observer: parts.observer,
            retry: RetryBuffer::new(parts.settings.export_buffer_spans),
            outbox: ReceivedOutbox::new(parts.settings.max_batch, parts.settings.flush_interval),
            log_outbox: LogOutbox::new(parts.settings.max_batch, parts.settings.flush_interval),
            metrics,
            scopes: HashMap::new(),
            remote_parents: RemoteParentFlags::default(),
            hold: TraceHold::new(parts.settings.trace_hold),
            held_meta: HashMap::new(),
            boxes: parts.boxes,
            doorbell: parts.doorbell,
            received_budget: parts.received_budget,
            stats: parts.stats,
            #[cfg(feature = "bench-internals")]
            native: parts.native,
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
            match self.queue.try_recv() {
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
                            self.queue.is_empty()
                        });
                }
            }
        }
        let message = self
            .queue
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
            let due = [
                self.retry.next_attempt(),
                self.outbox.deadline(),
                self.log_outbox.deadline(),
            ];
            for at in due.into_iter().flatten() {
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
                        // Under a steady load the queue is never empty long enough for the
                        // timeout below, so held traces past their wait go out here too.
                        self.release_expired();
                        last_batch = Instant::now();
                    }
                }
                Ok(Message::Received(traces)) => {
                    self.received_budget.give_back(traces.span_count());
                    self.pass_through(*traces);
                }
                Ok(Message::Wake) => {}
                Ok(Message::Flush { ack, metrics }) => {
                    self.map_pending();
                    let held = self.hold.release_all();
                    self.release_held(held, "released by a flush");
                    self.send_outbox();
                    self.send_logs();
                    self.retry.settle(&self.runtime, &self.stats);
                    if metrics {
                        self.metrics.export(&self.runtime, &self.stats);
                    }
                    last_batch = Instant::now();
                    let _ = ack.send(());
                }
                Ok(Message::Shutdown(ack, deadline)) => {
                    self.finish(deadline);
                    let _ = ack.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.retry
                        .retry_due(&mut self.spans, &self.runtime, &self.stats);
                    self.map_pending();
                    self.release_expired();
                    if let Some(batch) = self.outbox.take_due(Instant::now()) {
                        self.export_batch(batch);
                    }
                    if self.log_outbox.is_due(Instant::now()) {
                        self.send_logs();
                    }
                    if self.metrics.due() {
                        self.metrics.export(&self.runtime, &self.stats);
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
                Swap::Ingest(ingest) => self.ingest = ingest.map(|slot| *slot),
                Swap::Policies(policies) => {
                    // What the old chain holds goes through the old chain.
                    let held = self.hold.release_all();
                    self.release_held(held, "released by a policy swap");
                    (self.whole_traces, self.first_whole) = whole_trace_policies(&policies);
                    self.sender_filter = SenderFilter::new(&policies);
                    self.policies = policies;
                }
            }
            let _ = ack.send(());
            swapped = true;
        }
        swapped
    }

    /// Feeds one event to the assembly; a refused event is counted with its reason.
    fn handle(&mut self, event: Lifecycle) {
        let boxes = &self.boxes;
        match self.assembly.apply(event, |fields| boxes.unbox(fields)) {
            Ok(Applied::Started) => Stats::add(&self.stats.spans_started, 1),
            Ok(Applied::Updated) => {}
            Ok(Applied::Ended(span)) => self.ended(span),
            Err(reason) => {
                Stats::add(&self.stats.events_rejected, 1);
                self.stats.error(reason);
            }
        }
    }

    fn ended(&mut self, span: FinishedSpan) {
        Stats::add(&self.stats.spans_ended, 1);
        if span.incomplete {
            Stats::add(&self.stats.spans_ended_incomplete, 1);
        }
        self.pending.push(span);
    }

    /// Maps, converts and exports everything pending.
    fn map_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let began = Instant::now();
        let pending = std::mem::take(&mut self.pending);
        Stats::add(&self.stats.batches, 1);
        for span in &pending {
            if let Some(sampled) = span.remote_parent_sampled {
                self.remote_parents
                    .remember(span.trace_id.halves(), sampled);
            }
        }
        let ended_traces: Vec<TraceKey> = if self.first_whole < self.policies.len() {
            let mut traces: Vec<TraceKey> =
                pending.iter().map(|span| span.trace_id.halves()).collect();
            traces.sort_unstable();
            traces.dedup();
            traces
        } else {
            Vec::new()
        };
        let limits = self.settings.span_limits;
        // What the limits cut before export, by span id, for the exported dropped counts.
        let mut dropped: HashMap<u64, Dropped> = HashMap::new();
        // The provider details, one per record, or none at all when no record has any.
        let details: Vec<Option<wit::ProviderDetails>> =
            if pending.iter().any(|s| s.fields.provider_details.is_some()) {
                pending.iter().map(convert::provider_details_of).collect()
            } else {
                Vec::new()
            };
        let records: Vec<wit::AgentSpan> = pending
            .iter()
            .map(|span| {
                let mut record = convert::to_agent_span(span);
                let cut = limits.apply_to_record(&mut record);
                if !cut.is_empty() {
                    dropped.insert(record.span_id, cut);
                }
                record
            })
            .collect();
        let wit::MappedBatchWithLogs {
            batch: mut mapped,
            logs,
        } = match self.map_batch(records, &details) {
            Ok(batch) => batch,
            Err(error) => {
                Stats::add(&self.stats.spans_fallback_mapped, pending.len() as u64);
                self.stats.error(format!(
                    "mapper {error}; {} spans exported by the fallback mapping",
                    pending.len()
                ));
                wit::MappedBatchWithLogs {
                    batch: wit::MappedBatch {
                        spans: pending.iter().map(fallback::map).collect(),
                        metrics: Vec::new(),
                        rejected: Vec::new(),
                        schema_url: String::new(),
                    },
                    logs: Vec::new(),
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
        for span in &mut mapped.spans {
            let (cut, _, _) = limits.apply_to_span(span);
            if !cut.is_empty() {
                dropped.entry(span.span_id).or_default().add(cut);
            }
        }
        // Log records ride on their spans through the policies (after the limits, which do not
        // count them as span events).
        let orphans = log_events::attach(&mut mapped.spans, logs);
        if !orphans.is_empty() {
            Stats::add(&self.stats.logs_dropped, orphans.len() as u64);
            self.stats.error(format!(
                "{} log records from the mapper belong to no span of its output (first: {} on \
                 span {})",
                orphans.len(),
                orphans[0].event_name,
                SpanId(orphans[0].span_id)
            ));
        }
        // The policies before the first that wants whole traces run batch by batch.
        let spans = self.apply_policies(mapped.spans, 0..self.first_whole, false);
        if self.first_whole < self.policies.len() {
            // The rest of the chain wants whole traces: hold the spans until theirs is complete.
            for span in &spans {
                let cut = dropped.remove(&span.span_id).unwrap_or_default();
                self.held_meta.insert(span.span_id, (cut, scope.clone()));
            }
            let assembly = &self.assembly;
            let admitted = self.hold.admit(
                spans,
                |span| span.trace_id,
                |trace| assembly.has_open_spans(TraceId::from_halves(trace)),
                Instant::now(),
            );
            let mut released = admitted.released;
            // A trace whose last span was dropped before the hold (rejected by the mapper,
            // dropped by an earlier policy) is complete too.
            released.extend(self.hold.release_completed(ended_traces, |trace| {
                assembly.has_open_spans(TraceId::from_halves(trace))
            }));
            self.pass_unheld(admitted.unheld);
            self.after_hold(released, false);
        } else {
            let mut spans = spans;
            let logs = Self::take_logs(&mut spans);
            let data: Vec<_> = spans
                .into_iter()
                .map(|span| {
                    let earlier = dropped.get(&span.span_id).copied().unwrap_or_default();
                    convert::to_span_data(span, &scope, &limits, earlier)
                })
                .collect();
            self.export(data);
            self.export_logs(logs, &scope);
        }
        for point in mapped.metrics {
            self.metrics.record(point);
        }
        for span in pending {
            self.boxes.recycle(span.fields);
        }
        self.metrics.record_batch(began.elapsed());
    }

    /// Spans received as OTLP from another producer, resource by resource: the resource's and
    /// scopes' attributes through the policies that filter them, the span limits,
    /// then the ingest component when there is one (records it makes are mapped by the mapper;
    /// a failure passes the spans on marked), then the whole policy chain, then export under
    /// the sender's resource and scope. A whole-trace policy sees the spans of one request
    /// together: agentrace cannot know when another producer's trace is complete.
    fn pass_through(&mut self, received: ReceivedTraces) {
        for group in received.resources {
            self.pass_resource(group);
        }
    }

    /// [`Worker::pass_through`] for the spans of one resource.
    fn pass_resource(&mut self, group: ReceivedResource) {
        let limits = self.settings.span_limits;
        let resource = Arc::new(self.sender_filter.resource(
            &mut self.policies,
            &self.stats,
            group.resource,
        ));
        // Each distinct scope once (the spans of one scope share it), replaced where a policy
        // changed its attributes.
        let mut scopes: Vec<(Arc<InstrumentationScope>, Arc<InstrumentationScope>)> = Vec::new();
        let mut extras = HashMap::with_capacity(group.spans.len());
        let mut spans = Vec::with_capacity(group.spans.len());
        for ReceivedSpan {
            mut span,
            scope,
            extras: mut extra,
        } in group.spans
        {
            let scope = match scopes
                .iter()
                .find(|(received, _)| Arc::ptr_eq(received, &scope))
            {
                Some((_, filtered)) => filtered.clone(),
                None => {
                    let filtered = self
                        .sender_filter
                        .scope(&mut self.policies, &self.stats, &scope)
                        .unwrap_or_else(|| scope.clone());
                    scopes.push((scope, filtered.clone()));
                    filtered
                }
            };
            let (cut, _, _) = limits.apply_to_span(&mut span);
            extra.dropped.add(cut);
            if span.parent_is_remote {
                self.remote_parents
                    .remember(span.trace_id, extra.flags.is_sampled());
            }
            extras.insert(span.span_id, extra);
            spans.push((span, scope));
        }
        let passed = if self.ingest.is_some() {
            self.ingest_spans(&resource, spans, &extras)
        } else {
            spans
        };
        self.export_received(&resource, passed, &extras);
    }

    /// Runs the spans of one resource through the ingest component and the mapper; returns the
    /// spans to pass on (as they came, replaced, or marked after a failure). The mapped spans
    /// are exported here.
    fn ingest_spans(
        &mut self,
        resource: &Arc<Resource>,
        spans: Vec<(wit::OtelSpan, Arc<InstrumentationScope>)>,
        extras: &HashMap<u64, Extras>,
    ) -> Vec<(wit::OtelSpan, Arc<InstrumentationScope>)> {
        let Some(slot) = self.ingest.as_mut() else {
            return spans;
        };
        let (spans, scopes): (Vec<wit::OtelSpan>, Vec<Arc<InstrumentationScope>>) =
            spans.into_iter().unzip();
        let grouped = ingest::groups(resource, spans, &scopes);
        let answer = slot.call(&self.stats, |instance| instance.ingest(&grouped.groups));
        let name = slot.component.name().to_string();
        let (spans, order) = grouped.into_spans();
        let verdicts = match answer {
            Ok(verdicts) => verdicts,
            Err(error) => {
                let reason = format!("ingest component `{name}` {error}");
                let spans = spans.into_iter().zip(scopes).collect();
                return self.ingest_failed(spans, &reason);
            }
        };
        let mut triage = ingest::triage(spans, &order, verdicts);
        Stats::add(&self.stats.spans_dropped_by_ingest, triage.dropped);
        if let Some(reason) = &triage.first_misfit {
            Stats::add(&self.stats.spans_ingest_failed, triage.misfits);
            self.stats.error(format!(
                "ingest component `{name}`: {} spans passed on as they came; first: {reason}",
                triage.misfits
            ));
        }
        let mut passed: Vec<(wit::OtelSpan, Arc<InstrumentationScope>)> = triage
            .passed
            .into_iter()
            .map(|(index, span)| (span, scopes[index].clone()))
            .collect();
        // Records are mapped scope by scope: the mapped spans keep their scope's name.
        let mut by_scope: Vec<(Arc<InstrumentationScope>, Vec<usize>)> = Vec::new();
        for (position, (index, _)) in triage.normalised.iter().enumerate() {
            let scope = &scopes[*index];
            match by_scope.iter_mut().find(|(s, _)| Arc::ptr_eq(s, scope)) {
                Some((_, members)) => members.push(position),
                None => by_scope.push((scope.clone(), vec![position])),
            }
        }
        let records_made = triage.normalised.len();
        let mut records_unmapped = 0;
        let mut records: Vec<Option<(usize, ingest::MappedRecord)>> =
            triage.normalised.into_iter().map(Some).collect();
        for (scope, members) in by_scope {
            let batch: Vec<(usize, ingest::MappedRecord)> = members
                .iter()
                .filter_map(|&position| records[position].take())
                .collect();
            let unmapped = self.normalise(resource, &scope, batch, extras);
            records_unmapped += unmapped.len();
            // Every unmapped index is one whose verdict was a record, so triage kept its span.
            passed.extend(unmapped.into_iter().filter_map(|(index, reason)| {
                let mut span = triage.originals[index].take()?;
                ingest::mark_failed(&mut span, &reason);
                Some((span, scopes[index].clone()))
            }));
        }
        Stats::add(
            &self.stats.spans_normalised,
            (records_made - records_unmapped) as u64,
        );
        passed
    }

    /// Passes every span on as it came, marked with `reason`, and counts them.
    fn ingest_failed(
        &mut self,
        mut spans: Vec<(wit::OtelSpan, Arc<InstrumentationScope>)>,
        reason: &str,
    ) -> Vec<(wit::OtelSpan, Arc<InstrumentationScope>)> {
        Stats::add(&self.stats.spans_ingest_failed, spans.len() as u64);
        self.stats.error(format!(
            "{reason}; {} received spans passed on as they came",
            spans.len()
        ));
        for (span, _) in &mut spans {
            ingest::mark_failed(span, reason);
        }
        spans
    }

    /// Maps the ingest component's records of one scope with the mapper, and exports what it
    /// made through the policies under the sender's resource and a scope of the sender's name
    /// and version with the mapper's schema URL. Returns the records that were not mapped (the
    /// mapper failed or rejected them), by span index, with the reason: their spans pass on.
    fn normalise(
        &mut self,
        resource: &Arc<Resource>,
        scope: &InstrumentationScope,
        batch: Vec<(usize, ingest::MappedRecord)>,
        extras: &HashMap<u64, Extras>,
    ) -> Vec<(usize, String)> {
        if batch.is_empty() {
            return Vec::new();
        }
        let index_of: HashMap<u64, usize> = batch
            .iter()
            .map(|(index, record)| (record.span_record.span_id, *index))
            .collect();
        let details: Vec<Option<wit::ProviderDetails>> =
            if batch.iter().any(|(_, record)| record.details.is_some()) {
                batch
                    .iter()
                    .map(|(_, record)| record.details.clone())
                    .collect()
            } else {
                Vec::new()
            };
        let records: Vec<wit::AgentSpan> = batch
            .into_iter()
            .map(|(_, record)| record.span_record)
            .collect();
        let wit::MappedBatchWithLogs {
            batch: mut mapped,
            logs,
        } = match self.map_batch(records, &details) {
            Ok(mapped) => mapped,
            Err(error) => {
                let reason = format!("the mapper {error} on the ingest component's records");
                Stats::add(&self.stats.spans_ingest_failed, index_of.len() as u64);
                self.stats.error(format!(
                    "{reason}; {} received spans passed on as they came",
                    index_of.len()
                ));
                return index_of
                    .into_values()
                    .map(|i| (i, reason.clone()))
                    .collect();
            }
        };
        let mut unmapped = Vec::new();
        for rejected in &mapped.rejected {
            if let Some(&index) = index_of.get(&rejected.span_id) {
                Stats::add(&self.stats.spans_ingest_failed, 1);
                let reason = format!("the mapper rejected its record: {}", rejected.reason);
                self.stats.error(format!(
                    "received span {}: {reason}",
                    SpanId(rejected.span_id)
                ));
                unmapped.push((index, reason));
            }
        }
        // The mapped spans take their sender's flags and trace state, and what the limits cut
        // before the mapper and now.
        let limits = self.settings.span_limits;
        let mut mapped_extras: HashMap<u64, Extras> = HashMap::with_capacity(mapped.spans.len());
        for span in &mut mapped.spans {
            let (cut, _, _) = limits.apply_to_span(span);
            let mut extra = extras.get(&span.span_id).cloned().unwrap_or_default();
            extra.dropped.add(cut);
            mapped_extras.insert(span.span_id, extra);
        }
        let orphans = log_events::attach(&mut mapped.spans, logs);
        Stats::add(&self.stats.logs_dropped, orphans.len() as u64);
        let mut spans = self.apply_policies(mapped.spans, 0..self.policies.len(), false);
        let logs = Self::take_logs(&mut spans);
        let mut builder = InstrumentationScope::builder(scope.name().to_string())
            .with_attributes(scope.attributes().cloned());
        if let Some(version) = scope.version() {
            builder = builder.with_version(version.to_string());
        }
        if !mapped.schema_url.is_empty() {
            builder = builder.with_schema_url(mapped.schema_url.clone());
        }
        let scope = Arc::new(builder.build());
        let spans = spans
            .into_iter()
            .map(|span| (span, scope.clone()))
            .collect();
        self.export_spans_received(resource, spans, &mapped_extras);
        self.export_logs(logs, &scope);
        for point in mapped.metrics {
            self.metrics.record(point);
        }
        unmapped
    }

    /// The policy chain over spans passed on from a producer, then export.
    fn export_received(
        &mut self,
        resource: &Arc<Resource>,
        spans: Vec<(wit::OtelSpan, Arc<InstrumentationScope>)>,
        extras: &HashMap<u64, Extras>,
    ) {
        let mut scopes: HashMap<u64, Arc<InstrumentationScope>> = spans
            .iter()
            .map(|(span, scope)| (span.span_id, scope.clone()))
            .collect();
        let spans = spans.into_iter().map(|(span, _)| span).collect();
        let spans = self.apply_policies(spans, 0..self.policies.len(), false);
        let mut scoped = Vec::with_capacity(spans.len());
        for span in spans {
            // A policy's replacement keeps the ids (the host checks), so every span has its
            // scope; the tracer's own is the fallback all the same.
            let scope = match scopes.remove(&span.span_id) {
                Some(scope) => scope,
                None => Arc::new(self.scope("")),
            };
            scoped.push((span, scope));
        }
        self.export_spans_received(resource, scoped, extras);
    }

    /// Exports spans of a producer (after the policies) under its resource, each in its scope,
    /// with the trace flags, trace state and dropped counts it came with, through the outbox.
    fn export_spans_received(
        &mut self,
        resource: &Arc<Resource>,
        spans: Vec<(wit::OtelSpan, Arc<InstrumentationScope>)>,
        extras: &HashMap<u64, Extras>,
    ) {
        let limits = self.settings.span_limits;
        let data = spans
            .into_iter()
            .map(|(span, scope)| {
                let extra = extras.get(&span.span_id).cloned().unwrap_or_default();
                let mut data = convert::to_span_data(span, &scope, &limits, extra.dropped);
                data.span_context = opentelemetry::trace::SpanContext::new(
                    data.span_context.trace_id(),
                    data.span_context.span_id(),
                    extra.flags,
                    false,
                    extra.trace_state,
                );
                data
            })
            .collect();
        for batch in self.outbox.add(resource, data, Instant::now()) {
            self.export_batch(batch);
        }
    }

    /// Exports the received spans that wait in the outbox, if any.
    fn send_outbox(&mut self) {
        if let Some(batch) = self.outbox.take() {
            self.export_batch(batch);
        }
    }

    /// Takes the log records off `spans` (they rode there through the policies) as log events.
    fn take_logs(spans: &mut [wit::OtelSpan]) -> Vec<LogEvent> {
        spans.iter_mut().flat_map(log_events::detach).collect()
    }

    /// Exports log events under `scope`, through the log outbox.
    fn export_logs(&mut self, events: Vec<LogEvent>, scope: &InstrumentationScope) {
        if self.log_outbox.add(events, scope, Instant::now()) {
            self.send_logs();
        }
    }

    /// Exports the log events that wait in the log outbox, if any. A failed log export is
    /// counted and described, not retried.
    fn send_logs(&mut self) {
        let (groups, count) = self.log_outbox.take();
        if count == 0 {
            return;
        }
        let count = count as u64;
        let exported = self
            .runtime
            .run(self.logs.export(&self.log_records, groups));
        match exported {
            Ok(n) => Stats::add(&self.stats.logs_exported, n as u64),
            Err(error) => {
                Stats::add(&self.stats.logs_dropped, count);
                self.stats
                    .error(format!("{count} log records not exported: {error}"));
            }
        }
    }

    /// Hands exportable span data to the observer and the exporter (with retry).
    fn export(&mut self, data: Vec<opentelemetry_sdk::trace::SpanData>) {
        self.export_batch(ExportBatch::own(data));
    }

    /// Hands a batch (under its resource) to the observer and the exporter (with retry).
    fn export_batch(&mut self, batch: ExportBatch) {
        if batch.spans.is_empty() {
            return;
        }
        if let Some(observer) = &self.observer {
            use opentelemetry_sdk::trace::SpanExporter as _;
            let _ = self.runtime.run(observer.export(batch.spans.clone()));
        }
        self.retry
            .deliver(&mut self.spans, &self.runtime, &self.stats, batch);
    }

    /// Runs spans that were held (or did not fit) through the chain from the first
    /// whole-trace policy on (without the whole-trace ones with `skip_whole`) and exports them
    /// with what their batch recorded for them.
    fn after_hold(&mut self, spans: Vec<wit::OtelSpan>, skip_whole: bool) {
        if spans.is_empty() {
            return;
        }
        let meta: HashMap<u64, (Dropped, InstrumentationScope)> = spans
            .iter()
            .filter_map(|span| {
                let entry = self.held_meta.remove(&span.span_id)?;
                Some((span.span_id, entry))
            })
            .collect();
        let chain = self.first_whole..self.policies.len();
        let mut spans = self.apply_policies(spans, chain, skip_whole);
        let logs = Self::take_logs(&mut spans);
        // The mapper's scope (all held spans of one release come from the current mapper).
        let log_scope = match spans.iter().find_map(|s| meta.get(&s.span_id)) {
            Some((_, scope)) => scope.clone(),
            None => self.scope(""),
        };
        let limits = self.settings.span_limits;
        let data: Vec<_> = spans
            .into_iter()
            .map(|span| match meta.get(&span.span_id) {
                Some((earlier, scope)) => convert::to_span_data(span, scope, &limits, *earlier),
                None => {
                    let scope = self.scope("");
                    convert::to_span_data(span, &scope, &limits, Dropped::default())
                }
            })
            .collect();
        self.export(data);
        self.export_logs(logs, &log_scope);
    }

    /// Spans that did not fit in the hold: they skip the whole-trace policies, counted, and go
    /// through the rest of the chain.
    fn pass_unheld(&mut self, spans: Vec<wit::OtelSpan>) {
        if spans.is_empty() {
            return;
        }
        Stats::add(&self.stats.spans_not_held, spans.len() as u64);
        self.stats.error(format!(
            "{} spans skipped the whole-trace policies: the trace hold is full ({} spans)",
            spans.len(),
            self.settings.trace_hold.max_spans
        ));
        self.after_hold(spans, true);
    }

    /// Releases the traces held longer than the hold time.
    fn release_expired(&mut self) {
        let expired = self.hold.expired(Instant::now());
        self.release_held(expired, "waited longer than the hold time");
    }

    /// Runs held spans of complete (or given up) traces through the whole-trace part of the
    /// chain and exports them. `why` is for the count of traces released before completing.
    fn release_held(&mut self, spans: Vec<wit::OtelSpan>, why: &str) {
        if spans.is_empty() {
            return;
        }
        let traces: std::collections::HashSet<TraceKey> =
            spans.iter().map(|span| span.trace_id).collect();
        let incomplete = traces
            .iter()
            .filter(|trace| self.assembly.has_open_spans(TraceId::from_halves(**trace)))
            .count();
        if incomplete > 0 {
            Stats::add(&self.stats.traces_released_incomplete, incomplete as u64);
            self.stats.error(format!(
                "{incomplete} traces with open spans went to the whole-trace policies: {why}"
            ));
        }
        self.after_hold(spans, false);
    }

    /// Runs the policies of the chain in `range`, in order; with `skip_whole`, the policies
    /// that want whole traces are left out. A policy that fails (trap, deadline, memory, error,
    /// invalid output, or backing off after failures) fails closed: the spans go on with their
    /// content stripped (`fail_closed::strip`), and the next policies still run. What a policy
    /// adds to counters is recorded when its call succeeds.
    fn apply_policies(
        &mut self,
        mut spans: Vec<wit::OtelSpan>,
        range: std::ops::Range<usize>,
        skip_whole: bool,
    ) -> Vec<wit::OtelSpan> {
        let (from, count) = (range.start, range.len());
        for (index, policy) in self.policies.iter_mut().enumerate().skip(from).take(count) {
            if spans.is_empty() {
                break;
            }
            if skip_whole && self.whole_traces.get(index).copied().unwrap_or(false) {
                continue;
            }
            let flags = self
                .remote_parents
                .of(spans.iter().map(|span| span.trace_id));
            let outcome = policy.call(&self.stats, |instance| {
                instance.set_remote_parent_sampled(flags);
                let verdicts = instance.apply(&spans)?;
                Ok((verdicts, instance.take_counter_adds()))
            });
            match outcome {
                Ok((verdicts, (adds, refused))) => {
                    let before = spans.len();
                    spans = pass_on(spans, verdicts);
                    let dropped = (before - spans.len()) as u64;
                    Stats::add(&self.stats.spans_dropped_by_policy, dropped);
                    Stats::add(&self.stats.counter_adds_refused, refused);
                    for add in adds {
                        self.metrics.add_to_counter(add);
                    }
                }
                Err(error) => {
                    let name = policy.component.name().to_string();
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

    /// Maps a batch of the pipeline: through the mapper component, or through the native stage
    /// when one replaces it.
    fn map_batch(
        &mut self,
        records: Vec<wit::AgentSpan>,
        details: &[Option<wit::ProviderDetails>],
    ) -> Result<wit::MappedBatchWithLogs, String> {
        #[cfg(feature = "bench-internals")]
        if let Some(native) = &mut self.native {
            let records = records
                .into_iter()
                .map(|record| crate::AgentRecord(record, None))
                .collect();
            return native
                .map_spans(records)
                .map(|batch| wit::MappedBatchWithLogs {
                    batch: batch.into_wit(),
                    logs: Vec::new(),
                });
        }
        self.mapper.call(&self.stats, |instance| {
            instance.map_spans(&records, details)
        })
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

    /// Ends the spans still open (marked incomplete), maps and exports everything, retries
    /// failed exports until `deadline` (what is still unsent then is counted as dropped), and
    /// shuts the exporters down. Every export from here on gives up at `deadline`.
    fn finish(&mut self, deadline: Instant) {
        self.runtime.stop_at(deadline);
        for span in self.assembly.end_all_incomplete(crate::events::now_nanos()) {
            self.ended(span);
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
        let held = self.hold.release_all();
        self.release_held(held, "released at shutdown");
        self.send_outbox();
        self.send_logs();
        self.retry
            .drain_until(deadline, &mut self.spans, &self.runtime, &self.stats);
        self.metrics.export(&self.runtime, &self.stats);
        if let Err(error) = self.spans.shutdown() {
            self.stats.error(format!("span exporter shutdown: {error}"));
        }
        if let Err(error) = self.logs.shutdown() {
            self.stats.error(format!("log exporter shutdown: {error}"));
        }
        self.metrics.shutdown(&self.stats);
    }
}
