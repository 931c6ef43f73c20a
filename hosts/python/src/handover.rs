//! Span starts, updates, events and ends handed to the host in batches, off the agent's thread.
//!
//! A span's native start and end ([`crate::span::SpanCore`]) make its ids and read the clock at
//! once, but keep its fields as the Python dict they were given in, here; an update, an event
//! or an exception recorded on a span waits likewise, an exception's stack trace not yet
//! written. The records go to the host's queue together, oldest first, each dict read then into
//! the host's `SpanFields` or `Attributes`:
//! - when the package's hand-over thread finds records waiting
//!   (`NativeTracer.hand_over_stale`): the common case, so that reading and queueing the spans
//!   is not done on the agent's thread. While the agent waits for a model, this costs it
//!   nothing; while it computes, the thread takes the interpreter's lock for a moment every
//!   tenth of a second;
//! - when [`KEPT`] records wait (the bound on the memory they hold, reached only by an agent
//!   that keeps the interpreter busy);
//! - before any call that goes to the host at once (a start by another path, a flush, a
//!   shutdown, the statistics), so that the host sees every span's records in order.
//!
//! Why: inside an agent's code, the reading and queueing code runs cold at every span, on the
//! agent's thread. In the scripted AG2 run, batches at each trace's end took a native start from
//! 5.3 to 1.7 µs (the run's cost per span 25.7 → 23.2 µs); the batches on the hand-over thread
//! take the rest of that work off the agent's thread (BENCHMARKS.md, "Python", which gives the
//! hand-over thread's time per span too).
//!
//! The dicts are read when handed over, not when given: a value changed in between is reported
//! changed. The integrations build their dicts fresh for each span. An exception's stack trace
//! is written from the traceback as it was when recorded; the exception and its frames stay
//! alive until then.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Instant;

use agentrace::{Lifecycle, Operation, Parent, SpanContext, SpanFields};
use pyo3::prelude::*;

use crate::NativeTracer;

/// How many records wait at most before the thread that makes one hands them over.
pub(crate) const KEPT: usize = 1024;

