//! `agentrace._native.SpanCore`: what every Python span does (start, keep fields for the end,
//! end, leave a `with` block), in native code.
//!
//! A span's lifecycle used to be Python methods calling the extension: 146 of the 469 Python
//! instructions agentrace ran per span in the scripted AG2 run. Here, one span costs the agent's
//! thread 4.1 µs instead of 4.9 µs; inside the scripted run the difference is within the
//! bench's noise, where the native calls' own cost dominates (BENCHMARKS.md, "Python"). The
//! Python class `agentrace.Span` extends this one with what spans do rarely (events, updates, recording an
//! exception, `async with`), and the package hands over, once, the Python parts the common
//! path needs ([`configure_spans`]): the context variable of the current span, and functions
//! for the rare cases (a root span, a refused start, a refusal to log, OpenTelemetry's context
//! set through its public API).
//!
//! The common path does not leave native code: a span started under a started span (its ids
//! made here, its start kept for the host with its fields dict unread, `handover.rs`), the
//! current span set and reset, the fields kept for the end merged, its end kept likewise. The
//! span's `SpanHandle` (a Python object) is made only when someone asks for it.

use std::sync::atomic::{AtomicU8, Ordering};

use agentrace::events::now_nanos;
use agentrace::{Parent, SpanContext, SpanId, TraceId};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

use crate::handover::Record;
use crate::{NativeTracer, SpanHandle};

/// The Python parts the spans use, given by the package once it has them
/// ([`configure_spans`]).
struct Settings {
    /// `ContextVar.get`, `set` and `reset` of the current agentrace span's variable.
    current_get: Py<PyAny>,
    current_set: Py<PyAny>,
    current_reset: Py<PyAny>,
    /// `start_other(span, parent, error)`: starts a span the native path does not (under a
    /// parent other than a started span, a root under an OpenTelemetry span, or after the
    /// native start was refused with `error`); returns a `SpanHandle` or `None`.
    start_other: Py<PyAny>,
    /// `refused(what, error)`: logs a call the host refused (and counted).
    refused: Py<PyAny>,
    /// `exception_attributes(error, traceback)`: the standard `exception` event's attributes,
    /// its stack trace written from `traceback` (at a hand-over, `handover.rs`).
    exception_attributes: Py<PyAny>,
    /// The formatted frames of recent exceptions, emptied after a hand-over wrote stack traces.
    formatted: Py<PyDict>,
    /// OpenTelemetry's parts, with its API installed.
    otel: Option<OtelParts>,
}

/// What joining OpenTelemetry's context takes, either way (see [`join_otel`]).
struct OtelParts {
    /// `ContextVar.get` of OpenTelemetry's current context, and the key of the current span in
    /// it (lazy join: the package wraps the runtime's `get_current` to answer for the span).
    read_context: Option<Py<PyAny>>,
    span_key: Option<Py<PyAny>>,
    /// `enter(handle)` sets OpenTelemetry's context at start, `exit(joined)` restores it at the
    /// end (eager join, for a runtime context the package cannot wrap).
    enter: Py<PyAny>,
    exit: Py<PyAny>,
}

/// Set once by [`configure_spans`].
static SETTINGS: PyOnceLock<Settings> = PyOnceLock::new();

/// How spans join OpenTelemetry's context ([`join_otel`]): one of the `JOIN_` values.
static JOIN: AtomicU8 = AtomicU8::new(JOIN_NONE);
const JOIN_NONE: u8 = 0;
const JOIN_LAZILY: u8 = 1;
const JOIN_EAGERLY: u8 = 2;

fn settings(py: Python<'_>) -> PyResult<&'static Settings> {
    SETTINGS
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("agentrace: spans are not configured"))
}

