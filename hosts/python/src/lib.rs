//! `agentrace._native`: the Rust host as a Python extension module.
//!
//! This layer only converts. Python dicts in the JSON form of `docs/events.md` become the
//! host's `SpanFields`, read in place by `PyValue` (a serde deserializer over Python objects,
//! no JSON text in between), and events become queue pushes on the host's
//! [`agentrace::Tracer`]: the agent's thread never waits for wasm or export. A span's start,
//! updates, events and end wait here and are read and pushed with others, mostly by the
//! package's hand-over thread (`handover.rs`); the other calls push at once. Bad input is
//! counted by the host (`agentrace.events.rejected`, with the reason among the recent errors)
//! and answered with `Refused` (a `ValueError`), or, found at a hand-over, logged through the
//! package. The Python package (`agentrace/_tracer.py`) catches and logs
//! refusals and carries on, so nothing raises into the agent.

mod forward;
mod handover;
mod span;

use std::sync::Arc;
use std::time::Duration;

use crate::handover::Record;
use agentrace::events::now_nanos;
use agentrace::{
    AgentRecord, Attributes, Compat, ExportTarget, Operation, Policy, SpanContext, SpanFields,
    SpanId, SpanParent, TraceId, Tracer,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

pyo3::create_exception!(
    _native,
    Refused,
    PyValueError,
    "A call the host refused and has already counted (`events_rejected`)."
);

/// The identity of a started span: its trace and span ids, and the W3C `traceparent` that
/// propagates it.
#[pyclass(frozen, module = "agentrace._native")]
struct SpanHandle {
    context: SpanContext,
    /// A span of another process (from a `traceparent`), not one this tracer started.
    remote: bool,
}

#[pymethods]
impl SpanHandle {
    /// The span a W3C `traceparent` header names, as a parent for spans of this process.
    #[staticmethod]
    fn from_traceparent(header: &str) -> PyResult<Self> {
        let context = SpanContext::from_traceparent(header)
            .map_err(|e| Refused::new_err(format!("traceparent: {e}")))?;
        Ok(Self {
            context,
            remote: true,
        })
    }

    /// Whether the span lives in another process.
    #[getter]
    fn remote(&self) -> bool {
        self.remote
    }

    /// The 128-bit trace id.
    #[getter]
    fn trace_id(&self) -> u128 {
        self.context.trace_id.0
    }

    /// The 64-bit span id.
    #[getter]
    fn span_id(&self) -> u64 {
        self.context.span_id.0
    }

    /// The W3C `traceparent` header naming this span as the parent.
    #[getter]
    fn traceparent(&self) -> String {
        self.context.traceparent()
    }

    fn __repr__(&self) -> String {
        format!("SpanHandle({})", self.context.traceparent())
    }
}

/// The host's tracer: a worker thread that maps finished spans through the wasm mapper and the
/// policy chain, and exports them.
#[pyclass(frozen, module = "agentrace._native")]
struct NativeTracer {
    tracer: Tracer,
    /// Span starts and ends not yet handed to `tracer`.
    pending: handover::Pending,
}

/// Reads one policy: a name or `.wasm` path, or a `(name_or_path, {key: value})` pair.
fn policy_from(item: &Bound<'_, PyAny>) -> PyResult<Policy> {
    let from_source = |source: &str| {
        Policy::from_source(source).map_err(|e| PyValueError::new_err(format!("agentrace: {e}")))
    };
    if let Ok(source) = item.extract::<String>() {
        return from_source(&source);
    }
    let (source, config): (String, Bound<'_, PyDict>) = item.extract().map_err(|_| {
        PyValueError::new_err(
            "a policy is a name or .wasm path, or a (name_or_path, {key: value}) pair",
        )
    })?;
    let mut policy = from_source(&source)?;
    for (key, value) in config.iter() {
        let key: String = key.extract()?;
        let value = if let Ok(flag) = value.extract::<bool>() {
            flag.to_string()
        } else {
            value.str()?.to_string()
        };
        policy = policy.with_config(key, value);
    }
    Ok(policy)
}

impl NativeTracer {
    /// Fields from a dict in the JSON form, or the empty set for `None`. A wrong shape is
    /// counted as a rejected event and answered with the reason.
    fn fields(&self, what: &str, fields: Option<&Bound<'_, PyAny>>) -> PyResult<SpanFields> {
        match fields {
            None => Ok(SpanFields::default()),
            Some(fields) if fields.is_none() => Ok(SpanFields::default()),
            Some(fields) => {
                from_python(fields).map_err(|e| self.refuse(format!("{what}: fields: {e}")))
            }
        }
    }

