//! Export with retry: a batch the exporter refused is kept, bounded in spans, and sent again
//! oldest first after a backoff, so that a collector that is briefly away loses nothing; what
//! exceeds the bound, or is still unsent at the shutdown deadline, is dropped and counted.
//!
//! An OTLP export runs on the export runtime's thread while the worker maps the next batch
//! (one at a time, in order): its answer is taken before the next export starts, at a flush,
//! when the worker is idle, and at shutdown ([`RetryBuffer::settle`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use super::export_runtime::ExportRuntime;
use crate::component::slot::backoff;
use crate::export::{BackgroundExport, SpanSink};
use crate::stats::Stats;

/// Spans to export together, under the tracer's resource (`None`) or a sender's.
pub(crate) struct ExportBatch {
    /// The resource of spans received from another producer; `None`: the tracer's own.
    pub(crate) resource: Option<Arc<Resource>>,
    /// The spans.
    pub(crate) spans: Vec<SpanData>,
}

impl ExportBatch {
    /// Spans under the tracer's own resource.
    pub(crate) fn own(spans: Vec<SpanData>) -> Self {
        Self {
            resource: None,
            spans,
        }
    }

    fn copy(&self) -> Self {
        Self {
            resource: self.resource.clone(),
            spans: self.spans.clone(),
        }
    }

    fn len(&self) -> usize {
        self.spans.len()
    }
}

/// Sends one batch through `sink`.
fn send(
    sink: &mut SpanSink,
    runtime: &ExportRuntime,
    batch: ExportBatch,
) -> opentelemetry_sdk::error::OTelSdkResult {
    runtime.run(sink.export(batch.resource.as_deref(), batch.spans))
}

/// An export under way on the export runtime's thread.
struct InFlight {
    answer: BackgroundExport,
    /// The batch's resource, for a retry.
    resource: Option<Arc<Resource>>,
    count: usize,
}

/// Batches waiting for the exporter to come back, oldest first, bounded in spans, and the
/// export under way.
pub(crate) struct RetryBuffer {
    in_flight: Option<InFlight>,
    batches: VecDeque<ExportBatch>,
    spans: usize,
    capacity_spans: usize,
    failures: u32,
    next_attempt: Option<Instant>,
}

impl RetryBuffer {
    /// An empty buffer holding at most `capacity_spans` spans.
    pub(crate) fn new(capacity_spans: usize) -> Self {
        Self {
            in_flight: None,
            batches: VecDeque::new(),
            spans: 0,
            capacity_spans,
            failures: 0,
            next_attempt: None,
        }
    }

    /// When the next retry is due, if anything waits.
    pub(crate) fn next_attempt(&self) -> Option<Instant> {
        self.next_attempt
    }

    /// Exports a batch, or keeps it for retry when the exporter fails. Order is kept: while
    /// older batches wait, new ones queue behind them.
    pub(crate) fn deliver(
        &mut self,
        sink: &mut SpanSink,
        runtime: &ExportRuntime,
        stats: &Stats,
        data: ExportBatch,
    ) {
        if data.spans.is_empty() {
            return;
        }
        self.settle(runtime, stats);
        if !self.batches.is_empty() {
            self.buffer(stats, data);
            self.retry_due(sink, runtime, stats);
            return;
        }
        let count = data.len();
        let ExportBatch { resource, spans } = data;
        let data = match sink.export_in_background(runtime.handle(), resource.as_deref(), spans) {
            Ok(answer) => {
                self.in_flight = Some(InFlight {
                    answer,
                    resource,
                    count,
                });
                return;
            }
            Err(spans) => ExportBatch { resource, spans },
        };
        // Only an exporter that can fail transiently (OTLP) needs a copy to retry with.
        let copy = sink.can_fail_transiently().then(|| data.copy());
        let count = data.len() as u64;
        match send(sink, runtime, data) {
            Ok(()) => Stats::add(&stats.spans_exported, count),
            Err(error) => {
                self.failed(stats, &error.to_string(), count);
                match copy {
                    Some(copy) => self.buffer(stats, copy),
                    None => Stats::add(&stats.spans_dropped_buffer_full, count),
                }
            }
        }
    }

