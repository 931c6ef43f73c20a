"""Shared helpers of the Python package's tests: reading what the host exported, and the repo.

The tests run against the installed wheel (tests/python_package.rs builds and installs it);
each tracer writes OTLP/JSON lines to a file of its own, read back after shutdown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from otlp_json import ExportedSpan, forest, read_spans
from span_trees import run

import agentrace

__all__ = ["REPO", "ExportedSpan", "Traced", "forest", "read_spans"]

#: The repository checkout (conformance vectors, examples).
REPO = Path(os.environ.get("AGENTRACE_REPO", Path(__file__).resolve().parents[3]))


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


@pytest.fixture(scope="module")
def builtin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The spans of the test module's ``SCENARIO`` traced by AG2's own tracing (once per module)."""
    return run(request.module.SCENARIO, "builtin", tmp_path_factory.mktemp("builtin"))


@pytest.fixture(scope="module")
def ours_ag2(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The spans of the test module's ``SCENARIO`` traced by agentrace with ``compat="ag2"``."""
    return run(request.module.SCENARIO, "agentrace-ag2", tmp_path_factory.mktemp("ag2"))