/// Gives the spans the Python parts they need, once; the package calls this when it is
/// imported. `otel_enter` and `otel_exit` are given with the OpenTelemetry API installed,
/// `otel_context` (OpenTelemetry's context variable) and `otel_span_key` too when its runtime
/// context is the one the package wraps. Spans then join OpenTelemetry's context lazily when
/// they can, else eagerly ([`join_otel`]).
#[pyfunction]
#[pyo3(signature = (
    *, current, start_other, refused, exception_attributes, formatted,
    otel_enter = None, otel_exit = None, otel_context = None, otel_span_key = None,
))]
#[allow(
    clippy::too_many_arguments,
    reason = "keyword-only options of a Python function"
)]
pub fn configure_spans(
    current: &Bound<'_, PyAny>,
    start_other: Py<PyAny>,
    refused: Py<PyAny>,
    exception_attributes: Py<PyAny>,
    formatted: Py<PyDict>,
    otel_enter: Option<Py<PyAny>>,
    otel_exit: Option<Py<PyAny>>,
    otel_context: Option<&Bound<'_, PyAny>>,
    otel_span_key: Option<Py<PyAny>>,
) -> PyResult<()> {
    let py = current.py();
    let otel = match (otel_enter, otel_exit) {
        (Some(enter), Some(exit)) => Some(OtelParts {
            read_context: otel_context
                .map(|v| v.getattr("get"))
                .transpose()?
                .map(Bound::unbind),
            span_key: otel_span_key,
            enter,
            exit,
        }),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give otel_enter and otel_exit together",
            ));
        }
    };
    let join = match &otel {
        None => JOIN_NONE,
        Some(parts) if parts.read_context.is_some() && parts.span_key.is_some() => JOIN_LAZILY,
        Some(_) => JOIN_EAGERLY,
    };
    let settings = Settings {
        current_get: current.getattr("get")?.unbind(),
        current_set: current.getattr("set")?.unbind(),
        current_reset: current.getattr("reset")?.unbind(),
        start_other,
        refused,
        exception_attributes,
        formatted,
        otel,
    };
    SETTINGS
        .set(py, settings)
        .map_err(|_| PyRuntimeError::new_err("agentrace: spans are configured already"))?;
    JOIN.store(join, Ordering::Relaxed);
    Ok(())
}

/// Chooses how spans make themselves OpenTelemetry's current span: `lazily` (the package's
/// wrapped runtime answers for them; needs OpenTelemetry's context variable) or `eagerly`
/// (each start sets OpenTelemetry's context, each end restores it). The package joins lazily
/// when it can; the tests try both.
#[pyfunction]
pub fn join_otel(py: Python<'_>, how: &str) -> PyResult<()> {
    let otel = settings(py)?
        .otel
        .as_ref()
        .ok_or_else(|| PyValueError::new_err("the OpenTelemetry API is not installed"))?;
    let join = match how {
        "lazily" if otel.read_context.is_some() && otel.span_key.is_some() => JOIN_LAZILY,
        "lazily" => {
            return Err(PyValueError::new_err(
                "OpenTelemetry's runtime context is not the one joined lazily",
            ));
        }
        "eagerly" => JOIN_EAGERLY,
        other => {
            return Err(PyValueError::new_err(format!(
                "join: 'lazily' or 'eagerly', not {other:?}"
            )));
        }
    };
    JOIN.store(join, Ordering::Relaxed);
    Ok(())
}

/// A span's state: created by the `agentrace.Span` constructor, started on entry, ended on
/// exit. Every field is private to the package, which reads them through the `_` attributes.
#[pyclass(subclass, module = "agentrace._native")]
pub struct SpanCore {
    tracer: Py<NativeTracer>,
    operation: Py<PyString>,
    /// Fields reported at start (a dict in the JSON form), if any.
    start_fields: Option<Py<PyAny>>,
    /// Fields kept for the end (`set`), merged record by record.
    end_fields: Option<Py<PyDict>>,
    /// The parent given at creation; `None`: the current span at start.
    parent: Option<Py<PyAny>>,
    /// The span's ids once the host started it (`None` before, or if the start was refused).
    context: Option<SpanContext>,
    /// The span's `SpanHandle`, made on first ask.
    handle: Option<Py<SpanHandle>>,
    /// The current span's context-variable token, to restore the previous one at the end.
    token: Option<Py<PyAny>>,
    /// OpenTelemetry's context when the span started (lazy join).
    otel_found: Option<Py<PyAny>>,
    /// OpenTelemetry's context with this span in it, made on first ask (lazy join); or what
    /// the eager join's `exit` takes.
    otel_joined: Option<Py<PyAny>>,
}

