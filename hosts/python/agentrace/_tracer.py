"""The Python face of the agentrace host: a tracer and context-manager spans.

Every call here is one queue push into the Rust host (``agentrace._native``); mapping through
the wasm component and export happen on the host's worker thread. Nothing in this module raises
into the agent because of what it reports: a refused call is logged on the ``agentrace`` logger
and counted by the host (``stats()["events_rejected"]``), and the agent carries on.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import contextvars
import json
import linecache
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Iterator
from typing import Any

from . import _provider
from . import _native
from ._native import OPERATIONS, NativeTracer, Refused, SpanCore, SpanHandle

try:  # Joining OpenTelemetry's context needs only the API package, when present.
    from opentelemetry import context as _otel_context
    from opentelemetry import trace as _otel_trace

    _SAMPLED = _otel_trace.TraceFlags(_otel_trace.TraceFlags.SAMPLED)
except ImportError:  # pragma: no cover - exercised by users without OpenTelemetry
    _otel_context = None
    _otel_trace = None

__all__ = ["OPERATIONS", "Span", "Tracer", "continue_trace", "current_span", "get_tracer", "set_tracer"]

logger = logging.getLogger("agentrace")

_KNOWN_OPERATIONS = frozenset(OPERATIONS)

#: The agentrace span current in this thread or asyncio task; a remote parent set by
#: :func:`continue_trace` is a ``SpanHandle``.
_current: contextvars.ContextVar[Span | SpanHandle | None] = contextvars.ContextVar("agentrace_span", default=None)


def current_span() -> Span | None:
    """The agentrace span current in this thread or task, if any."""
    current = _current.get()
    return current if isinstance(current, Span) else None


@contextlib.contextmanager
def continue_trace(traceparent: str | None) -> Iterator[None]:
    """Within the block, spans without a parent of their own continue the trace of another
    process named by a W3C ``traceparent`` (an incoming request's header, say). A missing or
    malformed header leaves the default parents in place; a malformed one is logged (not
    counted: no tracer is involved yet)."""
    if not traceparent:
        yield
        return
    try:
        handle = SpanHandle.from_traceparent(traceparent)
    except Exception as error:  # noqa: BLE001 - never raised into the request
        _refused("traceparent", error)
        yield
        return
    token = _current.set(handle)
    try:
        yield
    finally:
        _current.reset(token)


def _otel_parent() -> tuple[int, int] | None:
    """The ids of the active OpenTelemetry span, when one is active and valid."""
    if _otel_trace is None:
        return None
    context = _otel_trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return context.trace_id, context.span_id


if _otel_trace is not None:

    class _JoinedSpan(_otel_trace.NonRecordingSpan):
        """An agentrace span as OpenTelemetry's current span. Its ``SpanContext`` is made the
        first time someone asks for it (an instrumentation starting a child span, a propagator
        injecting a header): most agentrace spans have no OpenTelemetry child, and making one
        for each cost about a microsecond on the agent's thread."""

        def __init__(self, handle: SpanHandle) -> None:  # noqa: D107 - the base's context comes later
            self._handle = handle
            self._context = None

        def get_span_context(self) -> Any:
            context = self._context
            if context is None:
                handle = self._handle
                context = self._context = _otel_trace.SpanContext(
                    handle.trace_id, handle.span_id, is_remote=False, trace_flags=_SAMPLED
                )
            return context

        def __repr__(self) -> str:
            return f"NonRecordingSpan({self.get_span_context()!r})"


def _runtime_context_var() -> tuple[contextvars.ContextVar, Any, Any] | None:
    """OpenTelemetry's own ``ContextVar`` of the current context, its ``Context`` class and the
    key of the current span, when its runtime context is the standard contextvars one (the
    default; ``OTEL_PYTHON_CONTEXT`` can choose another). With anything else (another runtime
    context, an API version that names them differently), the public functions are used."""
    if _otel_context is None:
        return None
    try:
        from opentelemetry.context.context import Context
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
        from opentelemetry.trace.propagation import _SPAN_KEY

        runtime = _otel_context._RUNTIME_CONTEXT
        variable = runtime._current_context
    except (ImportError, AttributeError):  # pragma: no cover - other API versions
        return None
    if type(runtime) is not ContextVarsRuntimeContext or not isinstance(variable, contextvars.ContextVar):
        return None
    if not isinstance(variable.get(), Context):  # pragma: no cover - not the variable we know
        return None
    return variable, Context, _SPAN_KEY


#: See :func:`_runtime_context_var`.
_OTEL_RUNTIME = _runtime_context_var()

#: Whether spans set OpenTelemetry's context at their start and end themselves
#: (:func:`_otel_enter`, with a runtime context :func:`_join_lazily` cannot wrap) rather than
#: through the wrapped runtime; :func:`_join_otel` sets it.
_JOIN_EAGERLY = False


def _join_lazily(runtime: tuple[contextvars.ContextVar, Any, Any]) -> None:
    """Makes the current agentrace span OpenTelemetry's current span without touching
    OpenTelemetry's context on every span: its runtime's ``get_current`` (which every reader of
    the current context goes through: ``get_current_span``, ``start_span``, ``attach``...) is
    wrapped, on that runtime object only, to answer the context current when the agentrace span
    started with that span set in it, as long as OpenTelemetry's context is still the one it
    found (an OpenTelemetry span started inside it changes that, and wins until it ends). The
    context is made once per span, the first time someone asks: most agentrace spans have no
    OpenTelemetry child. Setting OpenTelemetry's context at each span start and end instead
    (a new ``Context``, ``_JoinedSpan`` and context-variable token each time) was 70 of the 562
    Python instructions agentrace ran per span on the scripted AG2 run (BENCHMARKS.md,
    "Python"). Another agentrace package in the same process (another build) chains its own
    wrapper around this one."""
    variable, context_class, span_key = runtime
    runtime_object = _otel_context._RUNTIME_CONTEXT
    previous = runtime_object.get_current
    read_current = variable.get
    read_span = _current.get

    def get_current() -> Any:
        span = read_span()
        if type(span) is Span and span._started:
            found = read_current()
            if span._otel_found is found:
                joined = span._otel_joined
                if joined is None:
                    joined = span._otel_joined = context_class({**found, span_key: _JoinedSpan(span._handle)})
                return joined
        return previous()

    runtime_object.get_current = get_current


def _otel_enter(handle: SpanHandle) -> tuple[Any, Any] | None:
    """Makes ``handle``'s span OpenTelemetry's current span through the public functions, for a
    runtime context :func:`_join_lazily` cannot wrap. Returns what :func:`_otel_exit` needs."""
    if _otel_trace is None:
        return None
    entered = _otel_trace.set_span_in_context(_JoinedSpan(handle))
    return _otel_context.attach(entered), entered


def _otel_exit(joined: tuple[Any, Any]) -> None:
    """Restores OpenTelemetry's context from before :func:`_otel_enter`, unless the span ends in
    another context than it started in (an async generator resumed elsewhere, say): that one is
    left as it is, as for agentrace's own current span."""
    token, entered = joined
    if _otel_context.get_current() is entered:
        _otel_context.detach(token)


def json_or_text(value: Any) -> Any:
    """A JSON text as the value it encodes (tool arguments arrive as JSON text); anything
    else, including text that is not JSON, as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


#: ``stack_trace``'s default: the exception's traceback as it is now.
_NOW: Any = object()


def stack_trace(error: BaseException, traceback_head: Any = _NOW) -> str:
    """The exception's traceback in Python's own format, chained exceptions included, but
    without the ``^^^~~~`` lines under the failing expression. The standard library's
    formatting parses the source line of every frame to place those (``ast.parse``, since
    Python 3.11) and checks every file on disk: a model call's error recorded on three nested
    AG2 spans cost 2-4 ms on the agent's thread that way here, most of the cost of tracing a
    scripted AG2 run (BENCHMARKS.md, "Python"). Source lines come from ``linecache``. An
    exception group, whose members the standard format draws nested, is left to the standard
    library. An exception that leaves several nested spans is formatted once per span, each
    time with the frames it gained since: the frames already formatted are reused
    (:data:`_FORMATTED`). ``traceback_head``: ``error``'s traceback as it was when recorded
    (by default, as it is now; ``None`` for none), since it gains frames as the exception
    propagates."""
    blocks: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        head = current.__traceback__ if current is not error or traceback_head is _NOW else traceback_head
        if isinstance(current, _EXCEPTION_GROUPS):
            blocks.append("".join(traceback.format_exception(type(current), current, head, chain=False)))
        else:
            lines = _frames(current, head) if head is not None else []
            blocks.append("".join(lines + _exception_only(current)))
        if current.__cause__ is not None:
            blocks.append("\nThe above exception was the direct cause of the following exception:\n\n")
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            blocks.append("\nDuring handling of the above exception, another exception occurred:\n\n")
            current = current.__context__
        else:
            current = None
    return "".join(reversed(blocks))


def _exception_only(error: BaseException) -> list[str]:
    """The last line of the exception's standard format: ``module.Type: message`` (no module for
    built-in exceptions and those of ``__main__``; no ``: message`` when ``str`` is empty), as
    ``traceback.format_exception_only`` writes it. That function builds a whole
    ``TracebackException`` first (and one for each chained exception, frames included): 20-28
    µs on the agent's thread for the scripted AG2 run's failing model call, which has no chain,
    the first time its exception left a span, 5-7 µs the next times (BENCHMARKS.md, "Python").
    Syntax errors (which show the offending line) and exceptions with notes are left to it."""
    kind = type(error)
    if issubclass(kind, SyntaxError) or getattr(error, "__notes__", None) is not None:
        return traceback.format_exception_only(kind, error)
    name = kind.__qualname__
    module = kind.__module__
    if module not in ("__main__", "builtins"):
        name = f"{module if isinstance(module, str) else '<unknown>'}.{name}"
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - as the standard library writes it
        message = "<exception str() failed>"
    return [f"{name}: {message}\n" if message else f"{name}\n"]


#: ``BaseExceptionGroup`` where Python has it (3.11 and later).
_EXCEPTION_GROUPS: tuple[type, ...] = tuple(
    group for group in (getattr(builtins, "BaseExceptionGroup", None),) if group is not None
)

#: As in the standard library: the same frame more often in a row than this (recursion) is
#: counted, not printed again.
_REPEATS_SHOWN = 3

#: The frames formatted for each exception in one hand-over of span records
#: (``src/handover.rs``), by ``id``: the exception itself (kept, so that its ``id`` is not reused
#: meanwhile), the first entry of its traceback when recorded, and that traceback's frames
#: (``(file, line, function)`` and their text). As an exception leaves nested spans, Python
#: puts the frames it leaves in front of its traceback; the rest is the traceback formatted for
#: the span inside. Emptied after each hand-over that wrote stack traces, so that no frame is
#: kept alive for longer, and when it holds :data:`_FORMATTED_KEPT` exceptions.
_FORMATTED: dict[int, tuple[BaseException, Any, list[tuple[tuple[str, int, str], str]]]] = {}


#: How many exceptions' frames :data:`_FORMATTED` holds at most.
_FORMATTED_KEPT = 8

#: Each frame's text (``(file, line, function)`` and its lines) by code object (its ``id``:
#: hashing a code object hashes its bytecode and constants) and line, the code object kept
#: beside it: an agent fails along the same paths again and again. Like ``linecache``, it does
#: not notice a source file changed on disk. Emptied when it holds :data:`_FRAME_TEXTS_KEPT`
#: frames.
_FRAME_TEXTS: dict[tuple[int, int], tuple[Any, tuple[tuple[str, int, str], str]]] = {}

#: How many frames :data:`_FRAME_TEXTS` holds at most.
_FRAME_TEXTS_KEPT = 2048


def _frames(error: BaseException, head: Any) -> list[str]:
    """The ``Traceback (most recent call last):`` block of ``error``'s traceback from ``head``."""
    lines = ["Traceback (most recent call last):\n"]
    last, count = None, 0
    for where, text in _frame_texts(error, head):
        if where != last:
            lines += _repeated(count)
            last, count = where, 0
        count += 1
        if count <= _REPEATS_SHOWN:
            lines.append(text)
    return lines + _repeated(count)


