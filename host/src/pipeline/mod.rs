//! The pipeline behind a [`crate::Tracer`]: worker threads (one by default, sharded by trace id
//! when more) each of which takes lifecycle events off a
//! bounded queue, assembles finished spans ([`crate::assembly`]), maps them in batches through
//! the mapper component, runs the policy chain, and exports spans (with retry), metrics and the
//! mapper's log records.
//!
//! The runtime's side is a queue push ([`Message`]); wasm and export happen only on the worker.
//! - `worker`: the loop, batching, the mapper and policy calls, swaps, shutdown;
//! - `retry`: the bounded buffer of batches the exporter refused;
//! - `outbox`: received spans gathered from several requests into larger exports;
//! - `export_runtime`: the exporters' runtime, and the shutdown deadline that bounds exports;
//! - `metrics`: the mapper's metric points and the pipeline's own, exported on an interval;
//! - `fallback`: the minimal mapping used when the mapper fails;
//! - `hold`: spans held until their trace is complete, for policies that want whole traces;
//! - `log_events`: the mapper's log records, carried on their spans through the policies;
//! - `ingest`: received OTLP spans grouped for the ingest component, and its verdicts sorted;
//! - `shards`: with several workers, which one takes an event or a received span (by trace id);
//! - `doorbell`, `recycle`: waking a napping worker, and the pool of field boxes.

pub(crate) mod doorbell;
pub(crate) mod export_runtime;
pub(crate) mod fallback;
pub(crate) mod hold;
pub(crate) mod ingest;
pub(crate) mod log_events;
pub(crate) mod metrics;
pub(crate) mod outbox;
pub(crate) mod recycle;
pub(crate) mod retry;
pub(crate) mod sender_attributes;
pub(crate) mod shards;
pub(crate) mod worker;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::component::Component;
use crate::component::ingest::IngestWorld;
use crate::component::mapper::MapperWorld;
use crate::component::policy::PolicyWorld;
use crate::component::slot::Slot;
use crate::events::Lifecycle;

/// What travels through the queue.
pub(crate) enum Message {
    /// A lifecycle event from the runtime.
    Event(Lifecycle),
    /// Spans received as OTLP from another producer: through the policies to export.
    Received(Box<crate::otlp_in::ReceivedTraces>),
    /// Map and export everything ended so far, and the metrics when `metrics` is set (and
    /// this worker exports them); answer when done.
    Flush {
        /// Where to answer.
        ack: Sender<()>,
        /// Whether to export the metrics too.
        metrics: bool,
    },
    /// Only wakes the worker, so that it sees a [`SwapRequest`] while otherwise idle.
    Wake,
    /// Shut down, giving up on unexported spans at the deadline.
    Shutdown(Sender<()>, Instant),
}

/// The received OTLP spans in the queue, bounded (in spans) apart from the queue's bound in
/// messages: one message may hold a whole request.
#[derive(Debug)]
pub(crate) struct ReceivedBudget {
    queued: AtomicUsize,
    capacity: usize,
}

impl ReceivedBudget {
    /// A budget of `capacity` spans.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Takes room for `spans`, or says there is none. A request larger than the whole budget
    /// still goes in when nothing else waits, so that no request is refused forever.
    pub(crate) fn take(&self, spans: usize) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued == 0 || queued + spans <= self.capacity).then_some(queued + spans)
            })
            .is_ok()
    }

    /// Gives back the room of spans the worker took off the queue (or that were not sent).
    pub(crate) fn give_back(&self, spans: usize) {
        self.queued.fetch_sub(spans, Ordering::AcqRel);
    }
}

/// A replacement and whom to tell once it is active. Swaps travel on their own channel, which the
/// worker reads before every event: a swap takes effect at the next event boundary instead of
/// waiting behind a full queue.
pub(crate) type SwapRequest = (Box<Swap>, Sender<()>);

/// A checked, ready replacement.
pub(crate) enum Swap {
    /// A new mapper with its first instance.
    Mapper(Box<Slot<Component<MapperWorld>>>),
    /// A new policy chain.
    Policies(Vec<Slot<Component<PolicyWorld>>>),
    /// A new ingest component, or none (received spans then pass on as they came).
    Ingest(Option<Box<Slot<Component<IngestWorld>>>>),
}

impl Swap {
    /// The same replacement with instances of its own, for another worker.
    pub(crate) fn replica(&self) -> crate::error::Result<Swap> {
        Ok(match self {
            Swap::Mapper(slot) => Swap::Mapper(Box::new(slot.replica()?)),
            Swap::Policies(slots) => Swap::Policies(
                slots
                    .iter()
                    .map(Slot::replica)
                    .collect::<crate::error::Result<_>>()?,
            ),
            Swap::Ingest(slot) => Swap::Ingest(match slot {
                Some(slot) => Some(Box::new(slot.replica()?)),
                None => None,
            }),
        })
    }
}

/// Batching and export settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchSettings {
    /// Most spans mapped in one call.
    pub(crate) max_batch: usize,
    /// Longest a finished span waits for its batch.
    pub(crate) flush_interval: Duration,
    /// How often metrics are exported.
    pub(crate) metric_interval: Duration,
    /// Most spans kept for retry while the exporter fails.
    pub(crate) export_buffer_spans: usize,
    /// What a span may carry, applied at each edge of the components.
    pub(crate) span_limits: crate::SpanLimits,
    /// How long and how much the worker holds for policies that want whole traces.
    pub(crate) trace_hold: hold::TraceHoldLimits,
}

#[cfg(test)]
mod tests {
    use super::ReceivedBudget;

    #[test]
    fn the_received_budget_refuses_past_its_capacity_but_never_when_empty() {
        let budget = ReceivedBudget::new(10);
        assert!(budget.take(6));
        assert!(!budget.take(5), "6 + 5 exceed 10");
        assert!(budget.take(4));
        budget.give_back(10);
        assert!(
            budget.take(25),
            "a request larger than the budget goes in alone"
        );
        assert!(!budget.take(1));
        budget.give_back(25);
        assert!(budget.take(1));
    }
}