/// Logs fields the host refused when they were handed over (`handover.rs`; the host counted
/// them), through the package's `refused`.
pub(crate) fn log_refused(py: Python<'_>, what: &'static str, error: PyErr) {
    let Ok(settings) = settings(py) else {
        return;
    };
    if let Err(error) = settings
        .refused
        .bind(py)
        .call1((what, error.into_value(py)))
    {
        error.write_unraisable(py, None);
    }
}

/// The standard `exception` event's attributes for `error` recorded with `traceback`, written
/// by the package (at a hand-over, `handover.rs`).
pub(crate) fn exception_attributes<'py>(
    py: Python<'py>,
    error: Py<PyAny>,
    traceback: Py<PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    settings(py)?
        .exception_attributes
        .bind(py)
        .call1((error, traceback))
}

/// Lets go of the frames kept for the stack traces written in a hand-over (`handover.rs`).
pub(crate) fn forget_formatted(py: Python<'_>) {
    if let Ok(settings) = settings(py) {
        settings.formatted.bind(py).clear();
    }
}

/// Leaves a failure of the package's own Python parts to `sys.unraisablehook`: a span never
/// raises into the agent.
fn report_unraisable(py: Python<'_>, error: PyErr, span: &Bound<'_, SpanCore>) {
    error.write_unraisable(py, Some(span.as_any()));
}

impl SpanCore {
    /// The span's `SpanHandle`, made once.
    fn handle_of(slf: &Bound<'_, Self>) -> PyResult<Option<Py<SpanHandle>>> {
        let py = slf.py();
        let mut span = slf.borrow_mut();
        if let Some(handle) = &span.handle {
            return Ok(Some(handle.clone_ref(py)));
        }
        let Some(context) = span.context else {
            return Ok(None);
        };
        let handle = Py::new(
            py,
            SpanHandle {
                context,
                remote: false,
            },
        )?;
        span.handle = Some(handle.clone_ref(py));
        Ok(Some(handle))
    }

    /// Starts the span with the host. Natively: under a started span, or as a new trace when
    /// there is no parent and OpenTelemetry's context (`otel_found`, lazy join) has no span.
    /// Anything else goes through the package's `start_other`.
    fn start_with_host(
        slf: &Bound<'_, Self>,
        settings: &Settings,
        parent: &Bound<'_, PyAny>,
        otel_found: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let native_parent = match parent.cast::<SpanCore>() {
            Ok(parent) => parent.try_borrow().ok().and_then(|p| p.context).map(Some),
            Err(_) if parent.is_none() => {
                let span_key = settings.otel.as_ref().and_then(|o| o.span_key.as_ref());
                match (otel_found, span_key) {
                    (Some(found), Some(key)) if !found.contains(key)? => Some(None),
                    _ => None,
                }
            }
            Err(_) => None,
        };
        let refused = match native_parent {
            Some(parent_context) => {
                let (tracer, operation, fields) = {
                    let span = slf.borrow();
                    let fields = span.start_fields.as_ref().map(|f| f.clone_ref(py));
                    (
                        span.tracer.clone_ref(py),
                        span.operation.clone_ref(py),
                        fields,
                    )
                };
                let tracer = tracer.get();
                match tracer.operation(&operation.bind(py).to_cow()?) {
                    Ok(operation) => {
                        let time = now_nanos();
                        let (trace_id, parent) = match parent_context {
                            Some(parent) => (parent.trace_id, Parent::Local(parent.span_id)),
                            None => (TraceId::random(), Parent::Root),
                        };
                        let context = SpanContext::new(trace_id, SpanId::random());
                        let fields = fields.filter(|f| f.bind(py).is_truthy().unwrap_or(true));
                        let start = Record::Start {
                            context,
                            parent,
                            operation,
                            time,
                            fields,
                        };
                        slf.borrow_mut().context = Some(context);
                        tracer.keep(py, start, time);
                        return Ok(());
                    }
                    Err(error) => Some(error.into_value(py)),
                }
            }
            None => None,
        };
        let handle = settings
            .start_other
            .bind(py)
            .call1((slf, parent, refused))?;
        if let Ok(handle) = handle.cast_into::<SpanHandle>() {
            let mut span = slf.borrow_mut();
            span.context = Some(handle.get().context);
            span.handle = Some(handle.unbind());
        }
        Ok(())
    }