/// A span's start, update, event or end, its fields or attributes not yet read.
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
    /// Fields reported while the span is open.
    Update {
        context: SpanContext,
        /// A dict in the JSON form, read when handed over.
        fields: Option<Py<PyAny>>,
    },
    /// A point in time inside the span.
    Event {
        context: SpanContext,
        /// Unix nanoseconds.
        time: u64,
        name: String,
        /// A dict of attributes, read when handed over.
        attributes: Option<Py<PyAny>>,
    },
    /// An exception recorded on the span: the standard `exception` event, its attributes
    /// (the stack trace among them) written when handed over.
    Exception {
        context: SpanContext,
        /// Unix nanoseconds.
        time: u64,
        /// The exception, and its traceback when it was recorded.
        error: Py<PyAny>,
        traceback: Py<PyAny>,
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

/// The records waiting to be handed over, oldest first, and what handing them over took.
#[derive(Default)]
pub(crate) struct Pending {
    records: Mutex<Vec<Record>>,
    /// Held while a batch is handed over: writing a stack trace runs Python, which lets other
    /// threads run, and a second batch must not reach the host before the first.
    handing: Mutex<()>,
    /// When the oldest waiting record was made (Unix nanoseconds); 0 when none waits.
    oldest: AtomicU64,
    /// Records handed over so far, and the nanoseconds spent doing it (on whichever thread).
    handed_over: AtomicU64,
    hand_over_nanos: AtomicU64,
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
        std::mem::take(&mut *records)
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

    /// Records handed over so far, and the seconds spent handing them over.
    pub(crate) fn handed_over(&self) -> (u64, f64) {
        (
            self.handed_over.load(Ordering::Relaxed),
            self.hand_over_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
}

thread_local! {
    /// Whether this thread is handing a batch over: Python code a hand-over runs (writing a
    /// stack trace) may trace, and its records wait for the next hand-over.
    static HANDING_OVER: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as handing over ([`HANDING_OVER`]) until dropped.
struct HandingOver;

impl HandingOver {
    fn mark() -> Self {
        HANDING_OVER.set(true);
        Self
    }
}

impl Drop for HandingOver {
    fn drop(&mut self) {
        HANDING_OVER.set(false);
    }
}

impl NativeTracer {
    /// Hands every waiting record to the host, after the batch another thread is handing over
    /// (waited for without the interpreter's lock). Nothing, inside a hand-over on this thread.
    pub(crate) fn hand_over(&self, py: Python<'_>) {
        if HANDING_OVER.get() || self.pending.len() == 0 {
            return;
        }
        let _handing = loop {
            match self.pending.handing.try_lock() {
                Ok(guard) => break guard,
                Err(TryLockError::Poisoned(poisoned)) => break poisoned.into_inner(),
                // Waits for the other batch without the interpreter's lock, which it may need.
                Err(TryLockError::WouldBlock) => py.detach(|| {
                    drop(self.pending.handing.lock());
                }),
            }
        };
        let _marked = HandingOver::mark();
        self.hand_over_batch(py);
    }

    /// Hands every waiting record to the host, reading its fields. Fields the host refuses
    /// are counted there and left out (the span is still started, updated or ended); a refused
    /// event is counted and not reported. Refusals are logged through the package once the
    /// whole batch is queued.
    fn hand_over_batch(&self, py: Python<'_>) {
        let began = Instant::now();
        let records = self.pending.take();
        if records.is_empty() {
            return;
        }
        let count = records.len() as u64;
        let mut refused = Vec::new();
        let mut exceptions = false;
        for record in records {
            let read = match record {
                Record::Start {
                    context,
                    parent,
                    operation,
                    time,
                    fields,
                } => Ok((
                    context,
                    Lifecycle::Start {
                        span_id: context.span_id,
                        trace_id: Some(context.trace_id),
                        parent,
                        operation,
                        time,
                        fields: self.boxed(py, "start", fields, &mut refused),
                    },
                )),
                Record::Update { context, fields } => Ok((
                    context,
                    Lifecycle::Update {
                        span_id: context.span_id,
                        fields: self.boxed(py, "update", fields, &mut refused),
                    },
                )),
                Record::Event {
                    context,
                    time,
                    name,
                    attributes,
                } => {
                    let attributes = attributes.map(|a| a.into_bound(py));
                    self.attributes("event", attributes.as_ref())
                        .map(|attributes| event(context, name, time, attributes))
                        .map_err(|error| ("event", error))
                }
                Record::Exception {
                    context,
                    time,
                    error,
                    traceback,
                } => {
                    exceptions = true;
                    // A failure of the package's Python is counted like a refusal.
                    crate::span::exception_attributes(py, error, traceback)
                        .map_err(|e| self.refuse(format!("exception: attributes: {e}")))
                        .and_then(|a| self.attributes("exception", Some(&a)))
                        .map(|attributes| event(context, "exception".into(), time, attributes))
                        .map_err(|error| ("exception", error))
                }
                Record::End {
                    context,
                    time,
                    fields,
                } => Ok((
                    context,
                    Lifecycle::End {
                        span_id: context.span_id,
                        time,
                        fields: self.boxed(py, "end", fields, &mut refused),
                    },
                )),
            };
            match read {
                // A full queue or a shut-down tracer is counted by the host.
                Ok((context, event)) => {
                    let _ = self.tracer.report_in_trace(context.trace_id, event);
                }
                // A refused event is counted (`refuse`) and left out.
                Err(refusal) => refused.push(refusal),
            }
        }
        if exceptions {
            crate::span::forget_formatted(py);
        }
        for (what, error) in refused {
            crate::span::log_refused(py, what, error);
        }
        self.pending.handed_over.fetch_add(count, Ordering::Relaxed);
        self.pending
            .hand_over_nanos
            .fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
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

/// A point in time inside `context`'s span, as the host takes it, beside that span.
fn event(
    context: SpanContext,
    name: String,
    time: u64,
    attributes: agentrace::Attributes,
) -> (SpanContext, Lifecycle) {
    let event = Lifecycle::Event {
        span_id: context.span_id,
        name,
        time,
        attributes,
    };
    (context, event)
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