    fn operation(&self, name: &str) -> PyResult<Operation> {
        name.parse::<Operation>()
            .map_err(|e| self.refuse(format!("start: {e}")))
    }

    /// Starts a span of `operation` under `parent` (its ids, and whether it is another
    /// process's) with fields in the JSON form; a bad operation or bad fields are refused.
    fn start_span(
        &self,
        operation: &str,
        parent: Option<(&SpanContext, bool)>,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SpanContext> {
        let operation = self.operation(operation)?;
        let fields = self.fields("start", fields)?;
        let parent = parent.map_or(SpanParent::Root, |(context, remote)| {
            SpanParent::of_handle(context, remote)
        });
        Ok(self.tracer.start(operation, parent, fields))
    }

    /// Ends a span with the fields known at the end. Bad fields are refused, but the span
    /// still ends, so that it is not left open (and exported as incomplete only at shutdown).
    fn end_span(&self, context: &SpanContext, fields: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        match self.fields("end", fields) {
            Ok(fields) => {
                self.tracer.end(context, fields);
                Ok(())
            }
            Err(error) => {
                self.tracer.end(context, SpanFields::default());
                Err(error)
            }
        }
    }

    /// Attributes from a dict, or none for `None`. A wrong shape is counted as a rejected
    /// event and answered with the reason.
    fn attributes(
        &self,
        what: &str,
        attributes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Attributes> {
        match attributes {
            Some(a) if !a.is_none() => from_python::<Attributes>(a)
                .map_err(|e| self.refuse(format!("{what}: attributes: {e}"))),
            _ => Ok(Attributes::new()),
        }
    }

    /// Keeps a span record made at `time` for the next hand-over (`handover.rs`); hands
    /// everything over when the bound on waiting records is reached.
    fn keep(&self, py: Python<'_>, record: Record, time: u64) {
        if self.pending.keep(record, time) {
            self.hand_over(py);
        }
    }

    /// Counts a refused call in the host's statistics and turns the reason into [`Refused`].
    fn refuse(&self, message: String) -> PyErr {
        self.tracer.reject(message.clone());
        Refused::new_err(message)
    }
}

#[pymethods]
impl NativeTracer {
    /// Builds the pipeline. Every argument is optional; without them the standard `OTEL_*`
    /// variables decide the export and `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`
    /// the content capture. Configuration errors raise here, at start, never later.
    #[new]
    #[pyo3(signature = (
        *,
        service_name = None,
        capture_content = None,
        compat = None,
        policies = None,
        mapper = None,
        output = None,
        forward = None,
        queue_capacity = None,
        max_batch = None,
        flush_interval_ms = None,
        workers = None,
    ))]
    #[allow(
        clippy::too_many_arguments,
        reason = "keyword-only options of the Python constructor"
    )]
    fn new(
        py: Python<'_>,
        service_name: Option<String>,
        capture_content: Option<bool>,
        compat: Option<String>,
        policies: Option<Vec<Bound<'_, PyAny>>>,
        mapper: Option<String>,
        output: Option<String>,
        forward: Option<Py<PyAny>>,
        queue_capacity: Option<usize>,
        max_batch: Option<usize>,
        flush_interval_ms: Option<u64>,
        workers: Option<usize>,
    ) -> PyResult<Self> {
        let mut builder = Tracer::builder();
        if let Some(name) = service_name {
            builder = builder.with_service_name(name);
        }
        if let Some(capture) = capture_content {
            builder = builder.with_capture_content(capture);
        }
        if let Some(compat) = compat {
            let compat: Compat = compat
                .parse()
                .map_err(|e| PyValueError::new_err(format!("agentrace: {e}")))?;
            builder = builder.with_compat(compat);
        }
        for item in policies.unwrap_or_default() {
            builder = builder.with_policy(policy_from(&item)?);
        }
        if let Some(name_or_file) = mapper {
            builder = builder.with_mapper(&name_or_file);
        }
        if let Some(path) = output {
            builder = builder.with_export(if path == "-" {
                ExportTarget::Stdout
            } else {
                ExportTarget::JsonFile(path.into())
            });
        }
        if let Some(callback) = forward {
            builder = builder.with_export(ExportTarget::Forward(Arc::new(
                forward::PythonForwarder::new(callback),
            )));
        }
        if let Some(events) = queue_capacity {
            builder = builder.with_queue_capacity(events);
        }
        if let Some(spans) = max_batch {
            builder = builder.with_max_batch(spans);
        }
        if let Some(ms) = flush_interval_ms {
            builder = builder.with_flush_interval(Duration::from_millis(ms));
        }
        if let Some(workers) = workers {
            builder = builder.with_workers(workers);
        }
        // Compiling the mapper may take a while on a cold cache: let other Python threads run.
        let tracer = py
            .detach(|| builder.build())
            .map_err(|e| PyRuntimeError::new_err(format!("agentrace: {e}")))?;
        Ok(Self {
            tracer,
            pending: handover::Pending::default(),
        })
    }

    /// Whether content (messages, arguments, results) is recorded; integrations skip building
    /// it when not.
    #[getter]
    fn capture_content(&self) -> bool {
        self.tracer.captures_content()
    }

    /// Starts a span of `operation` under `parent` (a new trace when `None`).
    #[pyo3(signature = (operation, parent = None, fields = None))]
    fn start(
        &self,
        py: Python<'_>,
        operation: &str,
        parent: Option<&Bound<'_, SpanHandle>>,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SpanHandle> {
        self.hand_over(py);
        let parent = parent.map(Bound::get).map(|p| (&p.context, p.remote));
        let context = self.start_span(operation, parent, fields)?;
        Ok(SpanHandle {
            context,
            remote: false,
        })
    }

    /// Starts a span under a parent that this tracer did not start: an OpenTelemetry SDK span
    /// of the same process, or a span of another process. The ids are the parent's.
    #[pyo3(signature = (operation, trace_id, span_id, fields = None))]
    fn start_under(
        &self,
        py: Python<'_>,
        operation: &str,
        trace_id: u128,
        span_id: u64,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SpanHandle> {
        self.hand_over(py);
        let operation = self.operation(operation)?;
        if trace_id == 0 || span_id == 0 {
            return Err(self.refuse("start: a parent's ids must not be zero".into()));
        }
        let fields = self.fields("start", fields)?;
        let remote = SpanContext::new(TraceId(trace_id), SpanId(span_id));
        let context = self
            .tracer
            .start(operation, SpanParent::Remote(remote), fields);
        Ok(SpanHandle {
            context,
            remote: false,
        })
    }

    /// Adds fields to an open span (they are merged field by field with the others). Kept
    /// with the span's other records and read when handed over (`handover.rs`).
    #[pyo3(signature = (span, fields = None))]
    fn update(&self, span: &Bound<'_, SpanHandle>, fields: Option<Bound<'_, PyAny>>) {
        let record = Record::Update {
            context: span.get().context,
            fields: fields.filter(|f| !f.is_none()).map(Bound::unbind),
        };
        self.keep(span.py(), record, now_nanos());
    }

    /// Records a point in time inside an open span. Kept with the span's other records and
    /// read when handed over (`handover.rs`); attributes the host refuses are counted and
    /// logged then, and the event left out.
    #[pyo3(signature = (span, name, attributes = None))]
    fn event(
        &self,
        span: &Bound<'_, SpanHandle>,
        name: String,
        attributes: Option<Bound<'_, PyAny>>,
    ) {
        let time = now_nanos();
        let record = Record::Event {
            context: span.get().context,
            time,
            name,
            attributes: attributes.filter(|a| !a.is_none()).map(Bound::unbind),
        };
        self.keep(span.py(), record, time);
    }

    /// Records `error` on an open span as the standard `exception` event. Its attributes (the
    /// stack trace from `traceback`, the exception's traceback now) are written when handed
    /// over (`handover.rs`), off the agent's thread.
    fn exception(
        &self,
        span: &Bound<'_, SpanHandle>,
        error: Bound<'_, PyAny>,
        traceback: Bound<'_, PyAny>,
    ) {
        let time = now_nanos();
        let record = Record::Exception {
            context: span.get().context,
            time,
            error: error.unbind(),
            traceback: traceback.unbind(),
        };
        self.keep(span.py(), record, time);
    }

    /// Ends a span with the fields known at the end.
    #[pyo3(signature = (span, fields = None))]
    fn end(&self, span: &Bound<'_, SpanHandle>, fields: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.hand_over(span.py());
        self.end_span(&span.get().context, fields)
    }

    /// A dry run: maps agent-span records (the JSON form of the WIT `agent-span` list, as in
    /// the conformance vectors) with the live mapper and returns the mapped batch as JSON.
    /// Nothing is exported and no policy runs.
    #[pyo3(signature = (records, timeout = 5.0))]
    fn map_records(&self, py: Python<'_>, records: &str, timeout: f64) -> PyResult<String> {
        let timeout = seconds(timeout)?;
        let records: Vec<AgentRecord> = serde_json::from_str(records)
            .map_err(|e| PyValueError::new_err(format!("records: {e}")))?;
        let batch = py
            .detach(|| self.tracer.map_records(&records, timeout))
            .map_err(|e| PyRuntimeError::new_err(format!("agentrace: {e}")))?;
        serde_json::to_string(&batch).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Counts a problem the Python layer found itself (an integration that could not read an
    /// AG2 object, say) as a rejected event, with `message` among the recent errors.
    fn reject(&self, message: String) {
        self.tracer.reject(message);
    }

    /// Maps and exports everything ended so far; waits up to `timeout` seconds. `False` when
    /// the time ran out first (the work goes on in the background).
    #[pyo3(signature = (timeout = 5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = seconds(timeout)?;
        self.hand_over(py);
        finished(py.detach(|| self.tracer.flush(timeout)))
    }

    /// Ends open spans (marked incomplete), exports, and stops the worker; `False` when the time
    /// ran out before everything was exported (what was not is counted as dropped). Later calls
    /// do nothing.
    #[pyo3(signature = (timeout = 5.0))]
    fn shutdown(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = seconds(timeout)?;
        self.hand_over(py);
        let dropped_before = self.tracer.stats().spans_dropped_at_shutdown;
        let finished = finished(py.detach(|| self.tracer.shutdown(timeout)))?;
        // The worker cuts exports short at the deadline and counts what they held: the time ran
        // out, although the worker itself stopped in time.
        Ok(finished && self.tracer.stats().spans_dropped_at_shutdown == dropped_before)
    }

    /// Hands the waiting span starts and ends to the host if the oldest waited more than
    /// `max_age` seconds (the package's hand-over thread calls this; see `handover.rs`).
    fn hand_over_stale(&self, py: Python<'_>, max_age: f64) -> PyResult<()> {
        let max_age = seconds(max_age)?;
        if let Some(oldest) = self.pending.oldest()
            && agentrace::events::now_nanos().saturating_sub(oldest) >= max_age.as_nanos() as u64
        {
            self.hand_over(py);
        }
        Ok(())
    }

    /// How many span starts and ends wait to be handed to the host.
    #[getter]
    fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// The pipeline's counters, and the last few error messages under `recent_errors`.
    /// Waiting span records are handed over first. `handed_over` and `hand_over_seconds` tell how many span records this module handed
    /// to the host and the time that took, on whichever thread did it (`handover.rs`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.hand_over(py);
        let snapshot = self.tracer.stats();
        let stats = pythonize::pythonize(py, &snapshot)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let (records, seconds) = self.pending.handed_over();
        stats.set_item("handed_over", records)?;
        stats.set_item("hand_over_seconds", seconds)?;
        Ok(stats)
    }
}

