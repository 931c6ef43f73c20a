//! The API an in-process runtime uses: a [`Tracer`] to report span lifecycles (built by
//! [`crate::TracerBuilder`]). Reporting never waits for wasm or export: each call builds one
//! message and pushes it onto a bounded queue read by the pipeline's worker thread.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use super::dry_run::{AgentRecord, DryRunMapper, MappedBatch};
use crate::component::sandbox::{Grants, Limits};
use crate::component::slot::Slot;
use crate::error::{Error, Result};
use crate::events::{Lifecycle, Operation, Parent, now_nanos};
use crate::ids::{SpanContext, SpanId};
use crate::otlp_in::ReceivedTraces;
use crate::pipeline::doorbell::{Doorbell, WAKE_BACKLOG};
use crate::pipeline::export_runtime::DeadlineAnnouncer;
use crate::pipeline::recycle::FieldBoxes;
use crate::pipeline::shards::{Router, worker_of_trace};
use crate::pipeline::{Message, ReceivedBudget, Swap, SwapRequest};
use crate::policy::Policy;
use crate::record::{Attributes, SpanFields};
use crate::stats::{Stats, StatsSnapshot};

/// How long the parts of a received request split over several workers wait for room in their
/// queues once another part was taken.
const PART_WAIT: Duration = Duration::from_secs(5);

/// Where a span started with [`Tracer::start`] hangs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanParent<'a> {
    /// None: the span starts a new trace.
    Root,
    /// A span this tracer started: the new span joins its trace.
    Local(&'a SpanContext),
    /// A span outside this tracer — in another process (from a W3C `traceparent`, see
    /// [`SpanContext::from_traceparent`]) or in another tracing library of the same process (an
    /// OpenTelemetry SDK span, say). The new span joins its trace.
    Remote(SpanContext),
}

impl<'a> SpanParent<'a> {
    /// The parent a language binding's span handle names: [`SpanParent::Remote`] when the
    /// handle came from another process (a `traceparent`), else [`SpanParent::Local`].
    pub fn of_handle(context: &'a SpanContext, remote: bool) -> Self {
        if remote {
            SpanParent::Remote(*context)
        } else {
            SpanParent::Local(context)
        }
    }
}

impl<'a> From<Option<&'a SpanContext>> for SpanParent<'a> {
    /// `None` is [`SpanParent::Root`], `Some(span)` is [`SpanParent::Local`].
    fn from(parent: Option<&'a SpanContext>) -> Self {
        parent.map_or(SpanParent::Root, SpanParent::Local)
    }
}

impl<'a> From<&'a SpanContext> for SpanParent<'a> {
    fn from(parent: &'a SpanContext) -> Self {
        SpanParent::Local(parent)
    }
}

/// Reports agent-span lifecycles. Cheap to share (`Arc<Tracer>`); every method takes `&self`
/// and is safe to call from any thread. No reporting method panics or waits for wasm or export;
/// [`Tracer::flush`], [`Tracer::shutdown`], the swaps and [`Tracer::map_records`] wait, each up
/// to the timeout it is given.
///
/// Dropping a tracer that was not shut down shuts it down: open spans end as incomplete,
/// everything is mapped and exported, and failed exports are retried for up to 5 s, so the
/// drop can hold the dropping thread for about 7 s when the exporter is unreachable. Call
/// [`Tracer::shutdown`] to choose the deadline.
pub struct Tracer {
    /// The workers, each with its own queue and component instances; the spans of one trace
    /// go to one worker. The first exports the metrics.
    pub(super) workers: Vec<WorkerHandle>,
    /// Which worker each span went to, with more than one worker.
    pub(super) router: Option<Router>,
    pub(super) boxes: FieldBoxes,
    pub(super) stats: Arc<Stats>,
    /// The worker threads, until shutdown.
    pub(super) running: Mutex<Vec<JoinHandle<()>>>,
    /// Tells the workers' exports, one under way included, when shutdown's deadline falls.
    pub(super) shutdown_deadline: DeadlineAnnouncer,
    pub(super) block_when_full: bool,
    pub(super) config: BTreeMap<String, String>,
    pub(super) limits: Limits,
    pub(super) grants: Grants,
    /// The dry runs' own instance of the live mapper component.
    pub(super) dry_run: Mutex<DryRunMapper>,
    /// Room in the queues for received OTLP spans, shared with the workers.
    pub(super) received_budget: Arc<ReceivedBudget>,
    /// The resource its own spans are exported under.
    pub(super) resource: opentelemetry_sdk::Resource,
}

