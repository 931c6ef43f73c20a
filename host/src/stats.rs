//! Counters of what the pipeline did, so that nothing is dropped without being counted. They are
//! readable from the library ([`crate::Tracer::stats`]), printed by `agentrace replay --stats`,
//! and exported as OpenTelemetry metrics (`agentrace.*`) with the GenAI metrics.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

/// How many recent error messages are kept for [`StatsSnapshot::recent_errors`].
const RECENT_ERRORS: usize = 32;

/// Declares the counters once: the live struct, the snapshot, the copy between them, and the
/// OpenTelemetry instruments, so that a new counter cannot be forgotten in one of them.
macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $field:ident => $metric:literal $(, $key:literal = $value:literal)? ;)*) => {
        /// Live counters, shared by the runtime-facing API and the worker. Each has its own
        /// cache line: the runtime's threads count every event while the worker counts every
        /// span, and sharing lines made each report wait for the line to come back.
        #[derive(Debug, Default)]
        pub(crate) struct Stats {
            $(pub(crate) $field: CachePadded<AtomicU64>,)*
            recent_errors: Mutex<VecDeque<String>>,
            totals: Mutex<std::collections::BTreeMap<String, f64>>,
        }

        /// A copy of the counters at one moment. Counters are added over time: read the fields,
        /// or every counter at once with [`StatsSnapshot::rows`].
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
        #[non_exhaustive]
        pub struct StatsSnapshot {
            $($(#[doc = $doc])* pub $field: u64,)*
            /// The most recent error messages, oldest first.
            pub recent_errors: Vec<String>,
            /// Sums of what the metrics recorded, before any policy decided about spans (so
            /// complete under sampling): the mapper's token usage by token type
            /// (`gen_ai.client.token.usage[input]`) and each counter the policies added to, by
            /// name and unit (`agentrace.usage.cost[{USD}]`).
            pub totals: std::collections::BTreeMap<String, f64>,
        }

        impl Stats {
            pub(crate) fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot {
                    $($field: self.$field.load(Ordering::Relaxed),)*
                    recent_errors: self
                        .recent_errors
                        .lock()
                        .map(|r| r.iter().cloned().collect())
                        .unwrap_or_default(),
                    totals: self.totals.lock().map(|t| t.clone()).unwrap_or_default(),
                }
            }

            /// Registers every counter as an observable OpenTelemetry counter on `meter`.
            pub(crate) fn register(self: &Arc<Self>, meter: &Meter) {
                $(
                    let stats = Arc::clone(self);
                    let attributes: Vec<KeyValue> = vec![$(KeyValue::new($key, $value))?];
                    let _counter = meter
                        .u64_observable_counter($metric)
                        .with_description(concat!($($doc),*).trim())
                        .with_callback(move |observer| {
                            observer.observe(stats.$field.load(Ordering::Relaxed), &attributes)
                        })
                        .build();
                )*
            }
        }

        impl StatsSnapshot {
            /// Every counter as (metric name, attribute, value), for printing.
            pub fn rows(&self) -> Vec<(&'static str, Option<(&'static str, &'static str)>, u64)> {
                vec![$(($metric, None$(.or(Some(($key, $value))))?, self.$field),)*]
            }
        }
    };
}