/// Reads a Python value into a host type; the error names the path of the bad value.
///
/// Valid values, the common case, are read once without tracking the path, which wraps every
/// value and key (callgrind, the Python span-cost bench's span: 56.5k → 46.7k instructions on
/// the agent's thread without it). Only a value that fails is read again with
/// `serde_path_to_error`, for the message; reading has no side effects.
fn from_python<T: serde::de::DeserializeOwned>(value: &Bound<'_, PyAny>) -> Result<T, String> {
    if let Ok(read) = T::deserialize(PyValue { value, depth: 0 }) {
        return Ok(read);
    }
    serde_path_to_error::deserialize(PyValue { value, depth: 0 }).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

/// How deep nested containers are followed before refusing (a cycle, or a runaway structure,
/// is an error rather than a stack overflow).
const MAX_DEPTH: usize = 64;

/// A serde `Deserializer` over a Python value: `None`, `bool`, `int`, `float`, `str`, and lists,
/// tuples and dicts (string keys) of those. Dicts are walked in place (`PyDict_Next`) and keys
/// are read without copying. Measured on a chat span's fields this is several times cheaper than
/// pythonize, whose per-dict key and value lists dominated the agent-thread cost of a span.
struct PyValue<'a, 'py> {
    value: &'a Bound<'py, PyAny>,
    depth: usize,
}

/// Why a Python value could not be read.
#[derive(Debug)]
struct ReadError(String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl serde::de::Error for ReadError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        ReadError(message.to_string())
    }
}