def _frame_texts(error: BaseException, head: Any) -> list[tuple[tuple[str, int, str], str]]:
    """Each frame of ``error``'s traceback from ``head``, outermost first, as ``(file, line,
    function)`` and its lines of text; the frames formatted for the same exception before are
    reused."""
    known = _FORMATTED.get(id(error))
    stop, reused = (known[1], known[2]) if known is not None and known[0] is error else (None, [])
    texts: list[tuple[tuple[str, int, str], str]] = []
    tb = head
    while tb is not None:
        if tb is stop:
            texts += reused
            break
        frame, line_number = tb.tb_frame, tb.tb_lineno
        code = frame.f_code
        known = _FRAME_TEXTS.get((id(code), line_number))
        if known is None or known[0] is not code:
            source = linecache.getline(code.co_filename, line_number, frame.f_globals).strip()
            text = f'  File "{code.co_filename}", line {line_number}, in {code.co_name}\n'
            known = (code, ((code.co_filename, line_number, code.co_name), f"{text}    {source}\n" if source else text))
            if len(_FRAME_TEXTS) >= _FRAME_TEXTS_KEPT:
                _FRAME_TEXTS.clear()
            _FRAME_TEXTS[(id(code), line_number)] = known
        texts.append(known[1])
        tb = tb.tb_next
    if len(_FORMATTED) >= _FORMATTED_KEPT:
        _FORMATTED.clear()
    _FORMATTED[id(error)] = (error, head, texts)
    return texts