/// One worker as the tracer sees it: its queue, its channel for swaps, and how to wake it.
pub(super) struct WorkerHandle {
    pub(super) sender: Sender<Message>,
    pub(super) swaps: Sender<SwapRequest>,
    /// The worker's thread, to wake through `doorbell`.
    pub(super) thread: Thread,
    pub(super) doorbell: Arc<Doorbell>,
}

impl WorkerHandle {
    /// Wakes the worker if it naps, for a control message just sent.
    fn wake(&self) {
        self.doorbell.ring(&self.thread);
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Tracer {
    /// A builder with the defaults described on [`crate::TracerBuilder`].
    pub fn builder() -> super::builder::TracerBuilder {
        super::builder::TracerBuilder::default()
    }

    /// Queues one lifecycle event. Returns `false` when it was dropped (queue full, or the
    /// tracer shut down); drops are counted in [`Tracer::stats`].
    ///
    /// With several workers, an event that names only its span (update, event, end) goes to
    /// the worker its start went to through this method. A span started with
    /// [`Tracer::start`] is reported on with [`Tracer::update`], [`Tracer::event`] and
    /// [`Tracer::end`], which route by the trace id of its context.
    pub fn report(&self, event: Lifecycle) -> bool {
        let worker = self
            .router
            .as_ref()
            .map_or(0, |router| router.route(&event));
        self.queue_event(worker, event)
    }

    /// The worker that takes the spans of `trace`.
    fn worker_of(&self, trace: crate::TraceId) -> usize {
        match self.workers.len() {
            1 => 0,
            workers => worker_of_trace(trace, workers),
        }
    }

    /// Pushes `event` onto the queue of worker `worker`: the whole of the runtime's cost.
    fn queue_event(&self, worker: usize, event: Lifecycle) -> bool {
        self.try_queue_event(worker, event).is_ok()
    }

    /// [`Tracer::queue_event`], saying why an event was not queued: [`Error::QueueFull`]
    /// (dropped and counted) or [`Error::ShutDown`].
    fn try_queue_event(&self, worker: usize, event: Lifecycle) -> Result<()> {
        let worker = &self.workers[worker];
        let message = Message::Event(event);
        let sent = if self.block_when_full {
            worker.sender.send(message).map_err(|_| Error::ShutDown)
        } else {
            match worker.sender.try_send(message) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => {
                    Stats::add(&self.stats.events_dropped_queue_full, 1);
                    Err(Error::QueueFull)
                }
                Err(TrySendError::Disconnected(_)) => Err(Error::ShutDown),
            }
        };
        if sent.is_ok() {
            Stats::add(&self.stats.events_queued, 1);
            // The queue's length is read only while the worker naps.
            if worker.doorbell.is_napping() && worker.sender.len() >= WAKE_BACKLOG {
                worker.wake();
            }
        }
        sent
    }

    /// Queues a lifecycle event of a span of `trace` on the trace's worker, as
    /// [`Tracer::start`] and the others do, saying why it was not queued ([`Error::QueueFull`],
    /// dropped and counted, or [`Error::ShutDown`]). For callers that make a span's ids and
    /// times themselves: the host side of the WIT `lifecycle`, which answers an agent component
    /// with the reason, and language bindings that hand spans over in batches.
    pub fn report_in_trace(&self, trace: crate::TraceId, event: Lifecycle) -> Result<()> {
        self.try_queue_event(self.worker_of(trace), event)
    }

    /// The resource the tracer's own spans are exported under (`service.name`...), for spans
    /// a traced agent reports through `wasi:otel`, which are the tracer's own too.
    pub(crate) fn resource(&self) -> &opentelemetry_sdk::Resource {
        &self.resource
    }

    /// A box for the fields of an event made by the caller ([`Tracer::report_in_trace`]), from
    /// the pool the worker returns boxes to, so that the runtime's thread does not allocate
    /// what the worker frees.
    pub fn boxed_fields(&self, fields: SpanFields) -> Box<SpanFields> {
        self.boxes.boxed(fields)
    }

    /// Queues spans received as OTLP from another producer (decoded with
    /// [`ReceivedTraces::decode`]): they go through the policies and are exported under their
    /// own resource and scope, with their ids, parents, links and times. The spans refused
    /// while decoding are counted here (`spans_received_invalid`).
    ///
    /// [`Error::QueueFull`] when the queue has no room for them (nothing was taken, and the
    /// refusal is counted: the sender should retry, as OTLP's answers tell it to), or, with
    /// [`crate::TracerBuilder::with_block_when_full`], waits for room. [`Error::ShutDown`]
    /// after a shutdown.
    pub fn receive(&self, traces: ReceivedTraces) -> Result<()> {
        Stats::add(&self.stats.spans_received_invalid, traces.refused());
        let spans = traces.span_count();
        if spans == 0 {
            return Ok(());
        }
        while !self.received_budget.take(spans) {
            if !self.block_when_full {
                Stats::add(&self.stats.spans_received_queue_full, spans as u64);
                return Err(Error::QueueFull);
            }
            // Room is given back only by running workers: after a shutdown, waiting would
            // never end.
            if self
                .running
                .lock()
                .map_or(true, |running| running.is_empty())
            {
                return Err(Error::ShutDown);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if self.workers.len() == 1 {
            return self.send_received(&self.workers[0], traces, false);
        }
        // Each worker takes the traces its trace ids pick. Once a part is taken, the rest wait
        // for room (a refusal now would make the sender send the taken part twice).
        let workers = self.workers.len();
        let mut parts = traces
            .split(workers, |trace| worker_of_trace(trace, workers))
            .into_iter()
            .enumerate()
            .filter(|(_, part)| part.span_count() > 0);
        let mut taken = false;
        while let Some((worker, part)) = parts.next() {
            let part_spans = part.span_count();
            match self.send_received(&self.workers[worker], part, taken) {
                Ok(()) => taken = true,
                Err(error) if taken => {
                    Stats::add(&self.stats.spans_received_queue_full, part_spans as u64);
                    self.stats.error(format!(
                        "{part_spans} received spans dropped: worker {worker} had no room for \
                         them within {PART_WAIT:?} after the rest of their request was taken \
                         ({error})"
                    ));
                }
                Err(error) => {
                    // Nothing was taken: the whole request is refused, for the sender to retry.
                    let rest: usize = parts.map(|(_, part)| part.span_count()).sum();
                    self.received_budget.give_back(rest);
                    if matches!(error, Error::QueueFull) {
                        Stats::add(&self.stats.spans_received_queue_full, rest as u64);
                    }
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Queues received spans for one worker (their room in the budget already taken; given
    /// back, and a refusal counted, when they are not sent). `wait` waits up to [`PART_WAIT`]
    /// for room in its queue even without [`crate::TracerBuilder::with_block_when_full`].
    fn send_received(
        &self,
        worker: &WorkerHandle,
        traces: ReceivedTraces,
        wait: bool,
    ) -> Result<()> {
        let spans = traces.span_count();
        let message = Message::Received(Box::new(traces));
        let sent = if self.block_when_full {
            worker.sender.send(message).map_err(|_| Error::ShutDown)
        } else if wait {
            worker
                .sender
                .send_timeout(message, PART_WAIT)
                .map_err(|e| match e {
                    crossbeam_channel::SendTimeoutError::Timeout(_) => Error::QueueFull,
                    crossbeam_channel::SendTimeoutError::Disconnected(_) => Error::ShutDown,
                })
        } else {
            worker.sender.try_send(message).map_err(|e| match e {
                TrySendError::Full(_) => Error::QueueFull,
                TrySendError::Disconnected(_) => Error::ShutDown,
            })
        };
        match sent {
            Ok(()) => {
                Stats::add(&self.stats.spans_received, spans as u64);
                worker.wake();
                Ok(())
            }
            Err(error) => {
                self.received_budget.give_back(spans);
                if matches!(error, Error::QueueFull) && !wait {
                    Stats::add(&self.stats.spans_received_queue_full, spans as u64);
                }
                Err(error)
            }
        }
    }

    /// Starts a span under `parent` and returns its context, to pass to [`Tracer::end`] and to
    /// children, or to propagate as a `traceparent`. `parent` is a [`SpanParent`], or an
    /// `Option<&SpanContext>` (`None` for a new trace).
    pub fn start<'a>(
        &self,
        operation: Operation,
        parent: impl Into<SpanParent<'a>>,
        fields: SpanFields,
    ) -> SpanContext {
        let (trace_id, parent) = match parent.into() {
            SpanParent::Root => (crate::TraceId::random(), Parent::Root),
            SpanParent::Local(local) => (local.trace_id, Parent::Local(local.span_id)),
            SpanParent::Remote(remote) => (remote.trace_id, Parent::Remote(remote)),
        };
        let context = SpanContext::new(trace_id, SpanId::random());
        self.queue_event(
            self.worker_of(trace_id),
            Lifecycle::Start {
                span_id: context.span_id,
                trace_id: Some(trace_id),
                parent,
                operation,
                time: now_nanos(),
                fields: self.boxes.boxed(fields),
            },
        );
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
        self.queue_event(
            self.worker_of(span.trace_id),
            Lifecycle::Update {
                span_id: span.span_id,
                fields: self.boxes.boxed(fields),
            },
        );
    }

    /// Records a point in time inside an open span.
    pub fn event(&self, span: &SpanContext, name: impl Into<String>, attributes: Attributes) {
        self.queue_event(
            self.worker_of(span.trace_id),
            Lifecycle::Event {
                span_id: span.span_id,
                name: name.into(),
                time: now_nanos(),
                attributes,
            },
        );
    }

    /// Ends a span with what is known at the end (usage, result, error).
    pub fn end(&self, span: &SpanContext, fields: SpanFields) {
        self.queue_event(
            self.worker_of(span.trace_id),
            Lifecycle::End {
                span_id: span.span_id,
                time: now_nanos(),
                fields: self.boxes.boxed(fields),
            },
        );
    }

    /// Replaces the mapper at run time with the component in `bytes` (same configuration,
    /// limits and grants as at build). The new component is compiled and checked here, on the
    /// caller's thread: if it does not load, this returns the reason and the old one keeps
    /// running. Otherwise the worker switches at its next event, without waiting for the queue
    /// to drain: spans it has already received are mapped by the old mapper, every later one
    /// (including spans still queued) by the new; none is lost or mapped twice. Returns once the
    /// new mapper is active (or after `timeout`): every span ended after that goes through it.
    /// Dry runs ([`Tracer::map_records`]) use the new mapper from then on too.
    pub fn swap_mapper(&self, bytes: &[u8], timeout: Duration) -> Result<()> {
        let loaded = Slot::load(
            bytes,
            "mapper",
            self.config.clone(),
            self.limits,
            self.grants.clone(),
        );
        let dry_run = loaded
            .as_ref()
            .ok()
            .map(|slot| DryRunMapper::from_component(slot.component.clone()));
        self.swap(loaded.map(|slot| Swap::Mapper(Box::new(slot))), timeout)?;
        if let Some(dry_run) = dry_run {
            *self.dry_run.lock().unwrap_or_else(|e| e.into_inner()) = dry_run;
        }
        Ok(())
    }

    /// Replaces the whole policy chain at run time, with the same guarantees as
    /// [`Tracer::swap_mapper`]. An empty list removes every policy.
    pub fn swap_policies(&self, policies: &[Policy], timeout: Duration) -> Result<()> {
        let loaded = policies
            .iter()
            .map(|policy| policy.load(self.limits, &self.grants))
            .collect::<Result<Vec<_>>>()
            .map(Swap::Policies);
        self.swap(loaded, timeout)
    }

    /// Replaces the ingest component at run time with the one in `bytes`, or removes it with
    /// `None` (received spans then pass on as they came), with the same guarantees as
    /// [`Tracer::swap_mapper`].
    pub fn swap_ingest(&self, bytes: Option<&[u8]>, timeout: Duration) -> Result<()> {
        let loaded = match bytes {
            None => Ok(Swap::Ingest(None)),
            Some(bytes) => Slot::load(
                bytes,
                "ingest",
                self.config.clone(),
                self.limits,
                self.grants.clone(),
            )
            .map(|slot| Swap::Ingest(Some(Box::new(slot)))),
        };
        self.swap(loaded, timeout)
    }

    fn swap(&self, checked: Result<Swap>, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        // Every worker gets instances of its own of the one compiled replacement.
        let swaps = checked.and_then(|swap| {
            let mut swaps = (1..self.workers.len())
                .map(|_| swap.replica())
                .collect::<Result<Vec<_>>>()?;
            swaps.insert(0, swap);
            Ok(swaps)
        });
        let swaps = swaps.inspect_err(|error| {
            Stats::add(&self.stats.component_reload_failures, 1);
            self.stats.error(format!("reload refused: {error}"));
        })?;
        let mut acks = Vec::with_capacity(swaps.len());
        for (worker, swap) in self.workers.iter().zip(swaps) {
            let (ack, done) = crossbeam_channel::bounded(1);
            worker
                .swaps
                .send_deadline((Box::new(swap), ack), deadline)
                .map_err(|_| Error::Timeout(timeout))?;
            // An idle worker waits on the event queue: wake it. A full queue needs no wake-up
            // (the worker checks for swaps before every event).
            let _ = worker.sender.try_send(Message::Wake);
            worker.wake();
            acks.push(done);
        }
        for done in acks {
            done.recv_deadline(deadline)
                .map_err(|_| Error::Timeout(timeout))?;
        }
        Stats::add(&self.stats.component_reloads, 1);
        Ok(())
    }

    /// A dry run: maps `records` with the tracer's mapper component (its configuration, limits
    /// and any swap so far) and returns what it made of them; nothing is exported and no policy
    /// runs. It runs on the caller's thread, in an instance of its own, so a record that makes
    /// the mapper trap never touches the instance that maps live traffic (nor its counters).
    /// For checking what a host in another language sends (the sidecar's `POST /v1/map`, the
    /// conformance vectors). Waits up to `timeout` for another dry run in progress.
    pub fn map_records(&self, records: &[AgentRecord], timeout: Duration) -> Result<MappedBatch> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.dry_run.try_lock() {
                Ok(mut mapper) => return mapper.map(records),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                    return poisoned.into_inner().map(records);
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(Error::Timeout(timeout));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Maps and exports everything ended so far, and exports metrics; waits up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        self.flush_spans(deadline, timeout, self.workers.len() == 1)?;
        if self.workers.len() > 1 {
            // The first worker exports the metrics, once every worker has recorded its own.
            let metrics = |ack| Message::Flush { ack, metrics: true };
            Self::ask(&self.workers[0], metrics, deadline)?
                .recv_deadline(deadline)
                .map_err(|_| Error::Timeout(timeout))?;
        }
        Ok(())
    }

    /// Has every worker map and export what has ended, all at once (and export the metrics,
    /// with `metrics`); waits for all of them up to `deadline`.
    fn flush_spans(&self, deadline: Instant, timeout: Duration, metrics: bool) -> Result<()> {
        let mut answers = Vec::with_capacity(self.workers.len());
        for worker in &self.workers {
            answers.push(Self::ask(
                worker,
                |ack| Message::Flush { ack, metrics },
                deadline,
            )?);
        }
        for answer in answers {
            answer
                .recv_deadline(deadline)
                .map_err(|_| Error::Timeout(timeout))?;
        }
        Ok(())
    }

    /// Sends `worker` the control message `message` makes with an answer channel, and wakes it;
    /// returns where the answer will come.
    fn ask(
        worker: &WorkerHandle,
        message: impl FnOnce(Sender<()>) -> Message,
        deadline: Instant,
    ) -> Result<crossbeam_channel::Receiver<()>> {
        let (ack, done) = crossbeam_channel::bounded(1);
        worker
            .sender
            .send_deadline(message(ack), deadline)
            .map_err(|_| Error::ShutDown)?;
        worker.wake();
        Ok(done)
    }

    /// Ends spans still open (marked incomplete), flushes, and stops the workers; retries
    /// failed exports until `timeout`, then counts what is left as dropped. Later calls report
    /// nothing.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        let handles = self
            .running
            .lock()
            .map(|mut running| std::mem::take(&mut *running))
            .unwrap_or_default();
        if handles.is_empty() {
            return Err(Error::ShutDown);
        }
        let deadline = Instant::now() + timeout;
        self.shutdown_deadline.announce(deadline);
        if self.workers.len() > 1 {
            // The workers map what they have side by side first; below they stop one after
            // the other. A flush that does not finish in time leaves the rest to the stops.
            let _ = self.flush_spans(deadline, timeout, false);
        }
        // The workers give up on retries at the deadline; allow them a moment to report.
        let answered_by = deadline + Duration::from_secs(2);
        let stop = |worker: &WorkerHandle| {
            Self::ask(worker, |ack| Message::Shutdown(ack, deadline), deadline)
                .map_err(|_| Error::Timeout(timeout))
        };
        // The first worker exports the metrics: it stops once the others have recorded theirs.
        let (first, others) = self.workers.split_first().expect("a tracer has a worker");
        let mut outcome = Ok(());
        let acks: Vec<_> = others.iter().map(stop).collect();
        for done in acks {
            if done
                .and_then(|done| {
                    done.recv_deadline(answered_by)
                        .map_err(|_| Error::Timeout(timeout))
                })
                .is_err()
            {
                outcome = Err(Error::Timeout(timeout));
            }
        }
        let first_done = stop(first).and_then(|done| {
            done.recv_deadline(answered_by)
                .map_err(|_| Error::Timeout(timeout))
        });
        outcome = outcome.and(first_done);
        if outcome.is_ok() {
            for handle in handles {
                let _ = handle.join();
            }
        }
        outcome
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracer_can_live_in_memory_aligned_to_16_bytes() {
        // Language hosts embed a Tracer in objects their runtime allocates (a Python object is
        // 16-byte aligned); a cache-padded counter held by value once made that undefined
        // behaviour (pyo3 caught it as a misaligned pointer).
        assert!(std::mem::align_of::<Tracer>() <= 16);
    }
}
