"""OTLP/JSON lines, as the host writes them (``Tracer(output=...)``), read back into spans."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
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
    children: list[ExportedSpan] = field(default_factory=list)


def _value(any_value: dict[str, Any]) -> Any:
    (kind, value), = any_value.items()
    if kind == "intValue":
        return int(value)
    if kind == "arrayValue":
        return [_value(v) for v in value.get("values", [])]
    return value


def read_spans(path: Path) -> list[ExportedSpan]:
    """Every span in an OTLP/JSON lines file, in export order."""
    spans = []
    for line in Path(path).read_text().splitlines():
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
                        )
                    )
    return spans


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