def _repeated(count: int) -> list[str]:
    """The standard library's line for a frame seen ``count`` times in a row, if it needs one."""
    more = count - _REPEATS_SHOWN
    return [f"  [Previous line repeated {more} more time{'s' if more > 1 else ''}]\n"] if more > 0 else []


class Span(SpanCore):
    """One span: a context manager (``with`` or ``async with``) that starts on entry and ends on
    exit. An exception leaving the block is recorded as the span's error (its class name as
    ``error.type``) and propagates unchanged.

    Fields use the JSON form of ``docs/events.md`` (``agent``, ``request``, ``usage``, ``tool``,
    ...): given at creation they are reported at start, :meth:`set` keeps them for the end,
    :meth:`update` reports them at once.

    ``start``, ``set``, ``end`` and the ``with`` block run in native code
    (``agentrace._native.SpanCore``, configured by this module); this class adds what spans
    do rarely.
    """

    __slots__ = ()

    @property
    def operation(self) -> str:
        """The operation this span stands for (``chat``, ``invoke_agent``...)."""
        return self._operation

    @property
    def handle(self) -> SpanHandle | None:
        """Trace id, span id and ``traceparent`` once started (``None`` if the start was refused)."""
        return self._handle

    @property
    def traceparent(self) -> str | None:
        """The W3C ``traceparent`` that makes this span the parent of work in another process."""
        handle = self._handle
        return handle.traceparent if handle is not None else None

    def update(self, **fields: Any) -> None:
        """Reports fields now, for a span that stays open long (a conversation's id, say)."""
        handle = self._handle
        if handle is None:
            return
        try:
            self._native.update(handle, fields)
        except Exception as error:  # noqa: BLE001 - reported, never raised
            _count(self._native, "update", error)

    def event(self, name: str, **attributes: Any) -> None:
        """Records a point in time inside the span (a handoff request, the first stream chunk)."""
        handle = self._handle
        if handle is None:
            return
        try:
            self._native.event(handle, name, attributes or None)
        except Exception as error:  # noqa: BLE001 - reported, never raised
            _count(self._native, "event", error)

    def record_exception(self, error: BaseException, error_type: str | None = None) -> None:
        """Marks the span as failed: ``error.type`` is the exception's class unless given. The
        exception is also recorded as the standard ``exception`` event with its stack trace,
        which the mappers keep on the span and copy to the
        ``gen_ai.client.operation.exception`` log event of a failed model call."""
        self.set(error={"type": error_type or type(error).__qualname__, "message": str(error)})
        handle = self._handle
        if handle is None:
            return
        try:
            self._native.exception(handle, error, error.__traceback__)
        except Exception as failure:  # noqa: BLE001 - reported, never raised
            _count(self._native, "exception", failure)

    def evaluation(
        self,
        name: str,
        *,
        score: float | None = None,
        label: str | None = None,
        explanation: str | None = None,
        error_type: str | None = None,
    ) -> None:
        """Reports an evaluation of this span's output (a judge model's score, a check's
        verdict) while the span is open. The mappers emit it as the GenAI
        ``gen_ai.evaluation.result`` event on the logs signal, parented to this span."""
        attributes: dict[str, Any] = {"gen_ai.evaluation.name": name}
        for key, value in (("score.value", score), ("score.label", label),
                           ("explanation", explanation)):
            if value is not None:
                attributes[f"gen_ai.evaluation.{key}"] = value
        if error_type is not None:
            attributes["error.type"] = error_type
        self.event("gen_ai.evaluation.result", **attributes)

    async def __aenter__(self) -> Span:
        return self.start()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


