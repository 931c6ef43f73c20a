//! The pipeline behind a [`crate::Tracer`]: one worker thread that takes lifecycle events off a
//! bounded queue, assembles finished spans ([`crate::assembly`]), maps them in batches through
//! the mapper component, runs the policy chain, and exports spans (with retry), metrics and the
//! mapper's log records.
//!
//! The runtime's side is a queue push ([`Message`]); wasm and export happen only on the worker.
//! - `worker`: the loop, batching, the mapper and policy calls, swaps, shutdown;
//! - `retry`: the bounded buffer of batches the exporter refused;
//! - `metrics`: the mapper's metric points and the pipeline's own, exported on an interval;
//! - `fallback`: the minimal mapping used when the mapper fails;
//! - `hold`: spans held until their trace is complete, for policies that want whole traces;
//! - `log_events`: the mapper's log records, carried on their spans through the policies;
//! - `doorbell`, `recycle`: waking a napping worker, and the pool of field boxes.

pub(crate) mod doorbell;
pub(crate) mod fallback;
pub(crate) mod hold;
pub(crate) mod log_events;
pub(crate) mod metrics;
pub(crate) mod recycle;
pub(crate) mod retry;
pub(crate) mod worker;

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::component::Component;
use crate::component::mapper::MapperWorld;
use crate::component::policy::PolicyWorld;
use crate::component::slot::Slot;
use crate::events::Lifecycle;

/// What travels through the queue.
pub(crate) enum Message {
    /// A lifecycle event from the runtime.
    Event(Lifecycle),
    /// Map and export everything ended so far, and the metrics; answer when done.
    Flush(Sender<()>),
    /// Only wakes the worker, so that it sees a [`SwapRequest`] while otherwise idle.
    Wake,
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
    Mapper(Box<Slot<Component<MapperWorld>>>),
    /// A new policy chain.
    Policies(Vec<Slot<Component<PolicyWorld>>>),
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