counters! {
    /// Lifecycle events accepted into the queue.
    events_queued => "agentrace.events.queued";
    /// Lifecycle events dropped because the queue was full.
    events_dropped_queue_full => "agentrace.events.dropped", "reason" = "queue_full";
    /// Lifecycle events rejected as inconsistent (unknown span, duplicate start, cycle...).
    events_rejected => "agentrace.events.rejected";
    /// Spans received as OTLP from other producers ([`crate::Tracer::receive`]) and queued.
    spans_received => "agentrace.spans.received";
    /// Received OTLP spans refused: an id of the wrong length or zero (`reason=invalid`).
    spans_received_invalid => "agentrace.spans.refused", "reason" = "invalid";
    /// Received OTLP spans refused because the pipeline's queue was full; the sender was told
    /// to retry (`reason=queue_full`).
    spans_received_queue_full => "agentrace.spans.refused", "reason" = "queue_full";
    /// Received spans the ingest component turned into records that the mapper mapped.
    spans_normalised => "agentrace.spans.normalised";
    /// Received spans the ingest component dropped (`reason=ingest`).
    spans_dropped_by_ingest => "agentrace.spans.dropped", "reason" = "ingest";
    /// Received spans passed on as they came, marked `agentrace.ingest.failed`, because the
    /// ingest call failed (trap, deadline, error, wrong number of verdicts, backoff), their
    /// verdict broke the contract, or the mapper failed on their record.
    spans_ingest_failed => "agentrace.spans.ingest_failed";
    /// Spans started.
    spans_started => "agentrace.spans.started";
    /// Spans ended (by the runtime, or by the host at shutdown).
    spans_ended => "agentrace.spans.ended";
    /// Spans the host ended at shutdown because the runtime never did.
    spans_ended_incomplete => "agentrace.spans.incomplete";
    /// Spans handed to the exporter successfully.
    spans_exported => "agentrace.spans.exported";
    /// Spans the mapper rejected (each with an error message).
    spans_rejected_by_mapper => "agentrace.spans.dropped", "reason" = "mapper_rejected";
    /// Spans dropped because the export retry buffer was full.
    spans_dropped_buffer_full => "agentrace.spans.dropped", "reason" = "export_buffer_full";
    /// Spans still unexported when the shutdown deadline passed.
    spans_dropped_at_shutdown => "agentrace.spans.dropped", "reason" = "shutdown_deadline";
    /// Spans whose export ended in a panic of the exporter, on the export runtime's thread.
    spans_dropped_exporter_panicked => "agentrace.spans.dropped", "reason" = "exporter_panicked";
    /// Spans a policy chose not to pass on (sampling, filtering).
    spans_dropped_by_policy => "agentrace.spans.dropped", "reason" = "policy";
    /// Spans exported with their content stripped because a policy failed (fail closed).
    spans_failed_closed => "agentrace.spans.failed_closed";
    /// Batches a policy failed on (trap, deadline, memory, error, invalid output, backoff).
    policy_failures => "agentrace.policy.failures";
    /// Spans mapped by the built-in fallback because the component failed or was backing off.
    spans_fallback_mapped => "agentrace.spans.fallback";
    /// Export attempts that failed (their spans wait in the retry buffer).
    export_failures => "agentrace.export.failures";
    /// Calls into the mapper component.
    component_calls => "agentrace.component.calls";
    /// Calls that trapped: deadline, memory, panic, stack overflow.
    component_traps => "agentrace.component.traps";
    /// Calls the component answered with an error for the whole batch.
    component_errors => "agentrace.component.errors";
    /// Calls whose output exceeded the limits.
    component_oversized => "agentrace.component.oversized";
    /// Calls whose output broke the contract: a policy's verdicts not one per span, or a
    /// replacement span with other ids.
    component_invalid_output => "agentrace.component.invalid_output";
    /// Component instances created after the first.
    component_restarts => "agentrace.component.restarts";
    /// Instances replaced because of their call count or memory high-water mark.
    component_recycles => "agentrace.component.recycles";
    /// Components replaced at run time (hot swap).
    component_reloads => "agentrace.component.reloads";
    /// Replacements refused because the new component did not load or check.
    component_reload_failures => "agentrace.component.reload_failures";
    /// Failed attempts to create an instance.
    component_start_failures => "agentrace.component.start_failures";
    /// Batches mapped.
    batches => "agentrace.batches";
    /// Metric exports that failed.
    metric_export_failures => "agentrace.metrics.export_failures";
    /// Spans that skipped the policies wanting whole traces because the trace hold was full;
    /// they went on through the rest of the chain.
    spans_not_held => "agentrace.spans.not_held";
    /// Traces handed to the whole-trace policies while spans of theirs were still open (held
    /// longer than the hold time, or released by a flush or a policy swap).
    traces_released_incomplete => "agentrace.traces.released_incomplete";
    /// Events the mapper emitted on the logs signal and the log exporter accepted.
    logs_exported => "agentrace.logs.exported";
    /// Log records lost: their export failed (they are not retried), the target takes no logs
    /// (an application's own pipeline receives spans only), or the span they belong to was not
    /// in the mapper's output. Each kind is described in the recent errors.
    logs_dropped => "agentrace.logs.dropped";
    /// Counter additions a plugin made that were refused (negative, not finite, or over the
    /// bound per call).
    counter_adds_refused => "agentrace.component.counter_adds_refused";
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds `value` to the running total named `key` ([`StatsSnapshot::totals`]).
    pub(crate) fn total(&self, key: String, value: f64) {
        if let Ok(mut totals) = self.totals.lock() {
            *totals.entry(key).or_default() += value;
        }
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
}

impl StatsSnapshot {
    /// Spans that entered the pipeline (started, or received as OTLP) and are accounted for:
    /// exported, or dropped for a counted reason. Equal to `spans_started + spans_received`
    /// once everything has been flushed.
    pub fn spans_accounted(&self) -> u64 {
        self.spans_exported
            + self.spans_rejected_by_mapper
            + self.spans_dropped_by_policy
            + self.spans_dropped_by_ingest
            + self.spans_lost_in_export()
    }

    /// Spans the mapping and the policies passed on that were then lost in export: the retry
    /// buffer was full, the shutdown deadline passed, or the exporter panicked.
    pub fn spans_lost_in_export(&self) -> u64 {
        self.spans_dropped_buffer_full
            + self.spans_dropped_at_shutdown
            + self.spans_dropped_exporter_panicked
    }
}