def _exception_attributes(error: BaseException, traceback_head: Any) -> dict[str, Any]:
    """The standard ``exception`` event's attributes for ``error``, recorded on a span when its
    traceback was ``traceback_head``: written when the span records are handed over
    (``src/handover.rs``), off the agent's thread."""
    return {
        "exception.type": type(error).__qualname__,
        "exception.message": str(error),
        "exception.stacktrace": stack_trace(error, traceback_head),
    }


def _start_other(span: Span, parent: Any, refused: BaseException | None) -> SpanHandle | None:
    """Starts ``span`` where its native start does not: under a parent other than a started
    span (none: a new trace or the active OpenTelemetry span; a ``SpanHandle``; a
    ``traceparent``), or after the host refused its start (``refused``). A refused span of a
    known operation is kept in the tree without what was refused: its fields, or a parent that
    is not one (then the default parent applies)."""
    native = span._native
    operation = span._operation
    if refused is None:
        try:
            return _start_under(native, operation, parent, span._start or None)
        except Exception as error:  # noqa: BLE001 - reported, never raised
            refused = error
    _count(native, "start", refused)
    if operation not in _KNOWN_OPERATIONS:
        return None
    fallback = parent if isinstance(parent, (Span, SpanHandle)) else _current.get()
    try:
        return _start_under(native, operation, fallback, None)
    except Exception as retry:  # noqa: BLE001 - reported, never raised
        _count(native, "start", retry)
        return None


