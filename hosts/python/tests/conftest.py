"""Shared helpers of the Python package's tests: reading what the host exported, and the repo.

The tests run against the installed wheel (tests/python_package.rs builds and installs it);
each tracer writes OTLP/JSON lines to a file of its own, read back after shutdown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import agentrace

#: The repository checkout (conformance vectors, examples).
REPO = Path(os.environ.get("AGENTRACE_REPO", Path(__file__).resolve().parents[3]))


@dataclass
class ExportedSpan:
    """One exported span, with its attributes as plain Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    status_code: int
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


@dataclass
class Traced:
    """A tracer writing to its own file, and the spans it exported once closed."""

    tracer: agentrace.Tracer
    path: Path

    def spans(self) -> list[ExportedSpan]:
        self.tracer.shutdown()
        return read_spans(self.path)


@pytest.fixture
def traced(tmp_path: Path):
    """Builds tracers that write OTLP/JSON lines under the test's temporary folder."""
    made: list[Traced] = []

    def make(**options: Any) -> Traced:
        path = tmp_path / f"spans-{len(made)}.jsonl"
        result = Traced(agentrace.Tracer(output=str(path), flush_interval_ms=20, **options), path)
        made.append(result)
        return result

    yield make
    for result in made:
        result.tracer.shutdown()