    /// Sends buffered batches, oldest first, if their retry time has come. While an export is
    /// under way nothing is sent: a failure of it goes before the batches behind it.
    pub(crate) fn retry_due(
        &mut self,
        sink: &mut SpanSink,
        runtime: &ExportRuntime,
        stats: &Stats,
    ) {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|in_flight| !in_flight.answer.is_finished())
        {
            return;
        }
        self.settle(runtime, stats);
        while let Some(at) = self.next_attempt {
            if Instant::now() < at {
                return;
            }
            let Some(batch) = self.batches.pop_front() else {
                self.next_attempt = None;
                return;
            };
            let count = batch.len();
            match send(sink, runtime, batch.copy()) {
                Ok(()) => {
                    Stats::add(&stats.spans_exported, count as u64);
                    self.spans -= count;
                    self.failures = 0;
                    if self.batches.is_empty() {
                        self.next_attempt = None;
                    }
                }
                Err(error) => {
                    self.batches.push_front(batch);
                    self.failed(stats, &error.to_string(), count as u64);
                }
            }
        }
    }

    /// Retries until nothing waits or the next attempt would fall after `deadline`; then
    /// counts what is left as dropped at shutdown.
    pub(crate) fn drain_until(
        &mut self,
        deadline: Instant,
        sink: &mut SpanSink,
        runtime: &ExportRuntime,
        stats: &Stats,
    ) {
        self.settle(runtime, stats);
        while !self.batches.is_empty() {
            let Some(at) = self.next_attempt else {
                break;
            };
            if at > deadline {
                break;
            }
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            self.retry_due(sink, runtime, stats);
        }
        if self.spans > 0 {
            Stats::add(&stats.spans_dropped_at_shutdown, self.spans as u64);
            stats.error(format!(
                "{} spans were still unexported at the shutdown deadline",
                self.spans
            ));
            *self = Self::new(self.capacity_spans);
        }
    }

    /// Waits for the export under way, if any, and counts its spans as exported, or keeps
    /// them for retry when it failed. An export the shutdown deadline cut short is abandoned,
    /// and its spans are counted as dropped at shutdown.
    pub(crate) fn settle(&mut self, runtime: &ExportRuntime, stats: &Stats) {
        let Some(InFlight {
            mut answer,
            resource,
            count,
        }) = self.in_flight.take()
        else {
            return;
        };
        match runtime.run(async { Ok((&mut answer).await) }) {
            Ok(Ok(Ok(()))) => Stats::add(&stats.spans_exported, count as u64),
            Ok(Ok(Err((error, spans)))) => {
                self.failed(stats, &error.to_string(), count as u64);
                self.buffer(stats, ExportBatch { resource, spans });
            }
            Ok(Err(join_error)) => {
                // Only a panic in the exporter ends the task so (it is aborted only below).
                Stats::add(&stats.export_failures, 1);
                Stats::add(&stats.spans_dropped_exporter_panicked, count as u64);
                stats.error(format!(
                    "export of {count} spans ended without an answer ({join_error}); \
                     the spans are dropped"
                ));
            }
            Err(error) => {
                answer.abort();
                Stats::add(&stats.export_failures, 1);
                Stats::add(&stats.spans_dropped_at_shutdown, count as u64);
                stats.error(format!("export of {count} spans abandoned: {error}"));
            }
        }
    }

    fn failed(&mut self, stats: &Stats, error: &str, count: u64) {
        Stats::add(&stats.export_failures, 1);
        self.failures += 1;
        let wait = backoff(self.failures);
        self.next_attempt = Some(Instant::now() + wait);
        stats.error(format!(
            "export of {count} spans failed ({error}); retrying in {wait:?}"
        ));
    }

    /// Adds a batch, dropping (and counting) the oldest spans past the capacity.
    fn buffer(&mut self, stats: &Stats, data: ExportBatch) {
        self.spans += data.len();
        self.batches.push_back(data);
        while self.spans > self.capacity_spans {
            let Some(oldest) = self.batches.pop_front() else {
                break;
            };
            self.spans -= oldest.len();
            Stats::add(&stats.spans_dropped_buffer_full, oldest.len() as u64);
        }
    }
}