def _refused(what: str, error: BaseException) -> None:
    logger.warning("agentrace refused a %s: %s", what, error)


def _start_under(native: NativeTracer, operation: str, parent: Any, fields: dict[str, Any] | None) -> SpanHandle:
    """Starts a span under any kind of parent: a span, a handle, a ``traceparent``, or none
    (then the active OpenTelemetry span, if any)."""
    if isinstance(parent, Span):
        if parent._handle is not None:
            return native.start(operation, parent._handle, fields)
        parent = None
    elif isinstance(parent, SpanHandle):
        return native.start(operation, parent, fields)
    elif isinstance(parent, str):
        return native.start(operation, SpanHandle.from_traceparent(parent), fields)
    elif parent is not None:
        raise TypeError(f"parent must be a Span, SpanHandle or traceparent, not {type(parent).__name__}")
    outer = _otel_parent()
    if outer is not None:
        return native.start_under(operation, outer[0], outer[1], fields)
    return native.start(operation, None, fields)


def _count(native: NativeTracer, what: str, error: BaseException) -> None:
    """Logs a refused call; counts it unless the host did (then it raised ``Refused``)."""
    if not isinstance(error, Refused):
        native.reject(f"{what}: {error}")
    _refused(what, error)


def _join_otel(*, eagerly: bool) -> None:
    """Chooses how spans make themselves OpenTelemetry's current span (with the OpenTelemetry
    API installed): through the wrapped runtime (:func:`_join_lazily`; the default, where the
    runtime is the standard one) or by setting the context at each start and end
    (:func:`_otel_enter`). The tests try both."""
    global _JOIN_EAGERLY
    _native.join_otel("eagerly" if eagerly else "lazily")
    _JOIN_EAGERLY = eagerly


# Installed once ``Span`` exists: another thread may read OpenTelemetry's context meanwhile.
if _OTEL_RUNTIME is not None:
    _join_lazily(_OTEL_RUNTIME)
