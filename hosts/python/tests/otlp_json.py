"""OTLP/JSON lines, as the host writes them (``Tracer(output=...)``), read back into spans; and
one plain form (dicts) for spans of both agentrace and the OpenTelemetry SDK, so the scenarios
can compare AG2's built-in tracing with agentrace's."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any


@dataclass
class ExportedSpan:
    """One exported span, with its attributes as plain Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    status_code: int
    start_time: int
    attributes: dict[str, Any] = field(default_factory=dict)
    #: The span's events: (name, attributes).
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    children: list[ExportedSpan] = field(default_factory=list)


@dataclass
class ExportedLogRecord:
    """One exported log record (an event on the logs signal)."""

    event_name: str
    severity: int
    trace_id: str
    span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


def _value(any_value: dict[str, Any]) -> Any:
    (kind, value), = any_value.items()
    if kind == "intValue":
        return int(value)
    if kind == "arrayValue":
        return [_value(v) for v in value.get("values", [])]
    return value


def read_spans(path: Path) -> list[ExportedSpan]:
    """Every span in an OTLP/JSON lines file, in export order."""
    return [span for line in Path(path).read_text().splitlines() for span in _spans_of(line)]


def _spans_of(line: str) -> list[ExportedSpan]:
    """The spans of one export request (one line)."""
    spans = []
    request = json.loads(line)
    for resource in request.get("resourceSpans", []):
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                spans.append(
                    ExportedSpan(
                        name=span["name"],
                        trace_id=span["traceId"],
                        span_id=span["spanId"],
                        parent_id=span.get("parentSpanId", ""),
                        kind=span.get("kind", 0),
                        status_code=span.get("status", {}).get("code", 0),
                        start_time=int(span["startTimeUnixNano"]),
                        attributes={a["key"]: _value(a["value"]) for a in span.get("attributes", [])},
                        events=[
                            (e["name"], {a["key"]: _value(a["value"]) for a in e.get("attributes", [])})
                            for e in span.get("events", [])
                        ],
                    )
                )
    return spans


def read_log_records(path: Path) -> list[ExportedLogRecord]:
    """Every log record in an OTLP/JSON lines file (its `resourceLogs` lines), in export order."""
    records = []
    for line in Path(path).read_text().splitlines():
        for resource in json.loads(line).get("resourceLogs", []):
            for scope in resource["scopeLogs"]:
                for record in scope["logRecords"]:
                    records.append(
                        ExportedLogRecord(
                            event_name=record.get("eventName", ""),
                            severity=record.get("severityNumber", 0),
                            trace_id=record.get("traceId", ""),
                            span_id=record.get("spanId", ""),
                            attributes={a["key"]: _value(a["value"]) for a in record.get("attributes", [])},
                        )
                    )
    return records


def forest(spans: list[ExportedSpan]) -> list[ExportedSpan]:
    """The roots, with children linked and ordered as exported."""
    by_id = {s.span_id: s for s in spans}
    roots = []
    for span in spans:
        parent = by_id.get(span.parent_id)
        if parent is None:
            roots.append(span)
        else:
            parent.children.append(span)
    return roots


_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


class ExportReader:
    """Reads the spans a tracer appended to its file since the last read. The file stays open
    in the host, so it is never truncated under it; each read starts where the last ended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_spans(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as file:
            file.seek(self.offset)
            text = file.read()
        complete = text[: text.rfind(b"\n") + 1]  # a line still being written waits
        self.offset += len(complete)
        return [_plain(span) for line in complete.decode().splitlines() for span in _spans_of(line)]


def _plain(s: ExportedSpan) -> dict[str, Any]:
    """An exported span in the plain form."""
    return {"name": s.name, "trace_id": s.trace_id, "span_id": s.span_id, "parent_id": s.parent_id,
            "kind": _KINDS.get(s.kind, "UNSPECIFIED"), "status": "ERROR" if s.status_code == 2 else "UNSET",
            "start_time": s.start_time, "attributes": s.attributes}


def sdk_dict(span: Any) -> dict[str, Any]:
    """An OpenTelemetry SDK ``ReadableSpan`` in the plain form."""
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else "",
        "kind": span.kind.name,
        "status": span.status.status_code.name,
        "start_time": span.start_time,
        "attributes": {key: (list(value) if isinstance(value, tuple) else value)
                       for key, value in (span.attributes or {}).items()},
    }


def sdk_recorder(otlp: bool = False) -> tuple[Any, Callable[[], list[dict[str, Any]]]]:
    """An OpenTelemetry SDK provider set up as AG2's documentation does (batch processor), into
    memory; and a function returning, in the plain form, the spans ended since its last call.
    With ``otlp``, the spans also go out through the standard OTLP/HTTP exporter, configured by
    the ``OTEL_EXPORTER_OTLP_*`` variables (the package must be installed)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))

    def finished() -> list[dict[str, Any]]:
        provider.force_flush()
        spans = [sdk_dict(span) for span in exporter.get_finished_spans()]
        exporter.clear()
        return spans

    return provider, finished
