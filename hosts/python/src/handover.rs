//! Span starts and ends handed to the host in batches.
//!
//! A span's native start and end ([`crate::span::SpanCore`]) make its ids and read the clock at
//! once, but keep its fields as the Python dict they were given in, here. The records go to the
//! host's queue together, oldest first, each dict read then into the host's `SpanFields`:
//! - when a span that began its trace in this process (a local root) ends;
//! - when [`KEPT`] records wait;
//! - before any call that goes to the host at once (a start by another path, an update, an
//!   event, a flush, a shutdown), so that the host sees every span's events in order;
//! - when the package's hand-over thread finds records older than it allows
//!   (`NativeTracer.hand_over_stale`), so a span's end waits a bounded time while the agent is
//!   idle.
//!
//! Why: inside an agent's code, the reading and queueing code runs cold at every span; done for
//! many spans in a row, it stays warm. In the scripted AG2 run, a native start went from 5.3 to
//! 1.7 µs; with the hand-overs at the roots' ends counted, the run's cost per span went from
//! 25.7 to 23.2 µs (BENCHMARKS.md, "Python").
//!
//! The dicts are read when handed over, not when given: a value changed in between is reported
//! changed. The integrations build their dicts fresh for each span.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use agentrace::{Lifecycle, Operation, Parent, SpanContext, SpanFields};
use pyo3::prelude::*;

use crate::NativeTracer;

/// How many records wait at most before they are handed over.
pub(crate) const KEPT: usize = 128;

/// A span's start or end, its fields not yet read.
pub(crate) enum Record {
    /// A span began.
    Start {
        context: SpanContext,
        parent: Parent,
        operation: Operation,
        /// Unix nanoseconds.
        time: u64,
        /// A dict in the JSON form, read when handed over.
        fields: Option<Py<PyAny>>,
    },
    /// A span ended.
    End {
        context: SpanContext,
        /// Unix nanoseconds.
        time: u64,
        /// A dict in the JSON form, read when handed over.
        fields: Option<Py<PyAny>>,
    },
}

/// The records waiting to be handed over, oldest first.
#[derive(Default)]
pub(crate) struct Pending {
    records: Mutex<Vec<Record>>,
    /// When the oldest waiting record was made (Unix nanoseconds); 0 when none waits.
    oldest: AtomicU64,
}

impl Pending {
    /// Keeps `record`, made at `time`; true when [`KEPT`] records wait.
    pub(crate) fn keep(&self, record: Record, time: u64) -> bool {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.is_empty() {
            self.oldest.store(time, Ordering::Relaxed);
        }
        records.push(record);
        records.len() >= KEPT
    }

    /// Takes every waiting record.
    fn take(&self) -> Vec<Record> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.is_empty() {
            return Vec::new();
        }
        self.oldest.store(0, Ordering::Relaxed);
        std::mem::replace(&mut *records, Vec::with_capacity(KEPT))
    }

    /// How many records wait.
    pub(crate) fn len(&self) -> usize {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// When the oldest waiting record was made, if one waits.
    pub(crate) fn oldest(&self) -> Option<u64> {
        match self.oldest.load(Ordering::Relaxed) {
            0 => None,
            time => Some(time),
        }
    }
}

impl NativeTracer {
    /// Hands every waiting record to the host, reading its fields. Fields the host refuses
    /// are counted there and left out (the span is still started or ended), then logged
    /// through the package once the whole batch is queued.
    pub(crate) fn hand_over(&self, py: Python<'_>) {
        let records = self.pending.take();
        if records.is_empty() {
            return;
        }
        let mut refused = Vec::new();
        for record in records {
            let (trace, event) = match record {
                Record::Start {
                    context,
                    parent,
                    operation,
                    time,
                    fields,
                } => (
                    context.trace_id,
                    Lifecycle::Start {
                        span_id: context.span_id,
                        trace_id: Some(context.trace_id),
                        parent,
                        operation,
                        time,
                        fields: self.boxed(py, "start", fields, &mut refused),
                    },
                ),
                Record::End {
                    context,
                    time,
                    fields,
                } => (
                    context.trace_id,
                    Lifecycle::End {
                        span_id: context.span_id,
                        time,
                        fields: self.boxed(py, "end", fields, &mut refused),
                    },
                ),
            };
            // A full queue or a shut-down tracer is counted by the host.
            let _ = self.tracer.report_in_trace(trace, event);
        }
        for (what, error) in refused {
            crate::span::log_refused(py, what, error);
        }
    }

    /// `fields` read into a field box; refused fields give an empty box, and the reason.
    fn boxed(
        &self,
        py: Python<'_>,
        what: &'static str,
        fields: Option<Py<PyAny>>,
        refused: &mut Vec<(&'static str, PyErr)>,
    ) -> Box<SpanFields> {
        let fields = match fields {
            None => SpanFields::default(),
            Some(fields) => self
                .fields(what, Some(fields.bind(py)))
                .unwrap_or_else(|error| {
                    refused.push((what, error));
                    SpanFields::default()
                }),
        };
        self.tracer.boxed_fields(fields)
    }
}

impl Drop for NativeTracer {
    /// A tracer dropped with records waiting hands them to the host first, which exports or
    /// counts them like any other: none is lost uncounted.
    fn drop(&mut self) {
        if self.pending.len() > 0 {
            Python::attach(|py| self.hand_over(py));
        }
    }
}