_native.configure_spans(
    current=_current,
    start_other=_start_other,
    refused=_refused,
    exception_attributes=_exception_attributes,
    formatted=_FORMATTED,
    otel_enter=_otel_enter if _otel_trace is not None else None,
    otel_exit=_otel_exit if _otel_trace is not None else None,
    otel_context=_OTEL_RUNTIME[0] if _OTEL_RUNTIME is not None else None,
    otel_span_key=_OTEL_RUNTIME[2] if _OTEL_RUNTIME is not None else None,
)
_JOIN_EAGERLY = _OTEL_RUNTIME is None and _otel_trace is not None


class Tracer:
    """Reports agent spans to the agentrace host, which maps them to GenAI semconv v1.41 spans in
    its wasm mapper, runs the policy chain, and exports OTLP.

    Without arguments the standard variables decide: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and the
    ``..._PROTOCOL``, ``..._HEADERS``, ``..._TIMEOUT`` variables), ``OTEL_TRACES_EXPORTER``,
    ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES`` and
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.

    Args:
        service_name: ``service.name`` (else ``OTEL_SERVICE_NAME``).
        capture_content: record messages, tool arguments and results, human input, code output.
        compat: ``"ag2"`` for AG2's own span names and ``ag2.*`` attributes.
        policies: the policy chain: built-in names (``"redact"``, ``"drop-content"``,
            ``"truncate"``, ``"sample"``, ``"cost"``, ``"propagate"``), ``.wasm`` paths, or
            ``(name_or_path, {key: value})`` pairs, e.g. ``("sample", {"ratio": "0.1"})``.
        mapper: a shipped mapper by name (``"genai"``, the default: GenAI semconv v1.41;
            ``"openinference"``: Arize's OpenInference, for Phoenix) or a mapper component file.
        output: write OTLP/JSON lines to this file (``"-"``: standard output) instead of OTLP.
        tracer_provider: the application's OpenTelemetry SDK ``TracerProvider``; by default the
            global one when it is an SDK provider. The spans then go out through its processors
            and exporters, with its resource and sampler (``agentrace._provider`` says what
            applies); without one (or with ``output``), the host exports by itself.
        queue_capacity, max_batch, flush_interval_ms: the host's queue and batching.
        workers: threads the host's pipeline is sharded over by trace id (default 1).

    Configuration errors raise ``RuntimeError`` here; nothing raises later.
    """

    def __init__(
        self,
        *,
        service_name: str | None = None,
        capture_content: bool | None = None,
        compat: str | None = None,
        policies: list[Any] | None = None,
        mapper: str | None = None,
        output: str | None = None,
        tracer_provider: Any = None,
        queue_capacity: int | None = None,
        max_batch: int | None = None,
        flush_interval_ms: int | None = None,
        workers: int | None = None,
    ) -> None:
        provider = None if output is not None else _provider.sdk_provider(tracer_provider)
        #: The application's provider the spans go out through, if any.
        self.tracer_provider: Any = provider
        self._native = NativeTracer(
            service_name=service_name,
            capture_content=capture_content,
            compat=compat,
            policies=policies,
            mapper=mapper,
            output=output,
            forward=_provider.forwarder(provider) if provider is not None else None,
            queue_capacity=queue_capacity,
            max_batch=max_batch,
            flush_interval_ms=flush_interval_ms,
            workers=workers,
        )
        if provider is not None:
            # atexit runs last-registered first: registered after the provider's own exit hook,
            # this flushes agentrace's spans into the provider before the provider shuts down.
            atexit.register(_shutdown_at_exit, weakref.ref(self))
        #: Whether content is recorded; integrations skip building messages when it is not.
        self.capture_content: bool = self._native.capture_content
        #: The mapper's naming: ``"semconv"`` or ``"ag2"``.
        self.compat: str = compat or "semconv"
        _live.add(self)
        _start_hand_over_thread()

    def span(self, operation: str, /, *, parent: Any = None, **fields: Any) -> Span:
        """A span of ``operation`` (one of :data:`OPERATIONS`) with fields known at start.

        ``parent``: a :class:`Span`, a ``SpanHandle`` or a ``traceparent`` string. By default the
        current agentrace span, else the active OpenTelemetry span, else a new trace.
        """
        return Span(self, operation, parent, fields)

    def flush(self, timeout: float = 5.0) -> bool:
        """Maps and exports every span ended so far; waits up to ``timeout`` seconds and says
        whether that was enough."""
        return self._native.flush(timeout)

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Ends open spans (as incomplete), exports everything and stops; runs at exit too.
        ``False`` when ``timeout`` ran out first; what was left is counted as dropped."""
        finished = self._native.shutdown(timeout)
        if not finished:
            logger.warning("agentrace: shutdown did not finish within %s s", timeout)
        return finished

    def map_records(self, records: list[Any], timeout: float = 5.0) -> dict[str, Any]:
        """A dry run of the live mapper on agent-span records (the conformance vectors' JSON
        form): the mapped batch, with nothing exported."""
        return json.loads(self._native.map_records(json.dumps(records), timeout))

    def stats(self) -> dict[str, Any]:
        """The host's counters (spans started, exported, dropped by reason...) and recent errors."""
        return self._native.stats()


