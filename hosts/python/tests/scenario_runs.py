"""Timing the scripted scenarios: each run whole, and apart the instrumenting done inside it
(wrapping fresh agents, making middleware), which is a cost per agent, not per span."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def hand_over_seconds(finish: Callable[..., Any]) -> float:
    """The seconds agentrace's tracer (``finish.tracer``) spent so far handing its span records
    to the host (``src/handover.rs``): the package's hand-over thread's work, or a flush's,
    not the agent's thread's. 0 for the other modes, and for builds that do not count it
    (``bench/compare`` runs older ones)."""
    tracer = getattr(finish, "tracer", None)
    return float(tracer.stats().get("hand_over_seconds", 0.0)) if tracer is not None else 0.0


class Runs:
    """The wall time of each run and the instrumenting time within it."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.instrument_seconds: list[float] = []
        self._instrumenting = 0.0

    def instrumenting(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function``, with its time counted as instrumenting."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._instrumenting += time.perf_counter() - began

        return timed

    def run(self, once: Callable[[], None]) -> None:
        """Times one run, after a full garbage collection (untimed), so that no mode pays for
        the garbage of the previous run's bookkeeping (reading back spans)."""
        gc.collect()
        self._instrumenting = 0.0
        began = time.perf_counter()
        once()
        self.seconds.append(time.perf_counter() - began)
        self.instrument_seconds.append(self._instrumenting)

    def write(self, out: Path, spans: list[dict[str, Any]]) -> None:
        """The report the bench script and the tests read."""
        out.write_text(json.dumps({
            "spans": spans, "seconds": self.seconds, "instrument_seconds": self.instrument_seconds,
            "span_count": len(spans),
        }))