impl<'a, 'py> PyValue<'a, 'py> {
    fn nested<'b>(&self, value: &'b Bound<'py, PyAny>) -> Result<PyValue<'b, 'py>, ReadError> {
        if self.depth >= MAX_DEPTH {
            return Err(ReadError(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(PyValue {
            value,
            depth: self.depth + 1,
        })
    }
}

fn text<'a>(value: &'a Bound<'_, PyString>) -> Result<std::borrow::Cow<'a, str>, ReadError> {
    value.to_cow().map_err(|e| ReadError(e.to_string()))
}

impl<'de> serde::Deserializer<'de> for PyValue<'_, '_> {
    type Error = ReadError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        let value = self.value;
        if let Ok(string) = value.cast::<PyString>() {
            return visitor.visit_str(&text(string)?);
        }
        if let Ok(dict) = value.cast::<PyDict>() {
            return visitor.visit_map(DictAccess {
                parent: &self,
                items: dict.iter(),
                pending: None,
            });
        }
        if value.is_none() {
            return visitor.visit_unit();
        }
        // bool before int: Python's bool is an int.
        if let Ok(flag) = value.cast::<PyBool>() {
            return visitor.visit_bool(flag.is_true());
        }
        if value.is_instance_of::<PyInt>() {
            if let Ok(n) = value.extract::<i64>() {
                return visitor.visit_i64(n);
            }
            let n: u64 = value
                .extract()
                .map_err(|_| ReadError("an integer out of range".into()))?;
            return visitor.visit_u64(n);
        }
        if let Ok(number) = value.cast::<PyFloat>() {
            return visitor.visit_f64(number.value());
        }
        if let Ok(list) = value.cast::<PyList>() {
            let items: Vec<Bound<'_, PyAny>> = list.iter().collect();
            return visitor.visit_seq(ItemsAccess {
                parent: &self,
                items: items.iter(),
            });
        }
        if let Ok(tuple) = value.cast::<PyTuple>() {
            let items: Vec<Bound<'_, PyAny>> = tuple.iter().collect();
            return visitor.visit_seq(ItemsAccess {
                parent: &self,
                items: items.iter(),
            });
        }
        Err(ReadError(format!("unsupported type {}", type_name(value))))
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        if self.value.is_none() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// A dict's entries, read in place.
struct DictAccess<'a, 'b, 'py> {
    parent: &'a PyValue<'b, 'py>,
    items: pyo3::types::iter::BoundDictIterator<'py>,
    pending: Option<Bound<'py, PyAny>>,
}

impl<'de> serde::de::MapAccess<'de> for DictAccess<'_, '_, '_> {
    type Error = ReadError;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ReadError> {
        let Some((key, value)) = self.items.next() else {
            return Ok(None);
        };
        let key = key.cast_into::<PyString>().map_err(|e| {
            ReadError(format!(
                "a key of type {} is not a string",
                type_name(e.into_inner().as_any())
            ))
        })?;
        self.pending = Some(value);
        let name = text(&key)?;
        seed.deserialize(serde::de::value::StrDeserializer::<ReadError>::new(&name))
            .map(Some)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ReadError> {
        let value = self
            .pending
            .take()
            .ok_or_else(|| ReadError("a value without its key".into()))?;
        seed.deserialize(self.parent.nested(&value)?)
    }
}

/// A list's or tuple's items.
struct ItemsAccess<'a, 'b, 'c, 'py> {
    parent: &'a PyValue<'b, 'py>,
    items: std::slice::Iter<'c, Bound<'py, PyAny>>,
}

impl<'de> serde::de::SeqAccess<'de> for ItemsAccess<'_, '_, '_, '_> {
    type Error = ReadError;

    fn next_element_seed<T: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ReadError> {
        match self.items.next() {
            Some(item) => seed.deserialize(self.parent.nested(item)?).map(Some),
            None => Ok(None),
        }
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".into(), |name| name.to_string())
}

/// Whether a flush or shutdown finished in time; a tracer already shut down has nothing left.
fn finished(outcome: agentrace::Result<()>) -> PyResult<bool> {
    match outcome {
        Ok(()) | Err(agentrace::Error::ShutDown) => Ok(true),
        Err(agentrace::Error::Timeout(_)) => Ok(false),
        Err(e) => Err(PyRuntimeError::new_err(format!("agentrace: {e}"))),
    }
}

fn seconds(value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        PyValueError::new_err(format!("timeout must be a number of seconds, got {value}"))
    })
}

/// The names of the operations a span may stand for, in the JSON form.
fn operation_names(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    PyTuple::new(py, Operation::ALL.map(Operation::as_str))
}

/// The extension module.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeTracer>()?;
    module.add_class::<SpanHandle>()?;
    module.add_class::<span::SpanCore>()?;
    module.add_function(wrap_pyfunction!(span::configure_spans, module)?)?;
    module.add_function(wrap_pyfunction!(span::join_otel, module)?)?;
    module.add("Refused", module.py().get_type::<Refused>())?;
    module.add("OPERATIONS", operation_names(module.py())?)?;
    Ok(())
}