    /// Merges `fields` into the fields kept for the end: records (dicts) key by key, anything
    /// else replaced.
    fn merge(into: &Bound<'_, PyDict>, fields: &Bound<'_, PyDict>) -> PyResult<()> {
        for (key, value) in fields.iter() {
            match (value.cast::<PyDict>(), into.get_item(&key)?) {
                (Ok(record), Some(previous)) if previous.is_instance_of::<PyDict>() => {
                    let merged = previous.cast_into::<PyDict>()?.copy()?;
                    merged.update(record.as_mapping())?;
                    into.set_item(key, merged)?;
                }
                _ => into.set_item(key, value)?,
            }
        }
        Ok(())
    }
}

#[pymethods]
impl SpanCore {
    /// A span of `operation` for `tracer` (an `agentrace.Tracer`), under `parent` (a span, a
    /// `SpanHandle`, a `traceparent`; by default the current span at start) with `fields`
    /// known at start.
    #[new]
    #[pyo3(signature = (tracer, operation, parent = None, fields = None))]
    fn new(
        tracer: &Bound<'_, PyAny>,
        operation: Bound<'_, PyString>,
        parent: Option<Bound<'_, PyAny>>,
        fields: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let native = tracer
            .getattr(intern!(tracer.py(), "_native"))?
            .cast_into::<NativeTracer>()?;
        Ok(Self {
            tracer: native.unbind(),
            operation: operation.unbind(),
            start_fields: fields.filter(|f| !f.is_none()).map(Bound::unbind),
            end_fields: None,
            parent: parent.filter(|p| !p.is_none()).map(Bound::unbind),
            context: None,
            handle: None,
            token: None,
            otel_found: None,
            otel_joined: None,
        })
    }

