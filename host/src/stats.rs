//! Counters of what the pipeline did, so that nothing is dropped without being counted.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many recent error messages are kept for [`StatsSnapshot::recent_errors`].
const RECENT_ERRORS: usize = 32;

/// Live counters, shared by the runtime-facing API and the worker.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) events_queued: AtomicU64,
    pub(crate) events_dropped_queue_full: AtomicU64,
    pub(crate) events_rejected: AtomicU64,
    pub(crate) spans_started: AtomicU64,
    pub(crate) spans_ended: AtomicU64,
    pub(crate) spans_ended_incomplete: AtomicU64,
    pub(crate) spans_exported: AtomicU64,
    pub(crate) spans_rejected_by_mapper: AtomicU64,
    pub(crate) spans_export_failed: AtomicU64,
    pub(crate) spans_fallback_mapped: AtomicU64,
    pub(crate) mapper_failures: AtomicU64,
    pub(crate) mapper_restarts: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) metric_export_failures: AtomicU64,
    recent_errors: Mutex<VecDeque<String>>,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Remembers an error message (the last few are kept) for callers and the CLI.
    pub(crate) fn error(&self, message: String) {
        if let Ok(mut recent) = self.recent_errors.lock() {
            if recent.len() == RECENT_ERRORS {
                recent.pop_front();
            }
            recent.push_back(message);
        }
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            events_queued: get(&self.events_queued),
            events_dropped_queue_full: get(&self.events_dropped_queue_full),
            events_rejected: get(&self.events_rejected),
            spans_started: get(&self.spans_started),
            spans_ended: get(&self.spans_ended),
            spans_ended_incomplete: get(&self.spans_ended_incomplete),
            spans_exported: get(&self.spans_exported),
            spans_rejected_by_mapper: get(&self.spans_rejected_by_mapper),
            spans_export_failed: get(&self.spans_export_failed),
            spans_fallback_mapped: get(&self.spans_fallback_mapped),
            mapper_failures: get(&self.mapper_failures),
            mapper_restarts: get(&self.mapper_restarts),
            batches: get(&self.batches),
            metric_export_failures: get(&self.metric_export_failures),
            recent_errors: self
                .recent_errors
                .lock()
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Lifecycle events accepted into the queue.
    pub events_queued: u64,
    /// Lifecycle events dropped because the queue was full.
    pub events_dropped_queue_full: u64,
    /// Lifecycle events rejected as inconsistent (unknown span, duplicate start...).
    pub events_rejected: u64,
    /// Spans started.
    pub spans_started: u64,
    /// Spans ended (by the runtime or at shutdown).
    pub spans_ended: u64,
    /// Spans the host ended at shutdown because the runtime never did.
    pub spans_ended_incomplete: u64,
    /// Spans handed to the exporter successfully.
    pub spans_exported: u64,
    /// Spans the mapper rejected (each with an error message).
    pub spans_rejected_by_mapper: u64,
    /// Spans lost because the exporter failed.
    pub spans_export_failed: u64,
    /// Spans mapped by the built-in fallback because the component failed.
    pub spans_fallback_mapped: u64,
    /// Batches the component failed on (trap, deadline, memory, error).
    pub mapper_failures: u64,
    /// Component instances recreated after a failure.
    pub mapper_restarts: u64,
    /// Batches mapped.
    pub batches: u64,
    /// Metric exports that failed.
    pub metric_export_failures: u64,
    /// The most recent error messages, oldest first.
    pub recent_errors: Vec<String>,
}