def _operation_method(operation: str) -> Any:
    def method(self: Tracer, /, *, parent: Any = None, **fields: Any) -> Span:
        return Span(self, operation, parent, fields)

    method.__name__ = operation
    method.__doc__ = f"A ``{operation}`` span; see :meth:`Tracer.span`."
    return method


# One method per operation: tracer.chat(...), tracer.invoke_agent(...), tracer.execute_tool(...).
for _operation in OPERATIONS:
    setattr(Tracer, _operation, _operation_method(_operation))

_live: weakref.WeakSet[Tracer] = weakref.WeakSet()
_default: Tracer | None = None
#: The tracers of :func:`get_tracer` for explicit providers, by the provider's id.
_by_provider: dict[int, Tracer] = {}


def get_tracer(tracer_provider: Any = None) -> Tracer:
    """The process-wide tracer the integrations use, built from the environment on first use;
    with ``tracer_provider``, the one tracer that goes out through that provider."""
    global _default
    if tracer_provider is not None:
        tracer = _by_provider.get(id(tracer_provider))
        if tracer is None or tracer.tracer_provider is not tracer_provider:
            tracer = _by_provider[id(tracer_provider)] = Tracer(tracer_provider=tracer_provider)
        return tracer
    if _default is None:
        _default = Tracer()
    return _default


def set_tracer(tracer: Tracer) -> None:
    """Makes ``tracer`` the one :func:`get_tracer` returns."""
    global _default
    _default = tracer


#: The hand-over thread's period, and how long a span record may wait in the native module
#: before the thread hands it to the host (seconds). Spans' starts, updates, events and ends
#: reach the host in batches (``src/handover.rs``), mostly from this thread, so that reading
#: their fields is not done on the agent's thread; also when 1024 wait, and before any other
#: call to the host. A record waits about a fifth of a second at most.
_HAND_OVER_EVERY = 0.1
_HAND_OVER_AFTER = 0.1
_hand_over_thread: threading.Thread | None = None
_hand_over_lock = threading.Lock()


def _start_hand_over_thread() -> None:
    global _hand_over_thread
    with _hand_over_lock:
        if _hand_over_thread is None:
            _hand_over_thread = threading.Thread(target=_hand_over_waiting, name="agentrace-hand-over", daemon=True)
            _hand_over_thread.start()


def _hand_over_waiting() -> None:
    """The hand-over thread: hands over the spans' starts and ends that waited too long."""
    while True:
        time.sleep(_HAND_OVER_EVERY)
        for tracer in list(_live):
            try:
                tracer._native.hand_over_stale(_HAND_OVER_AFTER)
            except Exception as error:  # noqa: BLE001 - the thread must outlive any failure
                logger.warning("agentrace: handing over waiting spans: %s", error)


def _shutdown_at_exit(tracer_ref: weakref.ref[Tracer]) -> None:
    tracer = tracer_ref()
    if tracer is not None:
        try:
            tracer.shutdown()
        except Exception as error:  # noqa: BLE001 - exit must not fail because of tracing
            logger.warning("agentrace: shutdown at exit: %s", error)


@atexit.register
def _shutdown_all() -> None:
    for tracer in list(_live):
        try:
            tracer.shutdown()
        except Exception as error:  # noqa: BLE001 - exit must not fail because of tracing
            logger.warning("agentrace: shutdown at exit: %s", error)