    /// Starts the span and makes it current; `with` calls this for you.
    fn start<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let settings = settings(py)?;
        let join = JOIN.load(Ordering::Relaxed);
        let otel = settings.otel.as_ref();
        let otel_found = match otel.and_then(|o| o.read_context.as_ref()) {
            Some(read_context) if join == JOIN_LAZILY => Some(read_context.bind(py).call0()?),
            _ => None,
        };
        let parent = slf.borrow().parent.as_ref().map(|p| p.clone_ref(py));
        let parent = match parent {
            Some(parent) => parent.into_bound(py),
            None => settings.current_get.bind(py).call0()?,
        };
        if let Err(error) = Self::start_with_host(slf, settings, &parent, otel_found.as_ref()) {
            report_unraisable(py, error, slf);
        }
        let token = settings.current_set.bind(py).call1((slf,))?;
        {
            let mut span = slf.borrow_mut();
            span.token = Some(token.unbind());
            span.otel_found = otel_found.map(Bound::unbind);
        }
        if let Some(otel) = otel
            && join == JOIN_EAGERLY
            && let Some(handle) = Self::handle_of(slf)?
        {
            match otel.enter.bind(py).call1((handle,)) {
                Ok(joined) => slf.borrow_mut().otel_joined = Some(joined.unbind()),
                Err(error) => report_unraisable(py, error, slf),
            }
        }
        Ok(slf.clone())
    }

    /// Starts the span and makes it current.
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        Self::start(slf)
    }

    /// Keeps fields to report when the span ends (records merged key by key).
    #[pyo3(signature = (**fields))]
    fn set<'py>(
        slf: &Bound<'py, Self>,
        fields: Option<Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let fields = match fields {
            Some(fields) => fields,
            None => PyDict::new(py),
        };
        let kept = slf.borrow().end_fields.as_ref().map(|f| f.clone_ref(py));
        match kept {
            None => slf.borrow_mut().end_fields = Some(fields.unbind()),
            Some(kept) => Self::merge(kept.bind(py), &fields)?,
        }
        Ok(slf.clone())
    }

    /// Ends the span and restores the span that was current before it.
    fn end(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let settings = settings(py)?;
        if let Some(otel) = &settings.otel
            && JOIN.load(Ordering::Relaxed) == JOIN_EAGERLY
        {
            let joined = slf.borrow_mut().otel_joined.take();
            if let Some(joined) = joined
                && let Err(error) = otel.exit.bind(py).call1((joined,))
            {
                report_unraisable(py, error, slf);
            }
        }
        let token = slf.borrow_mut().token.take();
        if let Some(token) = token
            && let Err(error) = settings.current_reset.bind(py).call1((token,))
            && !error.is_instance_of::<PyValueError>(py)
        {
            // A ValueError: ended in another context than it started in; that one is left be.
            report_unraisable(py, error, slf);
        }
        let (tracer, context, fields) = {
            let span = slf.borrow();
            let Some(context) = span.context else {
                return Ok(());
            };
            let fields = span.end_fields.as_ref().map(|f| f.clone_ref(py).into_any());
            (span.tracer.clone_ref(py), context, fields)
        };
        let time = now_nanos();
        let end = Record::End {
            context,
            time,
            fields,
        };
        tracer.get().keep(py, end, time);
        Ok(())
    }

    /// Ends the span; an exception leaving the block is recorded as its error (unless one was
    /// set) and propagates unchanged.
    fn __exit__(
        slf: &Bound<'_, Self>,
        _exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        if !exc.is_none() {
            let kept = slf.borrow().end_fields.as_ref().map(|f| f.clone_ref(py));
            let has_error = match kept {
                Some(kept) => kept.bind(py).contains(intern!(py, "error"))?,
                None => false,
            };
            if !has_error
                && let Err(error) = slf.call_method1(intern!(py, "record_exception"), (exc,))
            {
                report_unraisable(py, error, slf);
            }
        }
        Self::end(slf)
    }

    /// The host's tracer this span reports to.
    #[getter]
    fn _native(&self, py: Python<'_>) -> Py<NativeTracer> {
        self.tracer.clone_ref(py)
    }

    /// The operation this span stands for (``chat``, ``invoke_agent``...).
    #[getter]
    fn _operation(&self, py: Python<'_>) -> Py<PyString> {
        self.operation.clone_ref(py)
    }

    /// The fields given at creation.
    #[getter]
    fn _start(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.start_fields.as_ref().map(|f| f.clone_ref(py))
    }

    /// The fields kept for the end, if any.
    #[getter]
    fn _end(&self, py: Python<'_>) -> Option<Py<PyDict>> {
        self.end_fields.as_ref().map(|f| f.clone_ref(py))
    }

    /// Trace id, span id and `traceparent` once started (`None` if the start was refused).
    #[getter]
    fn _handle(slf: &Bound<'_, Self>) -> PyResult<Option<Py<SpanHandle>>> {
        Self::handle_of(slf)
    }

    /// Whether the host started the span (its start was not refused).
    #[getter]
    fn _started(&self) -> bool {
        self.context.is_some()
    }

    /// OpenTelemetry's context when the span started (lazy join).
    #[getter]
    fn _otel_found(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.otel_found.as_ref().map(|f| f.clone_ref(py))
    }

    /// OpenTelemetry's context with this span in it, once made (lazy join).
    #[getter]
    fn _otel_joined(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.otel_joined.as_ref().map(|f| f.clone_ref(py))
    }

    /// Keeps OpenTelemetry's context with this span in it (lazy join).
    #[setter(_otel_joined)]
    fn set_otel_joined(&mut self, joined: Option<Py<PyAny>>) {
        self.otel_joined = joined;
    }
}
